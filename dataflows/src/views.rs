//! The materialized issue views that the read side queries. The dataflow's sinks apply each
//! completed epoch's changes here; nothing else writes to it.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use crate::model::{Symbol, SymbolDefinition};
use crate::state::{Counter, GroupKey, GroupRow};

#[derive(Default, Debug)]
pub struct IssueViews {
    pub groups: HashMap<GroupKey, GroupRow>,
    pub ids: HashMap<GroupKey, u64>,
    pub by_id: BTreeMap<u64, GroupKey>,
    /// Occurrences per hour (hours since the epoch), ascending.
    pub hourly: HashMap<GroupKey, Vec<(u32, u32)>>,
    /// Distinct environments per group.
    pub environments: HashMap<GroupKey, Vec<Symbol>>,
    pub symbols: HashMap<Symbol, String>,
    pub counters: BTreeMap<Counter, i64>,
    /// Every epoch before this one is fully applied.
    pub complete_through: u64,
    /// The input is exhausted and every epoch applied.
    pub finished: bool,
}

impl IssueViews {
    pub fn apply_groups(&mut self, mut updates: Vec<((GroupKey, GroupRow), u64, isize)>) {
        // Retractions before insertions, so a key's old row leaves before its new row arrives.
        updates.sort_by_key(|(_, time, diff)| (*time, *diff));
        for ((key, row), _, diff) in updates {
            if diff < 0 {
                if self.groups.get(&key) == Some(&row) {
                    self.groups.remove(&key);
                }
            } else {
                self.groups.insert(key, row);
            }
        }
    }

    pub fn apply_ids(&mut self, updates: Vec<((GroupKey, u64), u64, isize)>) {
        for ((key, id), _, diff) in updates {
            if diff > 0 {
                self.ids.insert(key, id);
                self.by_id.insert(id, key);
            } else {
                self.ids.remove(&key);
                self.by_id.remove(&id);
            }
        }
    }

    pub fn apply_hourly(&mut self, updates: Vec<((GroupKey, u32), u64, isize)>) {
        for ((key, hour), _, diff) in updates {
            let hours = self.hourly.entry(key).or_default();
            let position = hours.partition_point(|(h, _)| *h < hour);
            match hours.get_mut(position) {
                Some((h, count)) if *h == hour => {
                    *count = (i64::from(*count) + diff as i64).max(0) as u32;
                    if *count == 0 {
                        hours.remove(position);
                    }
                }
                _ if diff > 0 => hours.insert(position, (hour, diff as u32)),
                _ => {}
            }
        }
    }

    pub fn apply_environments(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        for ((key, env), _, diff) in updates {
            let envs = self.environments.entry(key).or_default();
            if diff > 0 {
                if !envs.contains(&env) {
                    envs.push(env);
                }
            } else {
                envs.retain(|e| *e != env);
            }
        }
    }

    pub fn apply_symbols(&mut self, updates: Vec<(SymbolDefinition, u64, isize)>) {
        for ((symbol, name), _, _) in updates {
            self.symbols.entry(symbol).or_insert(name);
        }
    }

    pub fn apply_counters(&mut self, updates: Vec<(Counter, u64, isize)>) {
        for (counter, _, diff) in updates {
            *self.counters.entry(counter).or_default() += diff as i64;
        }
    }

    pub fn counter(&self, counter: Counter) -> i64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }

    pub fn symbol_name(&self, symbol: Symbol) -> Option<&str> {
        self.symbols.get(&symbol).map(String::as_str)
    }
}
