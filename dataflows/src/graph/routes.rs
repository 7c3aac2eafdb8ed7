//! Which worker holds each project's state machine.
//!
//! Records go to the worker of their project (a project's state machine decides its groups'
//! short ids in log order, so it lives in one place). Hashing project ids spreads projects
//! evenly, but not their records: on the benchmark inputs the two largest projects hold ~28%
//! of the records and a hash split them 45/55 between two workers, so the busier worker set
//! the wall clock. [`Routes::balanced`] places the projects of a sample of the input by their
//! volume instead (largest first, each on the least loaded worker) and hashes the rest.
//!
//! Where a project lives never changes what comes out: its state machine sees the same
//! records in the same order on any worker, and ids are assigned in log order on one worker
//! ([`super::ids`]). So the map only has to be the same on every worker for a whole run; it
//! may differ between runs (a restore places the checkpoint's projects by the new run's map).

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use crate::model::ProjectId;

/// Spreads project ids over workers (Fibonacci hashing; ids are often small and sequential).
pub fn project_route(project: ProjectId) -> u64 {
    project.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
}

/// The project → worker map of a run, shared by every worker.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    /// Explicitly placed projects, for `peers` workers; every other project is hashed.
    placed: Arc<HashMap<ProjectId, u32>>,
    peers: usize,
}

impl Routes {
    /// Every project by the hash of its id.
    pub fn hashed() -> Self {
        Routes::default()
    }

    /// Places the projects of `volumes` (records per project in a sample of the input) on
    /// `peers` workers, largest first, each on the worker with the fewest sampled records so
    /// far (the lowest index on ties; ties between projects by id), so the map depends only
    /// on the sample. Projects outside the sample are hashed: each is small, or it would most
    /// likely have been sampled.
    pub fn balanced(volumes: impl IntoIterator<Item = (ProjectId, u64)>, peers: usize) -> Self {
        let mut by_volume: Vec<(ProjectId, u64)> = volumes.into_iter().collect();
        if peers < 2 || by_volume.is_empty() {
            return Routes::hashed();
        }
        by_volume.sort_unstable_by_key(|&(project, n)| (std::cmp::Reverse(n), project));
        let mut load = vec![0u64; peers];
        let mut placed = HashMap::default();
        placed.reserve(by_volume.len());
        for (project, n) in by_volume {
            let (worker, _) = load
                .iter()
                .enumerate()
                .min_by_key(|&(worker, load)| (*load, worker))
                .expect("at least two workers");
            load[worker] += n;
            placed.insert(project, worker as u32);
        }
        Routes {
            placed: Arc::new(placed),
            peers,
        }
    }

    /// The worker (of `peers`) whose ingest operator holds `project`'s state.
    #[inline]
    pub fn worker_of(&self, project: ProjectId, peers: usize) -> usize {
        if peers == self.peers {
            if let Some(worker) = self.placed.get(&project) {
                return *worker as usize;
            }
        }
        (project_route(project) % peers as u64) as usize
    }

    /// How many projects are placed explicitly (0: every project is hashed).
    pub fn placed(&self) -> usize {
        self.placed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volumes(pairs: &[(ProjectId, u64)]) -> Vec<(ProjectId, u64)> {
        pairs.to_vec()
    }

    #[test]
    fn places_the_largest_projects_first_on_the_least_loaded_worker() {
        // 40, 30, 20, 10, 10: 40 → 0; 30 → 1; 20 → 1 (30 < 40); 10 → 0 (40 < 50); 10 (id 5) → 0
        // (50 = 50, lower index).
        let routes = Routes::balanced(volumes(&[(5, 10), (1, 40), (2, 30), (3, 20), (4, 10)]), 2);
        let placed: Vec<usize> = (1..=5).map(|p| routes.worker_of(p, 2)).collect();
        assert_eq!(placed, vec![0, 1, 1, 0, 0]);
        let mut load = [0u64; 2];
        for (project, n) in [(1, 40), (2, 30), (3, 20), (4, 10), (5, 10)] {
            load[routes.worker_of(project, 2)] += n;
        }
        assert_eq!(load, [60, 50]);
    }

    #[test]
    fn projects_outside_the_sample_and_other_worker_counts_are_hashed() {
        let routes = Routes::balanced(volumes(&[(1, 40), (2, 30)]), 2);
        for project in [3u64, 17, 1_000_003] {
            assert_eq!(routes.worker_of(project, 2), (project_route(project) % 2) as usize);
        }
        // A map made for 2 workers says nothing about 3.
        for project in [1u64, 2] {
            assert_eq!(routes.worker_of(project, 3), (project_route(project) % 3) as usize);
        }
        assert_eq!(Routes::balanced(volumes(&[(1, 40)]), 1).placed(), 0);
        assert_eq!(Routes::hashed().worker_of(7, 4), (project_route(7) % 4) as usize);
    }

    #[test]
    fn the_map_depends_only_on_the_volumes() {
        let pairs: Vec<(ProjectId, u64)> = (1..200).map(|p| (p * 7919 % 1009, 1 + p % 13)).collect();
        let forward = Routes::balanced(volumes(&pairs), 4);
        let reversed: Vec<(ProjectId, u64)> = pairs.iter().rev().copied().collect();
        let backward = Routes::balanced(volumes(&reversed), 4);
        for (project, _) in &pairs {
            assert_eq!(forward.worker_of(*project, 4), backward.worker_of(*project, 4));
        }
    }
}
