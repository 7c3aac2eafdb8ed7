//! Occurrent's domain model and dataflow graph. This crate knows no transport: inputs arrive
//! as blocks of raw lines plus a decoder, outputs leave as view changes.

pub mod facets;
pub mod graph;
pub mod grouping;
pub mod hour_series;
pub mod model;
pub mod state;
pub mod views;
pub mod window;

#[cfg(test)]
mod test_rng;
