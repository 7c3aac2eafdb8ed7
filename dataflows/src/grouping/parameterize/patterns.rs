//! Pattern sources for the two parameterization profiles (grouping.md §10).
//!
//! Every pattern is written for the `regex` crate (leftmost-first, Perl-style preference
//! order, Unicode `\d` and `\b` like Python's `re` on `str`). The few places where Sentry's
//! behaviour needs look-around are expressed as a [`Guard`] that the matcher in `mod.rs`
//! evaluates next to the regex; see there for why each guard is exact.
//!
//! Notation used while assembling the sources:
//! * `{S}` is Python's `\s` (Rust's `\s` lacks U+001C..U+001F, which Python counts as
//!   whitespace), `{NS}` its complement;
//! * `{MON}`, `{DAY}`, `{FULLDAY}`, `{ZONE}` are month / weekday / zone-name alternations.

/// How a pattern's regex hit is turned into a real match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Guard {
    /// The regex hit is the match.
    None,
    /// The regex starts with a literal `=` that only stands for a look-behind: the match
    /// starts one byte later (Python `(?<==)`).
    AfterEquals,
    /// The match must not be preceded by a word character (Python `(?<!\w)`).
    NoWordBefore,
    /// The hit is a whole hex word; it only counts if it contains a decimal digit.
    HasDigit,
    /// The hit is a whole hex word; it only counts if it has both a digit and a letter.
    HasDigitAndLetter,
}

/// One named alternative of the combined pattern, in priority order.
pub(super) struct PatternSource {
    pub name: &'static str,
    pub regex: String,
    pub guard: Guard,
}

/// Python's whitespace class (`str.isspace`).
const S: &str = r"[\s\x{1c}-\x{1f}]";
/// Complement of [`S`].
const NS: &str = r"[^\s\x{1c}-\x{1f}]";
const MON: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY: &str = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
const FULLDAY: &str = "(?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday)";
const ZONE: &str = "(?:UT|GMT|[ECMP][SD]T|[A-IK-Z])";

/// The 100 most common top-level domains; a hostname must end in one of them, written either
/// all upper-case or all lower-case.
const TLDS: &[&str] = &[
    "com", "net", "org", "jp", "de", "uk", "fr", "br", "it", "ru", "es", "me", "gov", "pl", "ca", "au", "cn", "co", "in", "nl", "edu",
    "info", "eu", "ch", "id", "at", "kr", "cz", "mx", "be", "tv", "se", "tr", "tw", "al", "ua", "ir", "vn", "cl", "sk", "ly", "cc", "to",
    "no", "fi", "us", "pt", "dk", "ar", "hu", "tk", "gr", "il", "news", "ro", "my", "biz", "ie", "za", "nz", "sg", "ee", "th", "io", "xyz",
    "pe", "bg", "hk", "rs", "lt", "link", "ph", "club", "si", "site", "mobi", "by", "cat", "wiki", "la", "ga", "xxx", "cf", "hr", "ng",
    "jobs", "online", "kz", "ug", "gq", "ae", "is", "lv", "pro", "fm", "tips", "ms", "sa", "app",
];

fn fill(template: &str) -> String {
    template
        .replace("{NS}", NS)
        .replace("{S}", S)
        .replace("{MON}", MON)
        .replace("{FULLDAY}", FULLDAY)
        .replace("{DAY}", DAY)
        .replace("{ZONE}", ZONE)
}

fn email() -> String {
    r"[a-zA-Z0-9._%+\-]+@[a-zA-Z0-9.\-]+\.[a-zA-Z]{2,}".to_owned()
}

fn url() -> String {
    fill(r"\b(?:wss?|https?|ftp)://[^\s\x{1c}-\x{1f}/$.?#].{NS}*")
}

fn hostname() -> String {
    let upper: Vec<String> = TLDS.iter().map(|t| t.to_ascii_uppercase()).collect();
    format!(r"\b(?:[a-zA-Z0-9\-]{{1,63}}\.)+?(?:{}|{})\b", upper.join("|"), TLDS.join("|"))
}

/// IPv6 (full, compressed, link-local with zone, IPv4-mapped/embedded) or dotted IPv4. The
/// branch order decides the extent, e.g. `fe80::1` matches as `fe80::` because the
/// "groups then `::`" branch comes before "groups, `::`, group".
fn ip() -> String {
    let h = "[0-9a-fA-F]{1,4}";
    let octet = "(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])";
    let v4 = format!(r"(?:{octet}\.){{3}}{octet}");
    let v6 = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
        "fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+".to_owned(),
        format!("::(?:ffff(?::0{{1,4}})?:)?{v4}"),
        format!("(?:{h}:){{1,4}}:{v4}"),
    ];
    format!("(?:{})|{v4}", v6.join("|"))
}

fn uuid() -> String {
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b".to_owned()
}

fn hex_word(len: usize) -> String {
    format!(r"\b[0-9a-fA-F]{{{len}}}\b")
}

/// Date and time forms shared by both profiles, after the profile-specific leading ones.
fn date_tail() -> [&'static str; 5] {
    [
        // plain date
        r"\d{4}-[01]\d-[0-3]\d",
        // 24-hour time with seconds
        r"[0-2]\d:[0-5]\d:[0-5]\d",
        // ISO 8601 with any two-digit month/day and a mandatory zone
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+\-][0-2]\d:[0-5]\d|Z)",
        // ctime / syslog: `Mon Jan  2 15:04:05 2006`
        r"\b(?:{DAY}{S}+)?{MON}{S}+\d{1,2}{S}+\d{2}:\d{2}:\d{2}{S}+\d{4}",
        // Python repr: `datetime.datetime(2024, 1, 2, ...)` (the dots match any character)
        r"datetime.datetime\(.*?\)",
    ]
}

fn date_2024() -> String {
    let mut branches = vec![
        // RFC 822 / 1123 (+Z): `Mon, 02 Jan 2006 15:04:05 -0700`
        r"{DAY},{S}\d{1,2}{S}{MON}{S}\d{2,4}{S}\d{1,2}:\d{1,2}(?::\d{1,2})?{S}(?:[\-+]\d{2}[0-5]\d|{ZONE})",
        // `Mon Jan 02, 1999`, `Jan 18, 2019`
        r"(?:{DAY}{S})?{MON}{S}[0-3]\d,{S}\d{2,4}",
        // RFC 850: `Monday, 02-Jan-06 15:04:05 MST`
        r"{FULLDAY},{S}\d{2}-{MON}-\d{2}{S}\d{2}:\d{2}:\d{2}{S}{ZONE}",
        // RFC 3339 (also compact, and Go's `Z07:00` layout)
        r"\d{4}-?[01]\d-?[0-3]\dT[0-2]\d:?[0-5]\d:?[0-5]\d(?:\.\d+)?(?:[Z+\-]\d\d:?\d\d|Z)?",
        // space-separated date time
        r"\d{4}-?[01]\d-?[0-3]\d{S}[0-2]\d:?[0-5]\d:?[0-5]\d(?:\.\d+)?",
        // kitchen: `3:04PM`, `15:04`, `15:04:05`
        r"[1-9]\d?:\d{2}(?::\d{2})?(?:[aApP][mM])?",
    ];
    branches.extend(date_tail());
    fill(&branches.join("|"))
}

fn date_2025() -> String {
    let mut branches = vec![
        // JavaScript `Date.toString()`: `Mon Jan 02 2006 14:04:05 GMT-0800 (Pacific Standard Time)`
        r"{DAY}{S}{MON}{S}\d{2}{S}\d{4}{S}\d{2}:\d{2}:\d{2}{S}GMT[+\-]\d{4}(?:{S}\([^)]*\))?",
        r"{DAY},{S}\d{1,2}{S}{MON}{S}\d{2,4}{S}\d{1,2}:\d{1,2}(?::\d{1,2})?{S}(?:[\-+]\d{2}[0-5]\d|{ZONE})",
        r"(?:{DAY}{S})?{MON}{S}[0-3]\d,{S}\d{2,4}",
        // RFC 850 with full or abbreviated weekday
        r"(?:{FULLDAY}|{DAY}),{S}\d{2}-{MON}-\d{2}{S}\d{2}:\d{2}:\d{2}{S}{ZONE}",
        r"\d{4}-?[01]\d-?[0-3]\dT[0-2]\d:?[0-5]\d:?[0-5]\d(?:\.\d+)?(?:[Z+\-]\d\d:?\d\d|Z)?",
        // space-separated date time, now with an optional zone
        r"\d{4}-?[01]\d-?[0-3]\d{S}[0-2]\d:?[0-5]\d:?[0-5]\d(?:\.\d+)?(?:[Z+\-]\d\d:?\d\d|Z)?",
        // kitchen, AM/PM optionally after a space
        r"[1-9]\d?:\d{2}(?::\d{2})?(?:{S}?[aApP][mM])?",
    ];
    branches.extend(date_tail());
    // Dates no longer start inside a word (`10000-01-02` is not a date).
    fill(&format!(r"\b(?:{})", branches.join("|")))
}

fn lookbehind_equals(body: &str) -> PatternSource {
    PatternSource {
        name: "",
        regex: format!("={body}"),
        guard: Guard::AfterEquals,
    }
}

fn src(name: &'static str, regex: String) -> PatternSource {
    PatternSource {
        name,
        regex,
        guard: Guard::None,
    }
}

fn tail(sources: &mut Vec<PatternSource>) {
    sources.push(src("float", r"-\d+\.\d+\b|\b\d+\.\d+\b".to_owned()));
    sources.push(src("int", r"-\d+\b|\b\d+\b".to_owned()));
    sources.push(PatternSource {
        name: "quoted_str",
        ..lookbehind_equals(r#"(?:'[^']+'|"[^"]+")"#)
    });
    sources.push(PatternSource {
        name: "bool",
        ..lookbehind_equals("(?:True|true|False|false)")
    });
}

/// June-2024 set: `email, url, hostname, ip, uuid, sha1, md5, date, duration, hex, float,
/// int, quoted_str, bool`.
pub(super) fn v2024() -> Vec<PatternSource> {
    let mut s = vec![
        src("email", email()),
        src("url", url()),
        src("hostname", hostname()),
        src("ip", ip()),
        src("uuid", uuid()),
        src("sha1", hex_word(40)),
        src("md5", hex_word(32)),
        src("date", date_2024()),
        // `Nms`, or a single digit (optionally with decimals) followed by `s`.
        src("duration", r"\b\d+ms|\d(?:\.\d+)?s\b".to_owned()),
        src("hex", r"\b0[xX][0-9a-fA-F]+\b".to_owned()),
    ];
    tail(&mut s);
    s
}

/// 2025 set (the revision of Sentry's 2025 parameterization test): adds `traceparent`,
/// `swift_txn_id`, unprefixed `hex` (8–128 digits, at least one decimal digit) and `git_sha`
/// (7 hex digits mixing digits and letters); dates must start at a word boundary and know
/// more forms; durations take multi-digit seconds; `ip` must not follow a word character.
pub(super) fn v2025() -> Vec<PatternSource> {
    let mut s = vec![
        src("email", email()),
        src("url", url()),
        src("hostname", hostname()),
        PatternSource {
            name: "ip",
            regex: ip(),
            guard: Guard::NoWordBefore,
        },
        src(
            "traceparent",
            r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b|\b1-[0-9a-f]{8}-[0-9a-f]{24}\b".to_owned(),
        ),
        src("swift_txn_id", r"\btx[0-9a-f]{21}-[0-9a-f]{10}(?:-\w+)?\b".to_owned()),
        src("uuid", uuid()),
        src("sha1", hex_word(40)),
        src("md5", hex_word(32)),
        src("date", date_2025()),
        src("duration", r"\b\d+ms|\d+(?:\.\d+)?s\b".to_owned()),
        src("hex", r"\b0[xX][0-9a-fA-F]+\b".to_owned()),
        PatternSource {
            name: "hex",
            regex: r"\b[0-9a-fA-F]{8,128}\b".to_owned(),
            guard: Guard::HasDigit,
        },
        PatternSource {
            name: "git_sha",
            regex: hex_word(7),
            guard: Guard::HasDigitAndLetter,
        },
    ];
    tail(&mut s);
    s
}
