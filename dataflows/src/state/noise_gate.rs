//! The noise gate (semantics.md §4.3 step 3): the `ignore_limit`-th occurrence of a candidate
//! hash within `expiry` of event time may create a group.

use crate::model::Micros;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoiseGate {
    pub count: u32,
    pub last: Micros,
}

impl NoiseGate {
    /// Returns true when this occurrence passes the gate (and resets the count).
    pub fn admit(&mut self, time: Micros, ignore_limit: u32, expiry: Micros) -> bool {
        if self.count > 0 && time - self.last >= expiry {
            self.count = 0;
        }
        self.count += 1;
        if self.count >= ignore_limit {
            self.count = 0;
            true
        } else {
            self.last = self.last.max(time);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_within_expiry_passes() {
        let mut gate = NoiseGate::default();
        assert!(!gate.admit(10, 3, 100));
        assert!(!gate.admit(20, 3, 100));
        assert!(gate.admit(30, 3, 100));
        assert!(!gate.admit(40, 3, 100));
        // Expired: the count restarts.
        assert!(!gate.admit(200, 3, 100));
        assert!(!gate.admit(210, 3, 100));
        assert!(gate.admit(220, 3, 100));
        assert!(NoiseGate::default().admit(0, 1, 100));
    }
}
