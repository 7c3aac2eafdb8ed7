//! Per-group distinct users per hour ([`UserHours`]), for windowed `userCount`.

/// A group's `(hour, user)` entries: most groups have one, kept inline (16 bytes in all, a
/// third of a one-element `Vec` with its allocation).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) enum UserHours {
    /// No users (the group has none, or none left after retention).
    #[default]
    None,
    One([u32; 3]),
    /// Boxed so the enum stays 16 bytes (a bare `Vec` would make every entry 32).
    #[allow(clippy::box_collection)]
    Many(Box<Vec<[u32; 3]>>),
}

impl UserHours {
    /// Keeps the entries from hour `cut` on; false when none remain.
    pub(super) fn retain_from(&mut self, cut: u32) -> bool {
        match self {
            UserHours::None => false,
            UserHours::One(entry) => entry[0] >= cut,
            UserHours::Many(list) => {
                list.retain(|e| e[0] >= cut);
                !list.is_empty()
            }
        }
    }

    pub(super) fn as_slice(&self) -> &[[u32; 3]] {
        match self {
            UserHours::None => &[],
            UserHours::One(entry) => std::slice::from_ref(entry),
            UserHours::Many(list) => list,
        }
    }

    /// Adds (`diff > 0`) or removes an entry, keeping the order; false when none remain.
    pub(super) fn apply(&mut self, entry: [u32; 3], diff: isize) -> bool {
        if let UserHours::None = self {
            if diff > 0 {
                *self = UserHours::One(entry);
            }
            return diff > 0;
        }
        if let UserHours::One(only) = *self {
            if diff > 0 && only != entry {
                let mut list = vec![only, entry];
                list.sort_unstable();
                *self = UserHours::Many(Box::new(list));
            }
            return !(diff < 0 && only == entry);
        }
        let UserHours::Many(list) = self else { return true };
        match list.binary_search(&entry) {
            Err(position) if diff > 0 => list.insert(position, entry),
            Ok(position) if diff < 0 => {
                list.remove(position);
            }
            _ => {}
        }
        !list.is_empty()
    }
}
