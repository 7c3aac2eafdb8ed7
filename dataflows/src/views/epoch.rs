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
    /// As they arrive, with the group's position in `touched`.
    env_arrivals: Vec<(u32, EnvironmentHourDiff)>,
    facet_arrivals: Vec<(u32, FacetIdHourDiff)>,
    /// The same, each group's together in arrival order (after `group`).
    env_hours: Vec<EnvironmentHourDiff>,
    facets: Vec<FacetIdHourDiff>,
}

impl EpochScratch {
    fn slot(&mut self, index: u32) -> usize {
        let i = index as usize;
        if self.slot_of.len() <= i {
            self.slot_of.resize(i + 1, 0);
        }
        match self.slot_of[i] {
            0 => {
                self.touched.push(Touched {
                    index,
                    ..Touched::default()
                });
                self.slot_of[i] = self.touched.len() as u32;
                self.touched.len() - 1
            }
            slot => slot as usize - 1,
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
        self.env_arrivals.push((slot as u32, update));
    }

    /// An `Activity::Occurrences` update within the retention: its hour, environment hour
    /// and facet, as `hour`, `environment_hour` and `facet` would add them (one slot lookup).
    /// `id` is the facet's interned id, `environment` its environment.
    pub fn occurrences(&mut self, index: u32, environment: Option<Symbol>, id: u64, hour: u32, diff: isize) {
        let slot = self.slot(index);
        let touched = &mut self.touched[slot];
        touched.total += diff;
        touched.hours = true;
        touched.facet.1 += 1;
        self.hours.push((index, hour, diff));
        if let Some(env) = environment {
            touched.env.1 += 1;
            self.env_arrivals.push((slot as u32, (env, hour, diff)));
        }
        self.facet_arrivals.push((slot as u32, (id, hour, diff)));
    }

    pub fn facet(&mut self, index: u32, update: FacetIdHourDiff) {
        let slot = self.slot(index);
        self.touched[slot].facet.1 += 1;
        self.facet_arrivals.push((slot as u32, update));
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
        place(&self.env_arrivals, &mut self.env_hours, &mut self.touched, |t| &mut t.env.0);
        place(&self.facet_arrivals, &mut self.facets, &mut self.touched, |t| &mut t.facet.0);
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
        self.facet_arrivals.clear();
        self.env_hours.clear();
        self.facets.clear();
    }

    pub fn heap_bytes(&self) -> usize {
        self.slot_of.capacity() * 4
            + self.touched.capacity() * std::mem::size_of::<Touched>()
            + self.hours.capacity() * 16
            + (self.environments.capacity() + self.releases.capacity()) * std::mem::size_of::<(u32, Symbol, isize)>()
            + self.env_arrivals.capacity() * std::mem::size_of::<(u32, EnvironmentHourDiff)>()
            + self.facet_arrivals.capacity() * std::mem::size_of::<(u32, FacetIdHourDiff)>()
            + self.env_hours.capacity() * std::mem::size_of::<EnvironmentHourDiff>()
            + self.facets.capacity() * std::mem::size_of::<FacetIdHourDiff>()
    }
}

/// Writes `arrivals` into `out` at each group's cursor, advancing it.
fn place<T: Copy>(arrivals: &[(u32, T)], out: &mut Vec<T>, touched: &mut [Touched], cursor: fn(&mut Touched) -> &mut u32) {
    out.clear();
    let Some(&(_, filler)) = arrivals.first() else { return };
    // Every slot is overwritten: the cursors cover `0..arrivals.len()` exactly.
    out.resize(arrivals.len(), filler);
    for &(slot, update) in arrivals {
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
}
