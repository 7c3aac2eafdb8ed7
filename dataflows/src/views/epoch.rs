//! The per-epoch scratch of `IssueViews::apply_activity`: every update's group is looked up
//! once (the `GroupKey → index` map), after which the epoch's work per group is found by its
//! index in a dense vector rather than in hash maps keyed by `GroupKey`. The buffers are kept
//! between epochs, so an epoch allocates nothing once they have grown.

use crate::facets::FacetIdHourDiff;
use crate::model::Symbol;

use super::activity::EnvironmentHourDiff;

/// One group with activity in the epoch.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Touched {
    pub index: u32,
    /// The epoch's occurrences of the group (its `Hour` diffs).
    pub total: isize,
    /// It has `Hour` or `EnvironmentHour` updates: the groups whose environment split is
    /// decided (`split_environments`).
    pub hours: bool,
    /// `(start, length)` of its per-environment hours in `env_hours`, of its facets in
    /// `facets` (lengths counted first, starts set by `group`).
    env: (u32, u32),
    facet: (u32, u32),
}

#[derive(Debug, Default)]
pub(super) struct EpochScratch {
    /// By group index: 1 + its position in `touched` in this epoch, 0 if untouched. Only the
    /// touched entries are reset after an epoch.
    slot_of: Vec<u32>,
    pub touched: Vec<Touched>,
    /// `(group index, hour, diff)`, `(group index, environment, diff)` and `(group index,
    /// release, diff)` in arrival order.
    pub hours: Vec<(u32, u32, isize)>,
    pub environments: Vec<(u32, Symbol, isize)>,
    pub releases: Vec<(u32, Symbol, isize)>,
    /// As they arrive, with (beside) each one's group's position in `touched`.
    env_arrivals: Vec<EnvironmentHourDiff>,
    env_slots: Vec<u32>,
    facet_arrivals: Vec<FacetIdHourDiff>,
    facet_slots: Vec<u32>,
    /// The same, each group's together in arrival order (after `group`).
    env_hours: Vec<EnvironmentHourDiff>,
    facets: Vec<FacetIdHourDiff>,
    /// The position in `touched` of the last update's group (+1; 0: none yet), and whether
    /// some group's updates did not all come together. The ingest operator sends each
    /// group's updates together, and then the arrivals are already in group order: `group`
    /// takes them as they are.
    last_slot: u32,
    scattered: bool,
}

impl EpochScratch {
    fn slot(&mut self, index: u32) -> usize {
        let i = index as usize;
        if self.slot_of.len() <= i {
            // Doubled rather than grown to `i + 1`: new groups arrive one index after the
            // other, and a resize per new group cost ~40 instructions.
            self.slot_of.resize((i + 1).max(self.slot_of.len() * 2), 0);
        }
        match self.slot_of[i] {
            0 => {
                self.touched.push(Touched {
                    index,
                    ..Touched::default()
                });
                self.slot_of[i] = self.touched.len() as u32;
                self.last_slot = self.touched.len() as u32;
                self.touched.len() - 1
            }
            slot => {
                if slot != self.last_slot {
                    self.scattered = true;
                    self.last_slot = slot;
                }
                slot as usize - 1
            }
        }
    }

    pub fn hour(&mut self, index: u32, hour: u32, diff: isize) {
        let slot = self.slot(index);
        self.touched[slot].total += diff;
        self.touched[slot].hours = true;
        self.hours.push((index, hour, diff));
    }

    pub fn environment_hour(&mut self, index: u32, update: EnvironmentHourDiff) {
        let slot = self.slot(index);
        self.touched[slot].hours = true;
        self.touched[slot].env.1 += 1;
        self.env_arrivals.push(update);
        self.env_slots.push(slot as u32);
    }

    /// An `Activity::Occurrences` update within the retention: its hour, environment hour
    /// and facet, as `hour`, `environment_hour` and `facet` would add them (one slot lookup).
    /// `id` is the facet's interned id (None: the views keep no facet hours), `environment`
    /// its environment.
    pub fn occurrences(&mut self, index: u32, environment: Option<Symbol>, id: Option<u64>, hour: u32, diff: isize) {
        let slot = self.slot(index);
        let touched = &mut self.touched[slot];
        touched.total += diff;
        touched.hours = true;
        self.hours.push((index, hour, diff));
        if let Some(env) = environment {
            touched.env.1 += 1;
            self.env_arrivals.push((env, hour, diff));
            self.env_slots.push(slot as u32);
        }
        if let Some(id) = id {
            touched.facet.1 += 1;
            self.facet_arrivals.push((id, hour, diff));
            self.facet_slots.push(slot as u32);
        }
    }

    pub fn facet(&mut self, index: u32, update: FacetIdHourDiff) {
        let slot = self.slot(index);
        self.touched[slot].facet.1 += 1;
        self.facet_arrivals.push(update);
        self.facet_slots.push(slot as u32);
    }

    /// Puts each group's per-environment hours and facets together (a counting sort by
    /// group, keeping the arrival order within a group).
    pub fn group(&mut self) {
        let (mut env_at, mut facet_at) = (0, 0);
        for t in &mut self.touched {
            // The starts serve as cursors below, and are reset from the lengths after.
            t.env.0 = env_at;
            t.facet.0 = facet_at;
            env_at += t.env.1;
            facet_at += t.facet.1;
        }
        if !self.scattered {
            // Already in group order (see `scattered`): the starts are right as they are.
            std::mem::swap(&mut self.env_arrivals, &mut self.env_hours);
            std::mem::swap(&mut self.facet_arrivals, &mut self.facets);
            return;
        }
        place(&self.env_arrivals, &self.env_slots, &mut self.env_hours, &mut self.touched, |t| {
            &mut t.env.0
        });
        place(&self.facet_arrivals, &self.facet_slots, &mut self.facets, &mut self.touched, |t| {
            &mut t.facet.0
        });
        for t in &mut self.touched {
            t.env.0 -= t.env.1;
            t.facet.0 -= t.facet.1;
        }
    }

    pub fn env_hours_of(&self, touched: &Touched) -> &[EnvironmentHourDiff] {
        &self.env_hours[touched.env.0 as usize..][..touched.env.1 as usize]
    }

    pub fn facets_of(&self, touched: &Touched) -> &[FacetIdHourDiff] {
        &self.facets[touched.facet.0 as usize..][..touched.facet.1 as usize]
    }

    /// Empties the buffers, keeping their memory.
    pub fn clear(&mut self) {
        for t in &self.touched {
            self.slot_of[t.index as usize] = 0;
        }
        self.touched.clear();
        self.hours.clear();
        self.environments.clear();
        self.releases.clear();
        self.env_arrivals.clear();
        self.env_slots.clear();
        self.facet_arrivals.clear();
        self.facet_slots.clear();
        self.env_hours.clear();
        self.facets.clear();
        self.last_slot = 0;
        self.scattered = false;
    }

    pub fn heap_bytes(&self) -> usize {
        self.slot_of.capacity() * 4
            + self.touched.capacity() * std::mem::size_of::<Touched>()
            + self.hours.capacity() * 16
            + (self.environments.capacity() + self.releases.capacity()) * std::mem::size_of::<(u32, Symbol, isize)>()
            + self.env_arrivals.capacity() * std::mem::size_of::<EnvironmentHourDiff>()
            + self.facet_arrivals.capacity() * std::mem::size_of::<FacetIdHourDiff>()
            + (self.env_slots.capacity() + self.facet_slots.capacity()) * 4
            + self.env_hours.capacity() * std::mem::size_of::<EnvironmentHourDiff>()
            + self.facets.capacity() * std::mem::size_of::<FacetIdHourDiff>()
    }
}

/// Writes `arrivals` (of groups `slots`) into `out` at each group's cursor, advancing it.
fn place<T: Copy>(arrivals: &[T], slots: &[u32], out: &mut Vec<T>, touched: &mut [Touched], cursor: fn(&mut Touched) -> &mut u32) {
    out.clear();
    let Some(&filler) = arrivals.first() else { return };
    // Every slot is overwritten: the cursors cover `0..arrivals.len()` exactly.
    out.resize(arrivals.len(), filler);
    for (&slot, &update) in slots.iter().zip(arrivals) {
        let at = cursor(&mut touched[slot as usize]);
        out[*at as usize] = update;
        *at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_groups_updates_come_together_in_arrival_order() {
        let mut scratch = EpochScratch::default();
        for round in 0..2 {
            scratch.environment_hour(7, (1, 10, 1));
            scratch.hour(3, 10, 2);
            scratch.environment_hour(3, (2, 10, 1));
            scratch.environment_hour(7, (1, 11, -1));
            scratch.environment_hour(3, (1, 12, 4));
            scratch.hour(3, 11, 1);
            scratch.group();
            let groups: Vec<(u32, isize, Vec<EnvironmentHourDiff>)> = scratch
                .touched
                .iter()
                .map(|t| (t.index, t.total, scratch.env_hours_of(t).to_vec()))
                .collect();
            assert_eq!(
                groups,
                vec![(7, 0, vec![(1, 10, 1), (1, 11, -1)]), (3, 3, vec![(2, 10, 1), (1, 12, 4)])],
                "round {round}"
            );
            assert!(scratch.touched.iter().all(|t| t.hours && scratch.facets_of(t).is_empty()));
            assert_eq!(scratch.hours, vec![(3, 10, 2), (3, 11, 1)]);
            // The next epoch starts empty.
            scratch.clear();
            assert!(scratch.touched.is_empty() && scratch.hours.is_empty());
        }
    }

    /// Arrivals grouped or scattered, with facets and hours-only updates between them: each
    /// group gets its own in arrival order, as a stable sort by first appearance gives them.
    #[test]
    fn grouped_and_scattered_arrivals_give_each_group_its_own() {
        let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15);
        let mut scratch = EpochScratch::default();
        for round in 0..200 {
            let grouped = round % 2 == 0;
            let mut arrivals: Vec<(u32, u8, u32)> = (0..next(40)).map(|i| (next(6) as u32, next(3) as u8, i as u32)).collect();
            if grouped {
                // Each group's together, groups in order of first appearance.
                let mut order: Vec<u32> = Vec::new();
                for a in &arrivals {
                    if !order.contains(&a.0) {
                        order.push(a.0);
                    }
                }
                arrivals.sort_by_key(|a| order.iter().position(|g| *g == a.0));
            }
            for &(group, kind, i) in &arrivals {
                match kind {
                    0 => scratch.hour(group, i, 1),
                    1 => scratch.environment_hour(group, (u64::from(i), i, 1)),
                    _ => scratch.occurrences(group, Some(u64::from(i)), Some(u64::from(i) + 100), i, 1),
                }
            }
            scratch.group();
            let mut order: Vec<u32> = Vec::new();
            for a in &arrivals {
                if !order.contains(&a.0) {
                    order.push(a.0);
                }
            }
            assert_eq!(scratch.touched.iter().map(|t| t.index).collect::<Vec<_>>(), order, "round {round}");
            for t in &scratch.touched {
                let mine = arrivals.iter().filter(|a| a.0 == t.index);
                let envs: Vec<EnvironmentHourDiff> = mine.clone().filter(|a| a.1 > 0).map(|a| (u64::from(a.2), a.2, 1)).collect();
                let facets: Vec<FacetIdHourDiff> = mine.filter(|a| a.1 == 2).map(|a| (u64::from(a.2) + 100, a.2, 1)).collect();
                assert_eq!(scratch.env_hours_of(t), &envs[..], "round {round} group {}", t.index);
                assert_eq!(scratch.facets_of(t), &facets[..], "round {round} group {}", t.index);
            }
            scratch.clear();
        }
    }
}
