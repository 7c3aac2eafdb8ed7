//! The tag set (`dataflows::model::tags`) of a tags object the fast path accepted, remembered
//! per thread by the object's text.
//!
//! A set's name and symbol are a function of its pairs, and the pairs a function of the
//! object's text: equal texts have equal sets. Distinct tags objects are few (a project's
//! routes, pages, devices), so a small direct-mapped table keyed by the text answers almost
//! every tagged line without collecting, sorting and serialising its pairs. Keys are compared
//! in full: a hit is always the text's own set, never another's that shares a slot.

use std::cell::RefCell;
use std::rc::Rc;

use dataflows::model::tags::tag_set_name;
use dataflows::model::{symbol_of, Symbol};

use super::fast::tag_pairs;

/// Entries of the table (a power of two).
const SLOTS: usize = 1024;
/// Longer texts are read every time (and not kept).
const MAX_KEY: usize = 1024;

/// A tag set: its symbol and name, or None when no pair is left (empty keys and values).
type Set = Option<(Symbol, Rc<str>)>;

struct Entry {
    key: Box<str>,
    set: Set,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

/// The symbol of the tag set of `raw` (a tags object's text, `WireTags::raw`), with `define`
/// told its name: exactly `tag_set_symbol` of the object's pairs.
pub(super) fn tag_set(raw: &str, define: &mut dyn FnMut(Symbol, &str)) -> Option<Symbol> {
    let (symbol, name) = if raw.len() > MAX_KEY { read(raw) } else { cached(raw) }?;
    define(symbol, &name);
    Some(symbol)
}

fn cached(raw: &str) -> Set {
    let slot = xxhash_rust::xxh3::xxh3_64(raw.as_bytes()) as usize & (SLOTS - 1);
    let found = TABLE.with(|table| {
        let table = table.try_borrow().ok()?;
        let entry = table.get(slot)?.as_ref()?;
        (*entry.key == *raw).then(|| entry.set.clone())
    });
    if let Some(set) = found {
        return set;
    }
    let set = read(raw);
    TABLE.with(|table| {
        if let Ok(mut table) = table.try_borrow_mut() {
            if table.is_empty() {
                table.resize_with(SLOTS, || None);
            }
            table[slot] = Some(Entry {
                key: raw.into(),
                set: set.clone(),
            });
        }
    });
    set
}

/// The set of `raw`, read from its pairs.
fn read(raw: &str) -> Set {
    let mut pairs = tag_pairs(raw)?;
    let name = tag_set_name(&mut pairs)?;
    Some((symbol_of(&name), name.into()))
}
