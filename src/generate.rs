//! Deterministic generator of realistic issue-platform input streams (`occurrent generate`).
//!
//! The output is one JSON object per line (`\n` terminated), shaped like the messages Sentry's
//! occurrence and status-change consumers read (see `docs/semantics.md` and
//! `../shared/reference/issue-platform.md` §2, §3, §5.3):
//!
//! * **occurrences** (~93%): Zipf(s = 1.1) popularity over `fingerprints` fingerprints; each
//!   fingerprint has a fixed project (Zipf(s = 1) over `1..=projects`), a fixed registered group
//!   type from a realistic mix, a fixed title/subtitle/culprit, and about 5% of them carry a second
//!   fingerprint string (unique, another fingerprint's first string, or an alias shared within the
//!   same project and type) to exercise multi-hash linking;
//! * **status changes** (~5%) for fingerprints already emitted, mostly valid transitions, some
//!   invalid ones (missing / unexpected / invalid substatus, unsupported status);
//! * **duplicates** (~1%): an exact copy of one of the last 100 well-formed lines, chosen among
//!   those whose id the dedup stage (§4.1) still remembers with any window of at least 300 s (the
//!   generator tracks each project's watermark), so `GenerateStats::duplicates` is exactly the
//!   number of records the pipeline skips as duplicates. (When no recent line qualifies, e.g. in
//!   very sparse streams, an ordinary occurrence is written instead.);
//! * **malformed** lines (`malformed_ratio`): truncated JSON, missing required fields, unknown
//!   type 9999, bad UUIDs, `event.project_id` mismatch, non-object JSON, unknown `payload_type`,
//!   empty fingerprint, `detection_time` with an offset, `event_id` mismatch. Every malformed line
//!   is one that the decoder of `docs/semantics.md` §2 must reject.
//!
//! `lines = occurrences + status_changes + duplicates + malformed` in [`GenerateStats`].
//!
//! **Determinism.** All randomness comes from `rand::rngs::StdRng::seed_from_u64` (ChaCha12 in
//! rand 0.9, pinned by `Cargo.lock`), consumed only through `next_u64`; range reduction, weighted
//! choices and Zipf tables are implemented here with integer arithmetic and IEEE basic
//! operations only (no `powf`/`ln`/`exp`, whose results may differ between libms), and times are
//! formatted from integer microseconds. The same options therefore give byte-identical output on
//! every platform.
//!
//! **Speed.** Per-fingerprint data is a few small indices into pre-escaped string tables; lines
//! are formatted by hand into one reused buffer that is flushed in ~256 KiB chunks.

use std::io::{self, Write};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Options of `occurrent generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Seed of the random stream; the same options give byte-identical output.
    pub seed: u64,
    /// Number of lines to write.
    pub count: u64,
    /// Number of distinct fingerprints (0 is treated as 1).
    pub fingerprints: u64,
    /// Number of projects; project ids are `1..=projects` (0 is treated as 1).
    pub projects: u64,
    /// Fraction of malformed lines (clamped to `0.0..=0.9`). Default 0.002.
    pub malformed_ratio: f64,
    /// Event time of the first line, epoch seconds. Default 2024-01-01T00:00:00Z.
    pub start_time: i64,
    /// Event times advance across this many seconds over the stream. Default 14 days.
    pub span_seconds: i64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 1,
            count: 10_000,
            fingerprints: 1_000,
            projects: 10,
            malformed_ratio: 0.002,
            start_time: 1_704_067_200,
            span_seconds: 14 * 86_400,
        }
    }
}

/// What [`generate`] wrote. `lines = occurrences + status_changes + duplicates + malformed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub lines: u64,
    /// Well-formed occurrence lines (first emissions, not counting duplicates).
    pub occurrences: u64,
    /// Decodable status-change lines (including transitions the model will reject).
    pub status_changes: u64,
    /// Exact copies of a recent well-formed line that the dedup stage (window >= 300 s) skips.
    pub duplicates: u64,
    /// Lines the decoder must reject.
    pub malformed: u64,
}

/// Writes `opts.count` lines to `out`. The writer is written in large chunks; wrap it in a
/// `BufWriter` only if it is unbuffered *and* you care about syscall counts below 256 KiB.
pub fn generate(opts: &GenerateOptions, out: &mut dyn Write) -> io::Result<GenerateStats> {
    run(opts, out, &mut |_, _| {})
}

// ---------------------------------------------------------------------------------------------
// Ratios and constants

const STATUS_RATIO: f64 = 0.05;
const DUPLICATE_RATIO: f64 = 0.01;
/// Duplicates copy one of the last `RING` well-formed lines.
const RING: usize = 100;
/// A duplicate copies only a line whose id the dedup stage remembers with a time at most this far
/// behind its project's watermark, so any `--dedup-window` of at least 300 s catches every
/// duplicate (and `GenerateStats::duplicates` is the exact count to expect).
const DUP_SLACK: i64 = 300 * US;
/// Status changes mostly target one of the last `RECENT` fingerprints that had an occurrence.
const RECENT: usize = 1024;
const FLUSH_AT: usize = 256 * 1024;
const US: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Occurrence,
    StatusChange,
    Duplicate,
    Malformed,
}

// ---------------------------------------------------------------------------------------------
// Random numbers (portable: only `next_u64` of StdRng, everything else is integer arithmetic)

struct Rng(StdRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }
    #[inline]
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (n > 0), multiply-shift reduction (bias < n / 2^64).
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    #[inline]
    fn range(&mut self, lo: u64, hi_incl: u64) -> u64 {
        lo + self.below(hi_incl - lo + 1)
    }
    /// Per-mille draw, `0..1000`.
    #[inline]
    fn pm(&mut self) -> u32 {
        self.below(1000) as u32
    }
    /// Uniform in `[0, 1)` with 53 bits.
    #[inline]
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    #[inline]
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
    /// Index drawn with the given integer weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut v = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if v < w as u64 {
                return i;
            }
            v -= w as u64;
        }
        weights.len() - 1
    }
}

/// murmur3 finalizer: a bijection on u64 with good mixing.
#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Deterministic parameter `0..n` derived from a fingerprint hash and a salt.
#[inline]
fn param(h: u64, salt: u64, n: usize) -> u32 {
    (fmix64(h ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % n as u64) as u32
}

/// Cumulative integer weights for sampling by binary search.
/// Cumulative integer weights (total < 2^53), sampled by binary search narrowed with a guide
/// table of 2^16 equal-width buckets.
struct Cdf {
    cum: Vec<u64>,
    /// `guide[j]` = first index whose cumulative weight exceeds `j << GUIDE_SHIFT`.
    guide: Vec<u32>,
}

const GUIDE_SHIFT: u32 = 53 - 16;

impl Cdf {
    fn new(weights: &[f64]) -> Cdf {
        let sum: f64 = weights.iter().sum();
        let scale = (1u64 << 52) as f64 / sum;
        let mut acc = 0u64;
        let cum = weights
            .iter()
            .map(|&w| {
                acc += ((w * scale) as u64).max(1);
                acc
            })
            .collect::<Vec<u64>>();
        let buckets = (acc >> GUIDE_SHIFT) + 2;
        let guide = (0..buckets)
            .map(|j| cum.partition_point(|&c| c <= j << GUIDE_SHIFT) as u32)
            .collect();
        Cdf { cum, guide }
    }
    #[inline]
    fn sample(&self, rng: &mut Rng) -> usize {
        let v = rng.below(*self.cum.last().unwrap());
        let j = (v >> GUIDE_SHIFT) as usize;
        let lo = self.guide[j] as usize;
        let hi = (self.guide[j + 1] as usize).min(self.cum.len() - 1);
        lo + self.cum[lo..=hi].partition_point(|&c| c <= v)
    }
}

/// `x^(1/10)` by Newton's method from a guess at or slightly above the root, using only IEEE
/// basic operations (portable bit-for-bit).
fn tenth_root(x: f64, guess: f64) -> f64 {
    let mut y = guess;
    for _ in 0..6 {
        let y2 = y * y;
        let y4 = y2 * y2;
        let y8 = y4 * y4;
        let y9 = y8 * y;
        let y10 = y9 * y;
        y -= (y10 - x) / (10.0 * y9);
    }
    y
}

/// Weights `k^-1.1`, k = 1..=n.
fn zipf_1_1(n: usize) -> Vec<f64> {
    let mut w = Vec::with_capacity(n);
    let mut root = 1.0f64;
    for k in 1..=n {
        let kf = k as f64;
        if k > 1 {
            // (k/(k-1))^0.1 <= 1 + 0.1/(k-1): start just above the root.
            root = tenth_root(kf, root * (1.0 + 0.1 / (kf - 1.0)) * (1.0 + 1e-12));
        }
        w.push(1.0 / (kf * root));
    }
    w
}

/// Weights `1/k`, k = 1..=n.
fn zipf_1_0(n: usize) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / k as f64).collect()
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";

#[inline]
fn s(b: &mut Vec<u8>, x: &str) {
    b.extend_from_slice(x.as_bytes());
}

#[inline]
fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = 20;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

#[inline]
fn push_i64(b: &mut Vec<u8>, v: i64) {
    if v < 0 {
        b.push(b'-');
    }
    push_u64(b, v.unsigned_abs());
}

/// Zero-padded decimal of fixed width.
#[inline]
fn push_pad(b: &mut Vec<u8>, mut v: u64, width: usize) {
    let start = b.len();
    b.resize(start + width, b'0');
    let mut i = start + width;
    while i > start {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[inline]
fn push_hex64(b: &mut Vec<u8>, v: u64, nibbles: u32, table: &[u8; 16]) {
    for i in (0..nibbles).rev() {
        b.push(table[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// UUID textual forms (all accepted by the decoder).
#[derive(Clone, Copy)]
enum UuidForm {
    Hex,
    Hyphenated,
    UpperHex,
    UpperHyphenated,
    Braced,
    Urn,
}

fn push_uuid(b: &mut Vec<u8>, hi: u64, lo: u64, form: UuidForm) {
    // Make it look like a uuid4: version nibble 4, variant 10xx.
    let hi = (hi & !(0xf << 12)) | (0x4 << 12);
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let (t, hyph) = match form {
        UuidForm::Hex => (HEX, false),
        UuidForm::Hyphenated => (HEX, true),
        UuidForm::UpperHex => (HEX_UP, false),
        UuidForm::UpperHyphenated => (HEX_UP, true),
        UuidForm::Braced => {
            b.push(b'{');
            (HEX, true)
        }
        UuidForm::Urn => {
            s(b, "urn:uuid:");
            (HEX, true)
        }
    };
    if hyph {
        push_hex64(b, hi >> 32, 8, t);
        b.push(b'-');
        push_hex64(b, hi >> 16, 4, t);
        b.push(b'-');
        push_hex64(b, hi, 4, t);
        b.push(b'-');
        push_hex64(b, lo >> 48, 4, t);
        b.push(b'-');
        push_hex64(b, lo, 12, t);
    } else {
        push_hex64(b, hi, 16, t);
        push_hex64(b, lo, 16, t);
    }
    if let UuidForm::Braced = form {
        b.push(b'}');
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]` with `frac` fractional digits (0, 3 or 6), no suffix.
fn push_iso(b: &mut Vec<u8>, micros: i64, frac: u32) {
    let secs = micros.div_euclid(US);
    let us = micros.rem_euclid(US) as u64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    push_pad(b, y.clamp(0, 9999) as u64, 4);
    b.push(b'-');
    push_pad(b, m as u64, 2);
    b.push(b'-');
    push_pad(b, d as u64, 2);
    b.push(b'T');
    push_pad(b, sod / 3600, 2);
    b.push(b':');
    push_pad(b, sod / 60 % 60, 2);
    b.push(b':');
    push_pad(b, sod % 60, 2);
    match frac {
        0 => {}
        3 => {
            b.push(b'.');
            push_pad(b, us / 1000, 3);
        }
        _ => {
            b.push(b'.');
            push_pad(b, us, 6);
        }
    }
}

/// Epoch seconds as a JSON number with six decimals (exact microseconds).
fn push_epoch(b: &mut Vec<u8>, micros: i64) {
    if micros < 0 {
        b.push(b'-');
    }
    let a = micros.unsigned_abs();
    push_u64(b, a / US as u64);
    b.push(b'.');
    push_pad(b, a % US as u64, 6);
}

fn json_escape(x: &str) -> String {
    let mut o = String::with_capacity(x.len() + 8);
    for c in x.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Group types and vocabulary

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NPlusOneDb,
    SlowDb,
    ConsecutiveDb,
    ConsecutiveHttp,
    NPlusOneApi,
    LargePayload,
    RenderBlocking,
    Uncompressed,
    EndpointRegression,
    FileIoMain,
    FrameDrop,
    Cron,
    RageClick,
    Hydration,
    Feedback,
    Uptime,
    Metric,
    WebVitals,
}

struct TypeSpec {
    id: u32,
    /// Share of fingerprints, in percent.
    weight: u32,
    kind: Kind,
    level: &'static str,
    fp_prefix: &'static str,
    /// Events carry a release / user.
    release: bool,
    user: bool,
}

/// Registered types (§5.3): with noise configs (1006 3/24h, 1001 100, 1007 15, 1009 5, 1004,
/// 1012 100, 1015, 2009 2000) and without (1010 in 2024, 1018, 2001, 4001, 5002, 5003, 6001, 7001,
/// 8001, 10001); quotas 5, 60000 (4001), 1000 (6001, 7001), 100 (8001).
const TYPES: &[TypeSpec] = &[
    TypeSpec {
        id: 1006,
        weight: 20,
        kind: Kind::NPlusOneDb,
        level: "info",
        fp_prefix: "1-1006-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1001,
        weight: 10,
        kind: Kind::SlowDb,
        level: "info",
        fp_prefix: "1-1001-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1007,
        weight: 8,
        kind: Kind::ConsecutiveDb,
        level: "info",
        fp_prefix: "1-1007-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1009,
        weight: 7,
        kind: Kind::ConsecutiveHttp,
        level: "info",
        fp_prefix: "1-1009-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1010,
        weight: 8,
        kind: Kind::NPlusOneApi,
        level: "info",
        fp_prefix: "1-1010-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1015,
        weight: 2,
        kind: Kind::LargePayload,
        level: "info",
        fp_prefix: "1-1015-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1004,
        weight: 3,
        kind: Kind::RenderBlocking,
        level: "info",
        fp_prefix: "1-1004-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1012,
        weight: 2,
        kind: Kind::Uncompressed,
        level: "info",
        fp_prefix: "1-1012-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1018,
        weight: 2,
        kind: Kind::EndpointRegression,
        level: "warning",
        fp_prefix: "1-1018-",
        release: true,
        user: false,
    },
    TypeSpec {
        id: 2001,
        weight: 5,
        kind: Kind::FileIoMain,
        level: "info",
        fp_prefix: "2001-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 2009,
        weight: 2,
        kind: Kind::FrameDrop,
        level: "info",
        fp_prefix: "2009-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 4001,
        weight: 8,
        kind: Kind::Cron,
        level: "error",
        fp_prefix: "monitor-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 5002,
        weight: 5,
        kind: Kind::RageClick,
        level: "error",
        fp_prefix: "rage-click-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 5003,
        weight: 3,
        kind: Kind::Hydration,
        level: "error",
        fp_prefix: "hydration-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 6001,
        weight: 6,
        kind: Kind::Feedback,
        level: "info",
        fp_prefix: "feedback-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 7001,
        weight: 3,
        kind: Kind::Uptime,
        level: "error",
        fp_prefix: "uptime-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 8001,
        weight: 3,
        kind: Kind::Metric,
        level: "error",
        fp_prefix: "detector-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 10001,
        weight: 3,
        kind: Kind::WebVitals,
        level: "info",
        fp_prefix: "web-vitals-",
        release: true,
        user: true,
    },
];

const ROUTES: &[&str] = &[
    "/api/orders/{id}",
    "/api/orders/",
    "/api/users/{id}",
    "/api/products/",
    "/api/products/{slug}",
    "/api/cart/checkout",
    "/api/0/issues/{id}/",
    "/api/0/events/",
    "/api/search",
    "/api/invoices/{id}/pdf",
    "/api/auth/login",
    "/api/auth/token/refresh",
    "/graphql",
    "/api/v2/reports/{id}",
    "/api/notifications",
    "/api/teams/{id}",
    "POST /api/payments/charge",
    "/api/shipments/{id}/track",
    "/api/reviews/",
    "/api/inventory/sync",
    "tasks.send_digest_email",
    "tasks.reindex",
    "/api/feeds/{id}/items",
    "/api/comments/",
    "/admin/orders/",
    "/api/subscriptions/{id}",
    "/api/exports/{id}",
    "/api/coupons/validate",
    "/api/sessions/current",
    "app.views.dashboard",
];

const PAGES: &[&str] = &[
    "/checkout",
    "/cart",
    "/",
    "/products/:slug",
    "/account/settings",
    "/dashboard",
    "/search",
    "/orders/:id",
    "/login",
    "/signup",
    "/blog/:slug",
    "/pricing",
];

const TABLES: &[(&str, &str)] = &[
    ("orders", "customer_id"),
    ("order_items", "order_id"),
    ("users", "organization_id"),
    ("products", "category_id"),
    ("line_items", "invoice_id"),
    ("sessions", "user_id"),
    ("comments", "post_id"),
    ("inventory", "warehouse_id"),
    ("payments", "account_id"),
    ("shipments", "order_id"),
    ("reviews", "product_id"),
    ("sentry_groupedmessage", "project_id"),
];

const HOSTS: &[&str] = &[
    "api.stripe.com",
    "hooks.slack.com",
    "api.github.com",
    "maps.googleapis.com",
    "api.sendgrid.com",
    "payments.internal",
    "inventory-svc.internal",
    "s3.amazonaws.com",
    "api.twilio.com",
    "auth.example.com",
];

const HTTP_PATHS: &[&str] = &[
    "/v1/charges",
    "/v1/customers/{id}",
    "/api/items/{id}",
    "/repos/{owner}/{repo}",
    "/v3/mail/send",
    "/internal/stock/{sku}",
    "/2010-04-01/Accounts/{sid}/Messages.json",
    "/userinfo",
];

const ASSETS: &[&str] = &[
    "main.8f3a1c.js",
    "vendor.2b7e9d.js",
    "styles.c41f0a.css",
    "runtime.77de01.js",
    "fonts/inter-var.woff2",
    "chunk-checkout.a91b3e.js",
    "legacy-polyfills.js",
];

const METHODS: &[&str] = &[
    "FileManager.contentsOfDirectory(at:)",
    "Data.init(contentsOf:)",
    "UserDefaults.synchronize()",
    "SQLiteDatabase.execute(_:)",
    "java.io.FileInputStream.read",
    "android.content.SharedPreferences$Editor.commit",
    "JSONDecoder.decode(_:from:)",
    "UIImage.init(named:)",
    "com.example.app.cache.DiskCache.get",
    "NSKeyedUnarchiver.unarchiveObject(with:)",
];

const CRON_SLUGS: &[&str] = &[
    "nightly-backup",
    "send-digest-emails",
    "sync-inventory",
    "cleanup-sessions",
    "billing-rollup",
    "refresh-materialized-views",
    "rotate-logs",
    "import-exchange-rates",
    "weekly-report",
    "reindex-search",
];

/// (subtitle, failure reason)
const CRON_FAILURES: &[(&str, &str)] = &[
    ("No check-in reported on schedule.", "missed"),
    ("An error occurred during the latest check-in.", "error"),
    ("A check-in timed out.", "timeout"),
];

const SELECTORS: &[&str] = &[
    "button.checkout-btn",
    "a#nav-pricing",
    "div.product-card > button",
    "button[data-test-id=\"submit\"]",
    "span.icon-close",
    "input#coupon-code",
    "button.add-to-cart",
    "li.menu-item > a",
];

const FEEDBACK: &[&str] = &[
    "The \"Pay now\" button does nothing when I click it",
    "Page keeps loading forever after login",
    "I can't upload my avatar, it says file too large but it's 200KB",
    "Página de pagos no carga — ayuda por favor",
    "Die Suche liefert keine Ergebnisse für „Schuhe“",
    "App crashes when I open settings ⚙️",
    "Export to CSV gives an empty file",
    "Why was I logged out?? Lost my draft",
    "Path C:\\Users\\me\\Downloads is shown instead of the file name",
    "注文履歴が表示されません",
    "Love the new dashboard! But the chart tooltip is cut off",
    "Tab\tcharacters in my address break the form",
];

const FEEDBACK_NAMES: &[&str] = &[
    "Jane Doe",
    "Ana García",
    "李雷",
    "Max Mustermann",
    "Pat O'Brien",
    "Sam \"Sammy\" Lee",
];

const UPTIME_URLS: &[&str] = &[
    "https://example.com",
    "https://api.example.com/health",
    "https://shop.example.org",
    "https://status.acme.io",
    "https://auth.example.com/login",
];

const METRICS: &[&str] = &[
    "Number of errors",
    "p95(transaction.duration)",
    "Failure rate",
    "Crash free session rate",
    "Count of 5xx on /api/checkout",
];

const VITALS: &[&str] = &["LCP", "INP", "CLS", "FCP", "TTFB"];

const PLATFORMS: &[&str] = &[
    "python",
    "javascript",
    "node",
    "java",
    "go",
    "ruby",
    "php",
    "cocoa",
    "android",
    "csharp",
];

const RELEASE_NAMES: &[&str] = &[
    "backend",
    "frontend",
    "api",
    "web",
    "ios-app",
    "android-app",
    "worker",
    "billing",
    "search",
    "auth",
    "checkout",
    "gateway",
];

/// Culprits longer than 200 characters (some multi-byte) to exercise truncation.
const LONG_CULPRITS: &[&str] = &[
    "/api/search?q=ÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüß&page=2",
    "app.services.reporting.generators.quarterly.QuarterlyRevenueReportGenerator.build_sections.<locals>.render_table_rows.<locals>.format_currency_cell_with_locale_fallbacks_and_rounding_rules_for_legacy_accounts",
];

/// Pre-escaped vocabulary (JSON string contents without the quotes).
struct Vocab {
    routes: Vec<String>,
    pages: Vec<String>,
    methods: Vec<String>,
    selectors: Vec<String>,
    feedback: Vec<String>,
    feedback_names: Vec<String>,
    long_culprits: Vec<String>,
}

impl Vocab {
    fn new() -> Vocab {
        let e = |l: &[&str]| l.iter().map(|x| json_escape(x)).collect::<Vec<_>>();
        Vocab {
            routes: e(ROUTES),
            pages: e(PAGES),
            methods: e(METHODS),
            selectors: e(SELECTORS),
            feedback: e(FEEDBACK),
            feedback_names: e(FEEDBACK_NAMES),
            long_culprits: e(LONG_CULPRITS),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// World: projects and fingerprints

struct Project {
    /// Platform index into PLATFORMS.
    platform: u8,
    /// User pool class (index into `World::user_cdfs`).
    pool: u8,
    /// Release names (escaped) in increasing order and their start times (µs).
    releases: Vec<String>,
    release_starts: Vec<i64>,
}

#[derive(Clone, Copy)]
enum Second {
    None,
    /// A second string of its own.
    Unique,
    /// The same string twice (repeated hashes are kept once).
    Same,
    /// The first string of another fingerprint of the same project and type.
    Primary(u32),
    /// An alias shared by several fingerprints of the same project and type.
    Alias(u8),
}

#[derive(Clone, Copy)]
struct Fp {
    /// Unique per fingerprint (bijective in its index): its fingerprint string and parameters.
    h: u64,
    /// Project index (project id = index + 1).
    project: u32,
    ty: u8,
    /// Kind-specific parameters (see `write_*`).
    a: u16,
    b: u16,
    c: u16,
    long_culprit: bool,
    second: Second,
}

const USER_POOLS: [usize; 3] = [60, 600, 6000];

struct World {
    fps: Vec<Fp>,
    fp_cdf: Cdf,
    projects: Vec<Project>,
    user_cdfs: Vec<Cdf>,
    v: Vocab,
}

impl World {
    fn new(opts: &GenerateOptions, rng: &mut Rng) -> World {
        let nproj = opts.projects.max(1) as usize;
        let nfp = opts.fingerprints.max(1) as usize;
        let start_us = opts.start_time.saturating_mul(US);
        let span_us = opts.span_seconds.max(0).saturating_mul(US);

        let projects: Vec<Project> = (0..nproj)
            .map(|_| {
                let platform = rng.below(PLATFORMS.len() as u64) as u8;
                let pool = rng.weighted(&[30, 50, 20]) as u8;
                let name = *rng.pick(RELEASE_NAMES);
                let nrel = rng.range(3, 8) as usize;
                let (mut major, mut minor, mut patch) = (rng.range(1, 3), rng.range(0, 12), rng.range(0, 5));
                let mut releases = Vec::with_capacity(nrel);
                let mut release_starts = Vec::with_capacity(nrel);
                for j in 0..nrel {
                    if j > 0 {
                        match rng.pm() {
                            0..=599 => patch += 1,
                            600..=949 => {
                                minor += 1;
                                patch = 0
                            }
                            _ => {
                                major += 1;
                                minor = 0;
                                patch = 0
                            }
                        }
                    }
                    releases.push(format!("{name}@{major}.{minor}.{patch}"));
                    let jitter = if j == 0 {
                        0
                    } else {
                        rng.below((span_us / nrel as i64 / 4).max(1) as u64) as i64
                    };
                    release_starts.push(if j == 0 {
                        i64::MIN
                    } else {
                        start_us + span_us / nrel as i64 * j as i64 + jitter
                    });
                }
                Project {
                    platform,
                    pool,
                    releases,
                    release_starts,
                }
            })
            .collect();

        let proj_cdf = Cdf::new(&zipf_1_0(nproj));
        let type_weights: Vec<u32> = TYPES.iter().map(|t| t.weight).collect();
        let key = rng.next();
        let mut by_group: std::collections::HashMap<(u32, u8), Vec<u32>> = std::collections::HashMap::new();
        let mut fps = Vec::with_capacity(nfp);
        for i in 0..nfp {
            let h = fmix64(i as u64 ^ key);
            let project = proj_cdf.sample(rng) as u32;
            let ty = rng.weighted(&type_weights) as u8;
            let kind = TYPES[ty as usize].kind;
            let (a, b, c) = match kind {
                Kind::NPlusOneDb | Kind::SlowDb | Kind::ConsecutiveDb => {
                    (param(h, 1, ROUTES.len()), param(h, 2, TABLES.len()), param(h, 3, 4))
                }
                Kind::ConsecutiveHttp | Kind::NPlusOneApi | Kind::LargePayload => {
                    (param(h, 1, ROUTES.len()), param(h, 2, HOSTS.len()), param(h, 3, HTTP_PATHS.len()))
                }
                Kind::RenderBlocking | Kind::Uncompressed => (param(h, 1, PAGES.len()), param(h, 2, ASSETS.len()), 0),
                Kind::EndpointRegression => (param(h, 1, ROUTES.len()), 80 + param(h, 2, 400), 150 + param(h, 3, 300)),
                Kind::FileIoMain | Kind::FrameDrop => (param(h, 1, METHODS.len()), 0, 0),
                Kind::Cron => (param(h, 1, CRON_SLUGS.len()), param(h, 2, CRON_FAILURES.len()), 0),
                Kind::RageClick => (param(h, 1, PAGES.len()), param(h, 2, SELECTORS.len()), 0),
                Kind::Hydration => (param(h, 1, PAGES.len()), 0, 0),
                Kind::Feedback => (
                    param(h, 1, FEEDBACK.len()),
                    param(h, 2, FEEDBACK_NAMES.len()),
                    param(h, 3, PAGES.len()),
                ),
                Kind::Uptime => (param(h, 1, UPTIME_URLS.len()), 1 + param(h, 2, 9000), 0),
                Kind::Metric => (param(h, 1, METRICS.len()), 10 * (1 + param(h, 2, 50)), 1 + param(h, 3, 9000)),
                Kind::WebVitals => (param(h, 1, PAGES.len()), param(h, 2, VITALS.len()), 5 + param(h, 3, 45)),
            };
            let long_culprit = rng.pm() < 5;
            let group = by_group.entry((project, ty)).or_default();
            let second = if rng.pm() < 50 {
                match rng.pm() {
                    0..=389 => Second::Unique,
                    390..=779 if !group.is_empty() => Second::Primary(*rng.pick(group)),
                    390..=779 => Second::Unique,
                    780..=979 => Second::Alias(rng.below(3) as u8),
                    _ => Second::Same,
                }
            } else {
                Second::None
            };
            group.push(i as u32);
            fps.push(Fp {
                h,
                project,
                ty,
                a: a as u16,
                b: b as u16,
                c: c as u16,
                long_culprit,
                second,
            });
        }

        World {
            fp_cdf: Cdf::new(&zipf_1_1(nfp)),
            fps,
            projects,
            user_cdfs: USER_POOLS.iter().map(|&n| Cdf::new(&zipf_1_1(n))).collect(),
            v: Vocab::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Line writers

/// `"<prefix><16 hex>"` — the first fingerprint string of `fp`.
fn push_fp_primary(b: &mut Vec<u8>, fp: &Fp) {
    b.push(b'"');
    s(b, TYPES[fp.ty as usize].fp_prefix);
    push_hex64(b, fp.h, 16, HEX);
    b.push(b'"');
}

/// The fingerprint array.
fn push_fingerprint(b: &mut Vec<u8>, fps: &[Fp], fp: &Fp) {
    b.push(b'[');
    push_fp_primary(b, fp);
    match fp.second {
        Second::None => {}
        Second::Unique => {
            s(b, ",\"legacy:");
            push_hex64(b, fmix64(fp.h ^ 0x5bd1_e995), 16, HEX);
            b.push(b'"');
        }
        Second::Same => {
            b.push(b',');
            push_fp_primary(b, fp);
        }
        Second::Primary(j) => {
            b.push(b',');
            push_fp_primary(b, &fps[j as usize]);
        }
        Second::Alias(k) => {
            s(b, ",\"shared:");
            push_u64(b, fp.project as u64 + 1);
            b.push(b':');
            push_u64(b, TYPES[fp.ty as usize].id as u64);
            b.push(b':');
            push_u64(b, k as u64);
            b.push(b'"');
        }
    }
    b.push(b']');
}

fn push_sql(b: &mut Vec<u8>, template: u16, table: u16) {
    let (t, c) = TABLES[table as usize];
    match template {
        0 => {
            s(b, "SELECT \\\"");
            s(b, t);
            s(b, "\\\".* FROM \\\"");
            s(b, t);
            s(b, "\\\" WHERE \\\"");
            s(b, c);
            s(b, "\\\" = %s");
        }
        1 => {
            s(b, "SELECT id, ");
            s(b, c);
            s(b, " FROM ");
            s(b, t);
            s(b, " WHERE ");
            s(b, c);
            s(b, " IN (%s)");
        }
        2 => {
            s(b, "UPDATE ");
            s(b, t);
            s(b, " SET updated_at = %s WHERE id = %s");
        }
        _ => {
            s(b, "SELECT COUNT(*) FROM ");
            s(b, t);
            s(b, " WHERE ");
            s(b, c);
            s(b, " = %s");
        }
    }
}

fn write_title(b: &mut Vec<u8>, v: &Vocab, fp: &Fp) {
    let route = || &v.routes[fp.a as usize];
    match TYPES[fp.ty as usize].kind {
        Kind::NPlusOneDb => {
            s(b, "N+1 Query in ");
            s(b, route());
        }
        Kind::SlowDb => {
            s(b, "Slow DB Query in ");
            s(b, route());
        }
        Kind::ConsecutiveDb => {
            s(b, "Consecutive DB Queries in ");
            s(b, route());
        }
        Kind::ConsecutiveHttp => {
            s(b, "Consecutive HTTP in ");
            s(b, route());
        }
        Kind::NPlusOneApi => {
            s(b, "N+1 API Call in ");
            s(b, route());
        }
        Kind::LargePayload => {
            s(b, "Large HTTP payload in ");
            s(b, route());
        }
        Kind::RenderBlocking => {
            s(b, "Render Blocking Asset on ");
            s(b, &v.pages[fp.a as usize]);
        }
        Kind::Uncompressed => {
            s(b, "Uncompressed Asset on ");
            s(b, &v.pages[fp.a as usize]);
        }
        Kind::EndpointRegression => {
            s(b, "Endpoint Regression: ");
            s(b, route());
        }
        Kind::FileIoMain => s(b, "File I/O on Main Thread"),
        Kind::FrameDrop => s(b, "Frame Drop"),
        Kind::Cron => {
            s(b, "Cron failure: ");
            s(b, CRON_SLUGS[fp.a as usize]);
        }
        Kind::RageClick => s(b, "Rage Click"),
        Kind::Hydration => s(b, "Hydration Error"),
        Kind::Feedback => s(b, "User Feedback"),
        Kind::Uptime => {
            s(b, "Downtime detected for ");
            s(b, UPTIME_URLS[fp.a as usize]);
        }
        Kind::Metric => {
            s(b, if fp.h & 1 == 0 { "Critical: " } else { "Warning: " });
            s(b, METRICS[fp.a as usize]);
            s(b, " above ");
            push_u64(b, fp.b as u64);
            s(b, " in 1h");
        }
        Kind::WebVitals => {
            s(b, "Poor ");
            s(b, VITALS[fp.b as usize]);
            s(b, " score on ");
            s(b, &v.pages[fp.a as usize]);
        }
    }
}

fn write_subtitle(b: &mut Vec<u8>, v: &Vocab, fp: &Fp) {
    match TYPES[fp.ty as usize].kind {
        Kind::NPlusOneDb | Kind::SlowDb | Kind::ConsecutiveDb => push_sql(b, fp.c, fp.b),
        Kind::ConsecutiveHttp | Kind::NPlusOneApi | Kind::LargePayload => {
            s(b, "GET https://");
            s(b, HOSTS[fp.b as usize]);
            s(b, HTTP_PATHS[fp.c as usize]);
        }
        Kind::RenderBlocking | Kind::Uncompressed => {
            s(b, "https://cdn.example.com/static/");
            s(b, ASSETS[fp.b as usize]);
        }
        Kind::EndpointRegression => {
            s(b, "Increased from ");
            push_u64(b, fp.b as u64);
            s(b, "ms to ");
            push_u64(b, fp.b as u64 * fp.c as u64 / 100);
            s(b, "ms (P95)");
        }
        Kind::FileIoMain | Kind::FrameDrop => s(b, &v.methods[fp.a as usize]),
        Kind::Cron => s(b, CRON_FAILURES[fp.b as usize].0),
        Kind::RageClick => s(b, &v.selectors[fp.b as usize]),
        Kind::Hydration => s(b, "Text content does not match server-rendered HTML."),
        Kind::Feedback => s(b, &v.feedback[fp.a as usize]),
        Kind::Uptime => s(b, "Your monitored domain is down"),
        Kind::Metric => {
            s(b, "Threshold of ");
            push_u64(b, fp.b as u64);
            s(b, " was exceeded");
        }
        Kind::WebVitals => {
            s(b, &v.pages[fp.a as usize]);
            s(b, " has a ");
            s(b, VITALS[fp.b as usize]);
            s(b, " score of ");
            push_u64(b, fp.c as u64);
        }
    }
}

/// Culprit string contents, or None for types without one.
fn culprit<'a>(v: &'a Vocab, fp: &Fp) -> Option<&'a str> {
    if fp.long_culprit {
        return Some(&v.long_culprits[(fp.h >> 8) as usize % v.long_culprits.len()]);
    }
    Some(match TYPES[fp.ty as usize].kind {
        Kind::NPlusOneDb
        | Kind::SlowDb
        | Kind::ConsecutiveDb
        | Kind::ConsecutiveHttp
        | Kind::NPlusOneApi
        | Kind::LargePayload
        | Kind::EndpointRegression => &v.routes[fp.a as usize],
        Kind::RenderBlocking | Kind::Uncompressed | Kind::RageClick | Kind::Hydration | Kind::WebVitals => &v.pages[fp.a as usize],
        Kind::FileIoMain | Kind::FrameDrop => &v.methods[fp.a as usize],
        Kind::Cron => CRON_SLUGS[fp.a as usize],
        Kind::Uptime => UPTIME_URLS[fp.a as usize],
        Kind::Feedback | Kind::Metric => return None,
    })
}

/// `"evidence_data":{…},"evidence_display":[…]`
fn write_evidence(b: &mut Vec<u8>, v: &Vocab, fp: &Fp, rng: &mut Rng, t: i64) {
    let kind = TYPES[fp.ty as usize].kind;
    s(b, "\"evidence_data\":{");
    match kind {
        Kind::NPlusOneDb | Kind::ConsecutiveDb => {
            s(b, "\"num_repeating_spans\":");
            push_u64(b, rng.range(3, 60));
        }
        Kind::SlowDb => {
            s(b, "\"duration_ms\":");
            push_u64(b, rng.range(500, 12_000));
        }
        Kind::ConsecutiveHttp | Kind::NPlusOneApi | Kind::LargePayload => {
            s(b, "\"num_repeating_spans\":");
            push_u64(b, rng.range(2, 40));
        }
        Kind::RenderBlocking | Kind::Uncompressed => {
            s(b, "\"op\":\"resource.script\",\"size_bytes\":");
            push_u64(b, rng.range(300_000, 3_000_000));
        }
        Kind::EndpointRegression => {
            s(b, "\"breakpoint\":");
            push_i64(b, (t / US) / 3600 * 3600);
            s(b, ",\"aggregate_range_1\":");
            push_u64(b, fp.b as u64);
            s(b, ",\"aggregate_range_2\":");
            push_u64(b, fp.b as u64 * fp.c as u64 / 100);
        }
        Kind::FileIoMain | Kind::FrameDrop => {
            s(b, "\"frame_duration_ns\":");
            push_u64(b, rng.range(16_000_000, 900_000_000));
        }
        Kind::Cron => {}
        Kind::RageClick | Kind::Hydration => {
            s(b, "\"node_id\":");
            push_u64(b, rng.range(1, 2000));
        }
        Kind::Feedback => {
            s(b, "\"contact_email\":\"user");
            push_u64(b, fp.h % 100_000);
            s(b, "@example.com\",\"message\":\"");
            s(b, &v.feedback[fp.a as usize]);
            s(b, "\",\"name\":\"");
            s(b, &v.feedback_names[fp.b as usize]);
            s(b, "\",\"source\":\"new_feedback_envelope\"");
        }
        Kind::Uptime => {
            s(b, "\"detector_id\":");
            push_u64(b, fp.b as u64);
        }
        Kind::Metric => {
            s(b, "\"detector_id\":");
            push_u64(b, fp.c as u64);
            s(b, ",\"value\":");
            push_u64(b, fp.b as u64 + rng.below(fp.b as u64 * 2 + 1));
        }
        Kind::WebVitals => {
            s(b, "\"score\":");
            push_u64(b, fp.c as u64);
            s(b, ",\"vital\":\"");
            s(b, VITALS[fp.b as usize]);
            b.push(b'"');
        }
    }
    if rng.pm() < 150 {
        b.push(b'}');
        return;
    }
    s(b, "},\"evidence_display\":[{\"name\":\"");
    match kind {
        Kind::NPlusOneDb | Kind::SlowDb | Kind::ConsecutiveDb => {
            s(b, "Offending Spans\",\"value\":\"db - ");
            s(b, TABLES[fp.b as usize].0);
        }
        Kind::ConsecutiveHttp | Kind::NPlusOneApi | Kind::LargePayload => {
            s(b, "Offending Spans\",\"value\":\"http.client - ");
            s(b, HOSTS[fp.b as usize]);
        }
        Kind::EndpointRegression => {
            s(b, "Transaction\",\"value\":\"");
            s(b, &v.routes[fp.a as usize]);
        }
        Kind::RenderBlocking | Kind::Uncompressed | Kind::Hydration | Kind::WebVitals => {
            s(b, "Page\",\"value\":\"");
            s(b, &v.pages[fp.a as usize]);
        }
        Kind::FileIoMain | Kind::FrameDrop => {
            s(b, "Function\",\"value\":\"");
            s(b, &v.methods[fp.a as usize]);
        }
        Kind::Cron => {
            s(b, "Failure reason\",\"value\":\"");
            s(b, CRON_FAILURES[fp.b as usize].1);
        }
        Kind::RageClick => {
            s(b, "Selector\",\"value\":\"");
            s(b, &v.selectors[fp.b as usize]);
        }
        Kind::Feedback => {
            s(b, "Source\",\"value\":\"new_feedback_envelope");
        }
        Kind::Uptime => {
            s(b, "URL\",\"value\":\"");
            s(b, UPTIME_URLS[fp.a as usize]);
        }
        Kind::Metric => {
            s(b, "Threshold\",\"value\":\"");
            push_u64(b, fp.b as u64);
        }
    }
    s(b, "\",\"important\":true}]");
}

/// The `tags` object of the inline event.
fn write_tags(b: &mut Vec<u8>, v: &Vocab, fp: &Fp, rng: &mut Rng) {
    match TYPES[fp.ty as usize].kind {
        Kind::NPlusOneDb
        | Kind::SlowDb
        | Kind::ConsecutiveDb
        | Kind::ConsecutiveHttp
        | Kind::NPlusOneApi
        | Kind::LargePayload
        | Kind::EndpointRegression
            if rng.pm() < 600 =>
        {
            s(b, "{}")
        }
        Kind::NPlusOneDb
        | Kind::SlowDb
        | Kind::ConsecutiveDb
        | Kind::ConsecutiveHttp
        | Kind::NPlusOneApi
        | Kind::LargePayload
        | Kind::EndpointRegression => {
            s(b, "{\"transaction\":\"");
            s(b, &v.routes[fp.a as usize]);
            s(b, "\"}");
        }
        Kind::RenderBlocking | Kind::Uncompressed | Kind::RageClick | Kind::Hydration | Kind::WebVitals => {
            s(b, "{\"url\":\"");
            s(b, &v.pages[fp.a as usize]);
            s(b, "\"}");
        }
        Kind::Feedback => {
            s(b, "{\"url\":\"");
            s(b, &v.pages[fp.c as usize]);
            s(b, "\"}");
        }
        Kind::FileIoMain | Kind::FrameDrop => {
            s(b, "{\"device.class\":\"");
            s(b, ["low", "medium", "high"][(fp.h % 3) as usize]);
            s(b, "\"}");
        }
        Kind::Cron => {
            s(b, "{\"monitor.slug\":\"");
            s(b, CRON_SLUGS[fp.a as usize]);
            s(b, "\"}");
        }
        Kind::Uptime | Kind::Metric => s(b, "{}"),
    }
}

/// `{"id":…}`, `{"email":…}` or `{"ip_address":…}` for user `k` of a project (stable per user).
fn write_user(b: &mut Vec<u8>, project: u32, k: u64) {
    match k % 10 {
        0..=4 => {
            s(b, "{\"id\":\"");
            push_u64(b, 1000 + k);
            s(b, "\"}");
        }
        5 => {
            s(b, "{\"id\":");
            push_u64(b, 1000 + k);
            b.push(b'}');
        }
        6 | 7 => {
            s(b, "{\"email\":\"user");
            push_u64(b, k);
            s(b, "@p");
            push_u64(b, project as u64 + 1);
            s(b, ".example.com\"}");
        }
        _ => {
            let x = fmix64(k ^ ((project as u64) << 40));
            s(b, "{\"ip_address\":\"10.");
            push_u64(b, (x >> 16) & 0xff);
            b.push(b'.');
            push_u64(b, (x >> 8) & 0xff);
            b.push(b'.');
            push_u64(b, 1 + (x & 0xfd));
            s(b, "\"}");
        }
    }
}

/// Required occurrence fields that a malformed line may omit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    ProjectId,
    Fingerprint,
    IssueTitle,
    Subtitle,
    Type,
    DetectionTime,
    EventIds,
}

/// How a (malformed) occurrence deviates from a valid one.
#[derive(Debug, Clone, Copy, Default)]
struct Fault {
    omit: Option<Field>,
    unknown_type: bool,
    /// Replacement JSON value for `id` / top-level `event_id`.
    bad_id: Option<&'static str>,
    bad_event_id: Option<&'static str>,
    project_mismatch: bool,
    payload_type: Option<&'static str>,
    empty_fingerprint: bool,
    /// `detection_time` as an ISO string with this (forbidden) offset.
    detection_offset: Option<&'static str>,
    event_id_mismatch: bool,
}

const BAD_UUIDS: &[&str] = &[
    "\"xyz\"",
    "\"not-a-uuid\"",
    "\"0123456789abcdef0123456789abcde\"",
    "\"0123456789abcdef0123456789abcdef01\"",
    "\"0123456789abcdefg123456789abcdef\"",
    "\"\"",
    "12345",
    "null",
];

struct Gen<'o> {
    w: World,
    rng: Rng,
    buf: Vec<u8>,
    out: &'o mut dyn Write,
    /// Fingerprints that had a well-formed occurrence, in first-emission order.
    emitted: Vec<bool>,
    emitted_list: Vec<u32>,
    recent_fps: Vec<u32>,
    recent_pos: usize,
    /// Last well-formed lines: (project index, the time the dedup stage remembers the id with,
    /// bytes incl. '\n').
    ring: Vec<(u32, i64, Vec<u8>)>,
    ring_pos: usize,
    /// Per-project watermark as docs/semantics.md §4.1 computes it (µs, 0 before the first).
    watermark: Vec<i64>,
}

impl<'o> Gen<'o> {
    fn record_id_form(&mut self) -> UuidForm {
        match self.rng.pm() {
            0..=899 => UuidForm::Hex,
            900..=969 => UuidForm::Hyphenated,
            970..=981 => UuidForm::UpperHex,
            982..=989 => UuidForm::UpperHyphenated,
            990..=996 => UuidForm::Braced,
            _ => UuidForm::Urn,
        }
    }

    /// Writes an occurrence of fingerprint `fi` at event time `t` (µs) and returns its event
    /// time as the decoder sees it (`event.timestamp`, else `detection_time`).
    fn occurrence(&mut self, fi: usize, t: i64, f: Fault) -> i64 {
        let fp = self.w.fps[fi];
        let spec = &TYPES[fp.ty as usize];
        let pid = fp.project as u64 + 1;
        let v = &self.w.v;
        let rng = &mut self.rng;
        let b = &mut self.buf;

        b.push(b'{');
        if f.omit != Some(Field::Id) {
            s(b, "\"id\":");
            if let Some(bad) = f.bad_id {
                s(b, bad);
            } else {
                let form = match rng.pm() {
                    0..=899 => UuidForm::Hex,
                    900..=969 => UuidForm::Hyphenated,
                    970..=981 => UuidForm::UpperHex,
                    982..=989 => UuidForm::UpperHyphenated,
                    990..=996 => UuidForm::Braced,
                    _ => UuidForm::Urn,
                };
                b.push(b'"');
                push_uuid(b, rng.next(), rng.next(), form);
                b.push(b'"');
            }
            b.push(b',');
        }
        if f.omit != Some(Field::ProjectId) {
            s(b, "\"project_id\":");
            push_u64(b, pid);
            b.push(b',');
        }
        // event id: the same value at the top level (usually) and in the event.
        let (ehi, elo) = (rng.next(), rng.next());
        let top_event_id = f.omit != Some(Field::EventIds) && (f.bad_event_id.is_some() || f.event_id_mismatch || rng.pm() >= 450);
        if top_event_id {
            s(b, "\"event_id\":");
            if let Some(bad) = f.bad_event_id {
                s(b, bad);
            } else if f.event_id_mismatch {
                b.push(b'"');
                push_uuid(b, rng.next(), rng.next(), UuidForm::Hex);
                b.push(b'"');
            } else {
                b.push(b'"');
                let form = if rng.pm() < 950 { UuidForm::Hex } else { UuidForm::Hyphenated };
                push_uuid(b, ehi, elo, form);
                b.push(b'"');
            }
            b.push(b',');
        }
        if f.omit != Some(Field::Fingerprint) {
            s(b, "\"fingerprint\":");
            if f.empty_fingerprint {
                s(b, "[]");
            } else {
                push_fingerprint(b, &self.w.fps, &fp);
            }
            b.push(b',');
        }
        if f.omit != Some(Field::IssueTitle) {
            s(b, "\"issue_title\":\"");
            write_title(b, v, &fp);
            s(b, "\",");
        }
        if f.omit != Some(Field::Subtitle) {
            s(b, "\"subtitle\":\"");
            write_subtitle(b, v, &fp);
            s(b, "\",");
        }
        match spec.kind {
            Kind::RageClick | Kind::Hydration => {
                s(b, "\"resource_id\":\"");
                push_hex64(b, rng.next(), 16, HEX);
                push_hex64(b, rng.next(), 16, HEX);
                s(b, "\",");
            }
            _ => {
                if rng.pm() < 300 {
                    s(b, "\"resource_id\":null,");
                }
            }
        }
        if rng.pm() < 980 {
            write_evidence(b, v, &fp, rng, t);
            b.push(b',');
        }
        if f.omit != Some(Field::Type) {
            s(b, "\"type\":");
            push_u64(b, if f.unknown_type { 9999 } else { spec.id as u64 });
            b.push(b',');
        }
        // detection_time: shortly after the event.
        let detection = t + rng.range(50_000, 3_000_000) as i64;
        let mut event_time = detection;
        if f.omit != Some(Field::DetectionTime) {
            s(b, "\"detection_time\":");
            if let Some(offset) = f.detection_offset {
                b.push(b'"');
                push_iso(b, detection, 6);
                s(b, offset);
                b.push(b'"');
            } else {
                match rng.pm() {
                    0..=799 => push_epoch(b, detection),
                    800..=899 => {
                        b.push(b'"');
                        push_iso(b, detection, 6);
                        b.push(b'"');
                    }
                    900..=969 => {
                        b.push(b'"');
                        push_iso(b, detection, 6);
                        s(b, "Z\"");
                    }
                    _ => {
                        b.push(b'"');
                        push_iso(b, detection, 3);
                        s(b, "Z\"");
                        event_time = detection - detection.rem_euclid(1000);
                    }
                }
            }
            b.push(b',');
        }
        match rng.pm() {
            0..=949 => {
                s(b, "\"level\":\"");
                s(b, spec.level);
                s(b, "\",");
            }
            950..=964 => {}
            965..=974 => s(b, "\"level\":\"\","),
            975..=979 => s(b, "\"level\":null,"),
            980..=989 => s(b, "\"level\":\"warning\","),
            990..=997 => s(b, "\"level\":\"fatal\","),
            _ => s(b, "\"level\":\"critical\","),
        }
        match (culprit(v, &fp), rng.pm()) {
            (Some(c), 0..=939) => {
                s(b, "\"culprit\":\"");
                s(b, c);
                s(b, "\",");
            }
            (_, 940..=969) | (None, _) => {}
            (_, 970..=989) => s(b, "\"culprit\":null,"),
            _ => s(b, "\"culprit\":\"\","),
        }
        let prio = |rng: &mut Rng| [25u64, 50, 75][rng.below(3) as usize];
        match rng.pm() {
            0..=399 => s(b, "\"initial_issue_priority\":null,"),
            400..=849 => {}
            850..=949 => {
                s(b, "\"initial_issue_priority\":");
                push_u64(b, prio(rng));
                b.push(b',');
            }
            950..=979 => {
                s(b, "\"priority\":");
                push_u64(b, prio(rng));
                b.push(b',');
            }
            980..=989 => s(b, "\"priority\":null,"),
            990..=994 => {
                s(b, "\"initial_issue_priority\":null,\"priority\":");
                push_u64(b, prio(rng));
                b.push(b',');
            }
            _ => {
                s(b, "\"initial_issue_priority\":");
                push_u64(b, prio(rng));
                s(b, ",\"priority\":");
                push_u64(b, prio(rng));
                b.push(b',');
            }
        }
        if let Some(p) = f.payload_type {
            s(b, "\"payload_type\":");
            s(b, p);
            b.push(b',');
        } else if rng.pm() < 700 {
            s(b, "\"payload_type\":\"occurrence\",");
        }

        // Inline event.
        let proj = &self.w.projects[fp.project as usize];
        s(b, "\"event\":{");
        if f.omit != Some(Field::EventIds) {
            s(b, "\"event_id\":\"");
            let form = if rng.pm() < 970 { UuidForm::Hex } else { UuidForm::UpperHyphenated };
            push_uuid(b, ehi, elo, form);
            s(b, "\",");
        }
        s(b, "\"project_id\":");
        push_u64(b, if f.project_mismatch { pid + 1 } else { pid });
        s(b, ",\"platform\":\"");
        s(b, PLATFORMS[proj.platform as usize]);
        s(b, "\",\"tags\":");
        write_tags(b, v, &fp, rng);
        match rng.pm() {
            0..=449 => {
                s(b, ",\"timestamp\":\"");
                push_iso(b, t, 6);
                s(b, "+00:00\"");
                event_time = t;
            }
            450..=549 => {
                s(b, ",\"timestamp\":\"");
                push_iso(b, t, 6);
                s(b, "Z\"");
                event_time = t;
            }
            550..=949 => {
                s(b, ",\"timestamp\":");
                push_epoch(b, t);
                event_time = t;
            }
            _ => {}
        }
        if rng.pm() < 120 {
            s(b, ",\"received\":");
            push_epoch(b, detection + rng.range(10_000, 900_000) as i64);
        }
        match rng.pm() {
            0..=719 => s(b, ",\"environment\":\"production\""),
            720..=859 => s(b, ",\"environment\":\"staging\""),
            860..=929 => s(b, ",\"environment\":\"dev\""),
            _ => {}
        }
        if spec.release {
            let r = rng.pm();
            if r < 930 {
                let mut idx = proj.release_starts.partition_point(|&st| st <= t).max(1) - 1;
                if r < 80 && idx > 0 {
                    idx -= 1; // a straggler still on the previous release
                }
                s(b, ",\"release\":\"");
                s(b, &proj.releases[idx]);
                b.push(b'"');
            }
        }
        if spec.user && rng.pm() < 850 {
            let k = self.w.user_cdfs[proj.pool as usize].sample(rng) as u64;
            s(b, ",\"user\":");
            write_user(b, fp.project, k);
        }
        if rng.pm() < 400 {
            s(b, ",\"trace_id\":\"");
            push_hex64(b, rng.next(), 16, HEX);
            push_hex64(b, rng.next(), 16, HEX);
            b.push(b'"');
        }
        s(b, "}}\n");
        event_time
    }

    fn status_change(&mut self, fi: usize, omit: Option<&'static str>) {
        let fp = self.w.fps[fi];
        let form = self.record_id_form();
        let b = &mut self.buf;
        s(b, "{\"payload_type\":\"status_change\",\"id\":\"");
        let (hi, lo) = (self.rng.next(), self.rng.next());
        if self.rng.pm() < 5 {
            // Status-change ids need not be UUIDs.
            s(b, "status-");
            push_hex64(b, hi, 16, HEX);
        } else {
            push_uuid(b, hi, lo, form);
        }
        b.push(b'"');
        if omit != Some("project_id") {
            s(b, ",\"project_id\":");
            push_u64(b, fp.project as u64 + 1);
        }
        if omit != Some("fingerprint") {
            s(b, ",\"fingerprint\":");
            push_fingerprint(b, &self.w.fps, &fp);
        }
        // (status, substatus): -1 = null, -2 = absent.
        const MIX: &[(i64, i64, u32)] = &[
            (1, -1, 22),
            (1, -2, 10),
            (2, 1, 8),
            (2, 4, 6),
            (2, 5, 6),
            (0, 2, 15),
            (0, 3, 10),
            (0, 6, 11),
            // invalid transitions
            (0, -1, 2),
            (2, -2, 2),
            (1, 5, 2),
            (1, 4, 1),
            (2, 3, 2),
            (0, 7, 2),
            (4, -1, 1),
        ];
        let weights: [u32; MIX.len()] = std::array::from_fn(|i| MIX[i].2);
        let (st, sub, _) = MIX[self.rng.weighted(&weights)];
        if omit != Some("new_status") {
            s(b, ",\"new_status\":");
            push_u64(b, st as u64);
        }
        match sub {
            -2 => {}
            -1 => s(b, ",\"new_substatus\":null"),
            x => {
                s(b, ",\"new_substatus\":");
                push_u64(b, x as u64);
            }
        }
        s(b, "}\n");
    }

    /// Copies the line starting at `start` into the duplicate ring.
    fn remember(&mut self, start: usize, project: u32, t: i64) {
        let line = &self.buf[start..];
        if self.ring.len() < RING {
            self.ring.push((project, t, line.to_vec()));
        } else {
            let slot = &mut self.ring[self.ring_pos];
            slot.0 = project;
            slot.1 = t;
            slot.2.clear();
            slot.2.extend_from_slice(line);
            self.ring_pos = (self.ring_pos + 1) % RING;
        }
    }

    /// A ring entry whose id the dedup stage still remembers (with `DUP_SLACK` to spare), or
    /// None. Tries a few random entries, then the newest eligible one.
    fn duplicate_candidate(&mut self) -> Option<usize> {
        let len = self.ring.len();
        if len == 0 {
            return None;
        }
        let ok = |g: &Self, i: usize| {
            let (p, t, _) = &g.ring[i];
            g.watermark[*p as usize] - t <= DUP_SLACK
        };
        for _ in 0..4 {
            let i = self.rng.below(len as u64) as usize;
            if ok(self, i) {
                return Some(i);
            }
        }
        (0..len.min(8))
            .map(|k| (self.ring_pos + 2 * len - 1 - k) % len)
            .find(|&i| ok(self, i))
    }

    fn note_emitted(&mut self, fi: usize) {
        if !self.emitted[fi] {
            self.emitted[fi] = true;
            self.emitted_list.push(fi as u32);
        }
        if self.recent_fps.len() < RECENT {
            self.recent_fps.push(fi as u32);
        } else {
            self.recent_fps[self.recent_pos] = fi as u32;
            self.recent_pos = (self.recent_pos + 1) % RECENT;
        }
    }

    fn malformed(&mut self, t: i64) {
        let fi = self.w.fp_cdf.sample(&mut self.rng);
        let mut f = Fault::default();
        match self.rng.weighted(&[20, 20, 12, 12, 10, 8, 8, 4, 3, 3]) {
            0 => {
                // Truncated JSON: a proper prefix of a compact object is never valid JSON.
                let start = self.buf.len();
                self.occurrence(fi, t, f);
                let len = self.buf.len() - 1 - start;
                let cut = 1 + self.rng.below(len as u64 - 1) as usize;
                self.buf.truncate(start + cut);
                self.buf.push(b'\n');
                return;
            }
            1 => {
                if self.rng.pm() < 250 {
                    let omit = *self.rng.pick(&["project_id", "fingerprint", "new_status"]);
                    self.status_change(fi, Some(omit));
                    return;
                }
                const FIELDS: &[Field] = &[
                    Field::Id,
                    Field::ProjectId,
                    Field::Fingerprint,
                    Field::IssueTitle,
                    Field::Subtitle,
                    Field::Type,
                    Field::DetectionTime,
                    Field::EventIds,
                ];
                f.omit = Some(*self.rng.pick(FIELDS));
            }
            2 => f.unknown_type = true,
            3 => {
                let bad = *self.rng.pick(BAD_UUIDS);
                if self.rng.pm() < 700 {
                    f.bad_id = Some(bad);
                } else {
                    // A null top-level event_id might be read as absent: never use it there.
                    f.bad_event_id = Some(if bad == "null" { "\"xyz\"" } else { bad });
                }
            }
            4 => f.project_mismatch = true,
            5 => {
                const NON_OBJECTS: &[&str] = &[
                    "[1,2,3]",
                    "\"occurrence\"",
                    "null",
                    "42",
                    "true",
                    "[{\"payload_type\":\"occurrence\"}]",
                ];
                let x = *self.rng.pick(NON_OBJECTS);
                s(&mut self.buf, x);
                self.buf.push(b'\n');
                return;
            }
            6 => f.payload_type = Some(*self.rng.pick(&["\"feedback_v2\"", "\"STATUS_CHANGE\"", "\"metric_alert\"", "\"\""])),
            7 => f.empty_fingerprint = true,
            8 => f.detection_offset = Some(*self.rng.pick(&["+00:00", "+02:00", "-05:00"])),
            _ => f.event_id_mismatch = true,
        }
        self.occurrence(fi, t, f);
    }
}

fn run(opts: &GenerateOptions, out: &mut dyn Write, on_line: &mut dyn FnMut(LineKind, &[u8])) -> io::Result<GenerateStats> {
    let mut stats = GenerateStats::default();
    if opts.count == 0 {
        return Ok(stats);
    }
    let mut setup_rng = Rng::new(opts.seed);
    let world = World::new(opts, &mut setup_rng);
    let nfp = world.fps.len();
    let mut g = Gen {
        w: world,
        rng: Rng::new(opts.seed ^ 0x6a09_e667_f3bc_c908),
        buf: Vec::with_capacity(FLUSH_AT + 64 * 1024),
        out,
        emitted: vec![false; nfp],
        emitted_list: Vec::new(),
        recent_fps: Vec::with_capacity(RECENT),
        recent_pos: 0,
        ring: Vec::with_capacity(RING),
        ring_pos: 0,
        watermark: vec![0; opts.projects.max(1) as usize],
    };
    let malformed = if opts.malformed_ratio.is_finite() {
        opts.malformed_ratio.clamp(0.0, 0.9)
    } else {
        0.0
    };
    let start_us = opts.start_time.saturating_mul(US);
    let span_us = opts.span_seconds.max(0).saturating_mul(US) as i128;
    let count = opts.count as i128;

    for n in 0..opts.count {
        let base = start_us + (span_us * n as i128 / count) as i64;
        // Event time: small forward jitter; ~3% of lines up to 10 minutes late.
        let t = if g.rng.pm() < 30 {
            base - g.rng.below(600 * US as u64) as i64
        } else {
            base + g.rng.below(1_500_000) as i64
        };
        let start = g.buf.len();
        let r = g.rng.unit();
        let kind = if r < malformed {
            g.malformed(t);
            stats.malformed += 1;
            LineKind::Malformed
        } else if let Some(pick) = if r < malformed + DUPLICATE_RATIO {
            g.duplicate_candidate()
        } else {
            None
        } {
            // An exact copy the dedup stage (window >= DUP_SLACK) is certain to catch; if no
            // recent line qualifies, an ordinary occurrence is written instead.
            let Gen { ring, buf, .. } = &mut g;
            buf.extend_from_slice(&ring[pick].2);
            stats.duplicates += 1;
            LineKind::Duplicate
        } else if (malformed + DUPLICATE_RATIO..malformed + DUPLICATE_RATIO + STATUS_RATIO).contains(&r) && !g.emitted_list.is_empty() {
            let fi = if g.rng.pm() < 700 {
                *g.rng.pick(&g.recent_fps) as usize
            } else {
                *g.rng.pick(&g.emitted_list) as usize
            };
            g.status_change(fi, None);
            // A status change's id is remembered with its project's watermark.
            let p = g.w.fps[fi].project;
            g.remember(start, p, g.watermark[p as usize]);
            stats.status_changes += 1;
            LineKind::StatusChange
        } else {
            let fi = g.w.fp_cdf.sample(&mut g.rng);
            let event_time = g.occurrence(fi, t, Fault::default());
            g.note_emitted(fi);
            let p = g.w.fps[fi].project;
            let wm = &mut g.watermark[p as usize];
            *wm = (*wm).max(event_time);
            g.remember(start, p, event_time);
            stats.occurrences += 1;
            LineKind::Occurrence
        };
        on_line(kind, &g.buf[start..]);
        stats.lines += 1;
        if g.buf.len() >= FLUSH_AT {
            g.out.write_all(&g.buf)?;
            g.buf.clear();
        }
    }
    g.out.write_all(&g.buf)?;
    g.out.flush()?;
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn gen(opts: &GenerateOptions) -> (Vec<u8>, GenerateStats) {
        let mut out = Vec::new();
        let stats = generate(opts, &mut out).unwrap();
        (out, stats)
    }

    fn gen_kinds(opts: &GenerateOptions) -> (Vec<(LineKind, Vec<u8>)>, GenerateStats) {
        let mut lines = Vec::new();
        let mut sink = Vec::new();
        let stats = run(opts, &mut sink, &mut |k, l| lines.push((k, l.to_vec()))).unwrap();
        let joined: Vec<u8> = lines.iter().flat_map(|(_, l)| l.iter().copied()).collect();
        assert_eq!(joined, sink, "callback lines must be the written bytes");
        (lines, stats)
    }

    fn is_hex32(x: &str) -> bool {
        x.len() == 32 && x.bytes().all(|c| c.is_ascii_hexdigit())
    }

    /// UUID forms of docs/semantics.md §2 → 32 lowercase hex.
    fn norm_uuid(v: &Value) -> Option<String> {
        let mut x = v.as_str()?;
        if let Some(r) = x.strip_prefix("urn:uuid:") {
            x = r;
        } else if let Some(r) = x.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            x = r;
        }
        let hex = if x.len() == 36 {
            let bs = x.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| bs[i] != b'-') {
                return None;
            }
            x.replace('-', "")
        } else {
            x.to_string()
        };
        is_hex32(&hex).then(|| hex.to_ascii_lowercase())
    }

    fn valid_time(v: &Value, allow_offset: bool) -> bool {
        match v {
            Value::Number(_) => true,
            Value::String(x) => {
                let bs = x.as_bytes();
                if bs.len() < 19 || bs[4] != b'-' || bs[10] != b'T' {
                    return false;
                }
                let mut rest = &x[19..];
                if let Some(r) = rest.strip_prefix('.') {
                    let d = r.bytes().take_while(|c| c.is_ascii_digit()).count();
                    if !(1..=6).contains(&d) {
                        return false;
                    }
                    rest = &r[d..];
                }
                rest.is_empty() || rest == "Z" || (allow_offset && rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
            }
            _ => false,
        }
    }

    /// A minimal re-implementation of the decoder of docs/semantics.md §2.
    fn decode(line: &[u8]) -> Result<&'static str, String> {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("json: {e}"))?;
        let o = v.as_object().ok_or("not an object")?;
        let fingerprint_ok = |o: &serde_json::Map<String, Value>| {
            o.get("fingerprint")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
        };
        let pid = o.get("project_id").and_then(Value::as_u64).ok_or("project_id")?;
        match o.get("payload_type").map(|p| p.as_str()) {
            None | Some(Some("occurrence")) => {}
            Some(Some("status_change")) => {
                o.get("id").and_then(Value::as_str).ok_or("id")?;
                if !fingerprint_ok(o) {
                    return Err("fingerprint".into());
                }
                o.get("new_status").and_then(Value::as_i64).ok_or("new_status")?;
                match o.get("new_substatus") {
                    None | Some(Value::Null) => {}
                    Some(x) => {
                        x.as_i64().ok_or("new_substatus")?;
                    }
                }
                return Ok("status_change");
            }
            _ => return Err("payload_type".into()),
        }
        norm_uuid(o.get("id").ok_or("id")?).ok_or("bad id")?;
        if !fingerprint_ok(o) {
            return Err("fingerprint".into());
        }
        o.get("issue_title").and_then(Value::as_str).ok_or("issue_title")?;
        o.get("subtitle").and_then(Value::as_str).ok_or("subtitle")?;
        let ty = o.get("type").and_then(Value::as_u64).ok_or("type")?;
        if !TYPES.iter().any(|t| t.id as u64 == ty) {
            return Err("unknown type".into());
        }
        if !valid_time(o.get("detection_time").ok_or("detection_time")?, false) {
            return Err("detection_time".into());
        }
        let top = match o.get("event_id") {
            Some(x) => Some(norm_uuid(x).ok_or("bad event_id")?),
            None => None,
        };
        let ev = o.get("event").and_then(Value::as_object).ok_or("event")?;
        let inner = match ev.get("event_id") {
            Some(x) => Some(norm_uuid(x).ok_or("bad event.event_id")?),
            None => None,
        };
        match (&top, &inner) {
            (None, None) => return Err("no event id".into()),
            (Some(a), Some(b)) if a != b => return Err("event id mismatch".into()),
            _ => {}
        }
        if ev.get("project_id").and_then(Value::as_u64) != Some(pid) {
            return Err("event.project_id".into());
        }
        if let Some(ts) = ev.get("timestamp") {
            if !valid_time(ts, true) {
                return Err("event.timestamp".into());
            }
        }
        for k in ["level", "culprit"] {
            if let Some(x) = o.get(k) {
                if !(x.is_null() || x.is_string()) {
                    return Err(k.into());
                }
            }
        }
        for k in ["initial_issue_priority", "priority"] {
            if let Some(x) = o.get(k) {
                if !(x.is_null() || [25, 50, 75].contains(&x.as_u64().unwrap_or(0))) {
                    return Err(k.into());
                }
            }
        }
        Ok("occurrence")
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Event-time parsing of docs/semantics.md §2 (µs).
    fn parse_time(v: &Value) -> i64 {
        match v {
            Value::Number(n) => (n.as_f64().unwrap() * 1e6).round() as i64,
            Value::String(x) => {
                let n = |a: usize, b: usize| x[a..b].parse::<i64>().unwrap();
                let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
                let mut us = ((days * 86_400) + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)) * US;
                let mut rest = &x[19..];
                if let Some(r) = rest.strip_prefix('.') {
                    let d = r.bytes().take_while(u8::is_ascii_digit).count();
                    us += r[..d].parse::<i64>().unwrap() * 10i64.pow(6 - d as u32);
                    rest = &r[d..];
                }
                if rest.len() == 6 {
                    let off = (rest[1..3].parse::<i64>().unwrap() * 60 + rest[4..6].parse::<i64>().unwrap()) * 60 * US;
                    us -= if rest.starts_with('-') { -off } else { off };
                }
                us
            }
            _ => panic!("time {v}"),
        }
    }

    /// Replays the dedup stage of docs/semantics.md §4.1 and returns how many records it skips.
    fn replay_dedup(lines: &[(LineKind, Vec<u8>)], window: i64) -> u64 {
        use std::collections::HashMap;
        let mut wm: HashMap<u64, i64> = HashMap::new();
        let mut seen: HashMap<u64, HashMap<String, i64>> = HashMap::new();
        let mut dups = 0;
        for (kind, line) in lines {
            if *kind == LineKind::Malformed {
                continue;
            }
            let v: Value = serde_json::from_slice(line).unwrap();
            let p = v["project_id"].as_u64().unwrap();
            let w = wm.entry(p).or_insert(0);
            let is_status = v["payload_type"] == "status_change";
            let id = norm_uuid(&v["id"]).unwrap_or_else(|| v["id"].as_str().unwrap().to_string());
            let time = if is_status {
                *w
            } else {
                let et = match v["event"].get("timestamp") {
                    Some(ts) => parse_time(ts),
                    None => parse_time(&v["detection_time"]),
                };
                *w = (*w).max(et);
                et
            };
            let cutoff = *w - window;
            let mem = seen.entry(p).or_default();
            mem.retain(|_, t| *t >= cutoff);
            let dup = mem.contains_key(&id);
            assert_eq!(dup, *kind == LineKind::Duplicate, "{}", String::from_utf8_lossy(line));
            if dup {
                dups += 1;
            } else {
                mem.insert(id, time);
            }
        }
        dups
    }

    #[test]
    fn duplicates_are_exactly_the_ones_dedup_catches() {
        // Dense (10 lines/s) and sparse (~2 min per line) streams, both windows.
        for (count, span) in [(20_000u64, 2_000i64), (6_000, 14 * 86_400)] {
            let opts = GenerateOptions {
                count,
                span_seconds: span,
                fingerprints: 500,
                projects: 5,
                malformed_ratio: 0.01,
                ..Default::default()
            };
            let (lines, stats) = gen_kinds(&opts);
            assert!(stats.duplicates > count / 200, "{stats:?}");
            for window in [300 * US, 600 * US] {
                assert_eq!(replay_dedup(&lines, window), stats.duplicates);
            }
        }
    }

    #[test]
    fn deterministic() {
        let opts = GenerateOptions {
            count: 20_000,
            malformed_ratio: 0.01,
            ..Default::default()
        };
        let (a, sa) = gen(&opts);
        let (b, sb) = gen(&opts);
        assert_eq!(sa, sb);
        assert!(a == b, "same options must give identical bytes");
        let (c, _) = gen(&GenerateOptions { seed: 2, ..opts.clone() });
        assert!(a != c);
        // A prefix of a longer run is not required to match (times scale with count), but the
        // same count with a different sink must.
        let mut w = std::io::BufWriter::new(Vec::new());
        generate(&opts, &mut w).unwrap();
        assert!(w.into_inner().unwrap() == a);
    }

    #[test]
    fn lines_decode_as_classified() {
        let opts = GenerateOptions {
            count: 30_000,
            malformed_ratio: 0.05,
            fingerprints: 3_000,
            ..Default::default()
        };
        let (lines, stats) = gen_kinds(&opts);
        assert_eq!(lines.len() as u64, stats.lines);
        let mut reasons = std::collections::BTreeMap::new();
        for (i, (kind, line)) in lines.iter().enumerate() {
            assert_eq!(line.last(), Some(&b'\n'));
            let body = &line[..line.len() - 1];
            assert!(!body.contains(&b'\n'));
            assert!(!body.iter().all(u8::is_ascii_whitespace), "line {i} is blank");
            let r = decode(body);
            match kind {
                LineKind::Occurrence => assert_eq!(r, Ok("occurrence"), "line {i}: {}", String::from_utf8_lossy(body)),
                LineKind::StatusChange => {
                    assert_eq!(r, Ok("status_change"), "line {i}: {}", String::from_utf8_lossy(body))
                }
                LineKind::Duplicate => assert!(r.is_ok(), "line {i}: {}", String::from_utf8_lossy(body)),
                LineKind::Malformed => {
                    let e = r.expect_err(&format!("malformed line {i} decodes: {}", String::from_utf8_lossy(body)));
                    let key = e.split(':').next().unwrap().to_string();
                    *reasons.entry(key).or_insert(0) += 1;
                }
            }
        }
        // A mix of failure modes.
        assert!(reasons.len() >= 8, "{reasons:?}");
    }

    #[test]
    fn every_well_formed_line_is_json_without_malformed() {
        let opts = GenerateOptions {
            count: 30_000,
            malformed_ratio: 0.0,
            ..Default::default()
        };
        let (out, stats) = gen(&opts);
        assert_eq!(stats.malformed, 0);
        let mut n = 0;
        for line in out.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            assert!(v.is_object());
            n += 1;
        }
        assert_eq!(n, opts.count);
    }

    #[test]
    fn ratios() {
        let opts = GenerateOptions {
            count: 100_000,
            fingerprints: 10_000,
            ..Default::default()
        };
        let (_, st) = gen(&opts);
        assert_eq!(st.lines, 100_000);
        assert_eq!(st.lines, st.occurrences + st.status_changes + st.duplicates + st.malformed);
        let f = |x: u64| x as f64 / st.lines as f64;
        assert!((f(st.status_changes) - 0.05).abs() < 0.005, "{st:?}");
        assert!((f(st.duplicates) - 0.01).abs() < 0.002, "{st:?}");
        assert!((f(st.malformed) - 0.002).abs() < 0.0006, "{st:?}");
        assert!((f(st.occurrences) - 0.938).abs() < 0.006, "{st:?}");
        let (_, st) = gen(&GenerateOptions {
            malformed_ratio: 0.1,
            count: 50_000,
            ..opts
        });
        assert!((st.malformed as f64 / 50_000.0 - 0.1).abs() < 0.005, "{st:?}");
    }

    #[test]
    fn stream_shape() {
        let opts = GenerateOptions {
            count: 50_000,
            fingerprints: 2_000,
            projects: 10,
            ..Default::default()
        };
        let (lines, _) = gen_kinds(&opts);
        let mut fp_counts = std::collections::HashMap::<String, u64>::new();
        let mut fp_meta = std::collections::HashMap::<String, (u64, u64)>::new();
        let mut types = std::collections::BTreeMap::<u64, u64>::new();
        let mut projects = std::collections::BTreeMap::<u64, u64>::new();
        let mut multi = 0u64;
        let mut emitted = std::collections::HashSet::<String>::new();
        let mut bytes = 0usize;
        let mut late = 0u64;
        let mut max_t = 0f64;
        let mut id_forms = [0u64; 4];
        let start = opts.start_time as f64;
        let end = start + opts.span_seconds as f64;
        let mut occ = 0u64;
        for (i, (kind, line)) in lines.iter().enumerate() {
            bytes += line.len();
            match kind {
                LineKind::Occurrence => {
                    occ += 1;
                    let v: Value = serde_json::from_slice(line).unwrap();
                    let fp = v["fingerprint"].as_array().unwrap();
                    let key = fp[0].as_str().unwrap().to_string();
                    if fp.len() > 1 {
                        multi += 1;
                    }
                    let meta = (v["project_id"].as_u64().unwrap(), v["type"].as_u64().unwrap());
                    assert_eq!(
                        *fp_meta.entry(key.clone()).or_insert(meta),
                        meta,
                        "fingerprint keeps project and type"
                    );
                    *fp_counts.entry(key.clone()).or_default() += 1;
                    *types.entry(meta.1).or_default() += 1;
                    *projects.entry(meta.0).or_default() += 1;
                    emitted.insert(key);
                    let id = v["id"].as_str().unwrap();
                    id_forms[match id.len() {
                        32 if id.bytes().all(|c| !c.is_ascii_uppercase()) => 0,
                        32 => 2,
                        36 if id.bytes().all(|c| !c.is_ascii_uppercase()) => 1,
                        _ => 3,
                    }] += 1;
                    let ts = match &v["event"]["timestamp"] {
                        Value::Number(n) => Some(n.as_f64().unwrap()),
                        _ => None,
                    };
                    if let Some(ts) = ts {
                        assert!(ts >= start - 700.0 && ts <= end + 10.0, "{ts}");
                        if ts < max_t - 5.0 {
                            late += 1;
                        }
                        max_t = max_t.max(ts);
                    }
                }
                LineKind::StatusChange => {
                    let v: Value = serde_json::from_slice(line).unwrap();
                    let key = v["fingerprint"][0].as_str().unwrap();
                    assert!(emitted.contains(key), "status change for an unseen fingerprint");
                }
                LineKind::Duplicate => {
                    // A copy of one of the last RING first emissions.
                    let found = lines[..i]
                        .iter()
                        .rev()
                        .filter(|(k, _)| matches!(k, LineKind::Occurrence | LineKind::StatusChange))
                        .take(RING)
                        .any(|(_, l)| l == line);
                    assert!(found, "line {i}");
                }
                LineKind::Malformed => {}
            }
        }
        let avg = bytes as f64 / lines.len() as f64;
        assert!((350.0..=750.0).contains(&avg), "average line {avg} bytes");
        // Zipf: the hottest fingerprint is much hotter than the median one.
        let mut counts: Vec<u64> = fp_counts.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert!(counts[0] > 50 * counts[counts.len() / 2], "{:?}", &counts[..10]);
        assert!(types.len() >= 15, "{types:?}");
        assert!(projects.len() == 10 && projects[&1] > projects[&10] * 2, "{projects:?}");
        let mf = multi as f64 / occ as f64;
        assert!(mf > 0.005 && mf < 0.2, "multi-hash share {mf}");
        assert!(late > 0 && (late as f64) < 0.06 * occ as f64, "late {late}");
        assert!(
            id_forms[0] > id_forms[1] && id_forms[1] > 0 && id_forms[2] > 0 && id_forms[3] > 0,
            "{id_forms:?}"
        );
    }

    #[test]
    fn shared_second_strings_stay_within_project_and_type() {
        let opts = GenerateOptions {
            fingerprints: 20_000,
            projects: 3,
            ..Default::default()
        };
        let mut rng = Rng::new(opts.seed);
        let w = World::new(&opts, &mut rng);
        let mut n = [0; 5];
        for fp in &w.fps {
            match fp.second {
                Second::None => n[0] += 1,
                Second::Unique => n[1] += 1,
                Second::Same => n[2] += 1,
                Second::Primary(j) => {
                    let o = &w.fps[j as usize];
                    assert_eq!((o.project, o.ty), (fp.project, fp.ty));
                    n[3] += 1
                }
                Second::Alias(_) => n[4] += 1,
            }
        }
        let two = (n[1] + n[2] + n[3] + n[4]) as f64 / w.fps.len() as f64;
        assert!((two - 0.05).abs() < 0.01, "{n:?}");
        assert!(n[3] > 0 && n[4] > 0 && n[2] > 0, "{n:?}");
    }

    #[test]
    fn zipf_weights_match_powf() {
        let w = zipf_1_1(100_000);
        for k in [1usize, 2, 3, 10, 999, 12_345, 100_000] {
            let exact = (k as f64).powf(-1.1);
            assert!((w[k - 1] / exact - 1.0).abs() < 1e-12, "k={k}: {} vs {exact}", w[k - 1]);
        }
    }

    #[test]
    fn time_formatting() {
        let mut b = Vec::new();
        push_iso(&mut b, 1_704_067_200 * US + 5, 6);
        assert_eq!(b, b"2024-01-01T00:00:00.000005");
        b.clear();
        push_iso(&mut b, 951_782_400 * US + 123_456_789, 3); // 2000-02-29
        assert_eq!(b, b"2000-02-29T00:02:03.456");
        b.clear();
        push_epoch(&mut b, 1_704_067_200_000_001);
        assert_eq!(b, b"1704067200.000001");
        b.clear();
        push_uuid(&mut b, u64::MAX, 0, UuidForm::Braced);
        assert_eq!(b, b"{ffffffff-ffff-4fff-8000-000000000000}");
    }

    #[test]
    fn edge_options() {
        let (out, st) = gen(&GenerateOptions {
            count: 0,
            ..Default::default()
        });
        assert!(out.is_empty() && st == GenerateStats::default());
        let (out, st) = gen(&GenerateOptions {
            count: 500,
            fingerprints: 0,
            projects: 0,
            span_seconds: 0,
            ..Default::default()
        });
        assert_eq!(st.lines, 500);
        assert_eq!(out.iter().filter(|&&c| c == b'\n').count(), 500);
    }
}
