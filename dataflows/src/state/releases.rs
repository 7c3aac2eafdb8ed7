//! A project's releases in order, for release resolutions (`inRelease`, `inNextRelease`,
//! `inUpcomingRelease`, `inFutureRelease`; issue-platform.md §8.1 and docs/semantics.md §8).
//!
//! Sentry orders a project's releases by version when they follow semver and otherwise by
//! when they were created. Here each release gets an [`ReleaseKey`] the first time the project
//! sees it: its parsed version when the name parses as `[package@]version[+build]`, and its
//! first-seen position (the n-th distinct release of the project, in log order). Two releases
//! compare by version when both parse, else by first-seen position. The registry is one hash
//! lookup per occurrence with a release; the name is parsed once per project and release.

use std::cmp::Ordering;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::model::Symbol;

/// Where a release stands among its project's releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseKey {
    /// The n-th distinct release the project saw (0-based). For a threshold that is not a
    /// seen release (`inFutureRelease`), the position the next new release will get.
    pub seen: u32,
    pub version: Option<Box<Version>>,
}

impl ReleaseKey {
    /// Newer (`Greater`) or older: by version when both parse, else by first-seen position.
    /// Build metadata does not order versions (SemVer §10), so `1.0.0+1` equals `1.0.0+2`.
    pub fn order(&self, other: &ReleaseKey) -> Ordering {
        match (&self.version, &other.version) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => self.seen.cmp(&other.seen),
        }
    }
}

/// `major.minor.patch.revision-prerelease` (missing parts 0), ordered as SemVer §11 orders
/// versions: numerically part by part, a prerelease below its release, prerelease
/// identifiers numerically when numeric, else as text, numeric below text, fewer below more.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Version {
    parts: [u64; 4],
    /// Empty without a prerelease.
    prerelease: Box<str>,
}

impl Version {
    /// The version of a release name `[package@]version[+build]`: one to four dot-separated
    /// numbers, then an optional `-prerelease` of dot-separated non-empty `[0-9A-Za-z-]`
    /// identifiers. None when it does not parse (the release is then ordered by first seen).
    pub fn parse(name: &str) -> Option<Version> {
        let version = name.rsplit_once('@').map_or(name, |(_, v)| v);
        let version = version.split_once('+').map_or(version, |(v, _)| v);
        let (numbers, prerelease) = match version.split_once('-') {
            Some((numbers, pre)) => (numbers, pre),
            None => (version, ""),
        };
        let mut parts = [0u64; 4];
        for (count, part) in numbers.split('.').enumerate() {
            if count == 4 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            parts[count] = part.parse().ok()?;
        }
        if version.contains('-')
            && prerelease
                .split('.')
                .any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return None;
        }
        Some(Version {
            parts,
            prerelease: prerelease.into(),
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.parts
            .cmp(&other.parts)
            .then_with(|| match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prereleases(&self.prerelease, &other.prerelease),
            })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_prereleases(a: &str, b: &str) -> Ordering {
    let numeric = |id: &str| id.bytes().all(|b| b.is_ascii_digit()).then(|| id.parse::<u128>().ok()).flatten();
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        let order = match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match (numeric(x), numeric(y)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => x.cmp(y),
            },
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// A project's releases: hash → key, and the newest one (the "current" release that
/// `inNextRelease` resolves against).
#[derive(Default, Serialize, Deserialize)]
pub struct Releases {
    keys: HashMap<Symbol, ReleaseKey>,
    newest: Option<Symbol>,
    /// The newest release's name, which `inRelease: "latest"` resolves to and shows.
    newest_name: Box<str>,
}

impl Releases {
    /// Registers `release` (named `name`) the first time it is seen.
    pub fn see(&mut self, release: Symbol, name: &str) {
        if self.keys.contains_key(&release) {
            return;
        }
        let key = ReleaseKey {
            seen: self.keys.len() as u32,
            version: Version::parse(name).map(Box::new),
        };
        let newer = match self.newest.and_then(|n| self.keys.get(&n)) {
            None => true,
            Some(newest) => key.order(newest) == Ordering::Greater,
        };
        if newer {
            self.newest = Some(release);
            self.newest_name = name.into();
        }
        self.keys.insert(release, key);
    }

    /// Whether `release` has been seen.
    /// Releases held and their bytes (the table and the parsed versions).
    pub(super) fn footprint(&self) -> (usize, usize) {
        let versions: usize = self
            .keys
            .values()
            .filter_map(|k| k.version.as_ref())
            .map(|v| std::mem::size_of::<Version>() + v.prerelease.len())
            .sum();
        let table = super::footprint::table_bytes(self.keys.capacity(), std::mem::size_of::<(Symbol, ReleaseKey)>());
        (self.keys.len(), table + versions + self.newest_name.len())
    }

    pub fn has(&self, release: Symbol) -> bool {
        self.keys.contains_key(&release)
    }

    pub fn key(&self, release: Symbol) -> Option<&ReleaseKey> {
        self.keys.get(&release)
    }

    /// The newest release seen so far.
    pub fn newest(&self) -> Option<&ReleaseKey> {
        self.newest.and_then(|n| self.keys.get(&n))
    }

    /// The newest release's name, if any release was seen.
    pub fn newest_name(&self) -> Option<&str> {
        self.newest.map(|_| &*self.newest_name)
    }

    /// A key for a release not seen yet (`inFutureRelease`): its version, placed after every
    /// release seen so far.
    pub fn unseen(&self, name: &str) -> ReleaseKey {
        ReleaseKey {
            seen: self.keys.len() as u32,
            version: Version::parse(name).map(Box::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Version {
        Version::parse(name).unwrap_or_else(|| panic!("{name} parses"))
    }

    #[test]
    fn versions_parse_with_package_build_and_up_to_four_numbers() {
        assert_eq!(v("app@1.2.3+build.7"), v("1.2.3"));
        assert_eq!(v("@scope/app@2"), v("2.0.0.0"));
        assert_eq!(v("1.2.3.4").parts, [1, 2, 3, 4]);
        assert!(v("1.2.3-rc.1").prerelease.as_ref() == "rc.1");
        for bad in ["", "abc", "1.2.3.4.5", "1..2", "v1.2", "1.2-", "1.2-a..b", "a3f9c21", "1.2.x"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_order_as_semver_orders_them() {
        // SemVer §11's example, then numeric parts.
        let ascending = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(v(pair[0]).cmp(&v(pair[1])), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0+a").cmp(&v("1.0.0+b")), Ordering::Equal, "build metadata is ignored");
    }

    #[test]
    fn the_newest_release_is_the_highest_version_or_the_latest_seen() {
        let mut releases = Releases::default();
        assert_eq!(releases.newest_name(), None);
        releases.see(1, "app@1.2.0");
        releases.see(2, "app@1.10.0");
        releases.see(3, "app@1.3.0");
        releases.see(1, "app@1.2.0");
        assert_eq!(releases.newest(), releases.key(2), "1.10.0 is above 1.3.0, seen later");
        assert_eq!(releases.newest_name(), Some("app@1.10.0"));
        releases.see(4, "a3f9c21");
        assert_eq!(releases.newest(), releases.key(4), "a non-semver release is newer by first seen");
        let (k1, k4) = (releases.key(1).expect("1"), releases.key(4).expect("4"));
        assert_eq!(k4.order(k1), Ordering::Greater);
        assert_eq!(
            releases.unseen("zzz").order(k4),
            Ordering::Greater,
            "the future follows everything seen"
        );
        assert_eq!(releases.unseen("app@1.2.0").order(k1), Ordering::Equal);
    }
}
