//! The world a stream is drawn from (projects with their releases and user pools; fingerprints
//! with a fixed project, type and parameters) and the writers of the fields derived from a
//! fingerprint. Title, subtitle and culprit depend on the fingerprint alone, so all of its
//! occurrences agree on them; evidence, tags and user also draw per-event randomness.

use std::collections::HashMap;

use super::json::{push_hex64, push_i64, push_u64, s, HEX};
use super::random::{fmix64, param, zipf_1_0, zipf_1_1, Cdf, Rng};
use super::vocabulary::{
    Kind, Vocab, ASSETS, CRON_FAILURES, CRON_SLUGS, FEEDBACK, FEEDBACK_NAMES, HOSTS, HTTP_PATHS, METHODS, METRICS, PAGES, PLATFORMS,
    RELEASE_NAMES, ROUTES, SELECTORS, TABLES, TYPES, UPTIME_URLS, VITALS,
};
use super::{GenerateOptions, US};

pub(super) struct Project {
    /// Platform index into PLATFORMS.
    pub(super) platform: u8,
    /// User pool class (index into `World::user_cdfs`).
    pub(super) pool: u8,
    /// Release names (escaped) in increasing order and their start times (µs).
    pub(super) releases: Vec<String>,
    pub(super) release_starts: Vec<i64>,
}

#[derive(Clone, Copy)]
pub(super) enum Second {
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
pub(super) struct Fp {
    /// Unique per fingerprint (bijective in its index): its fingerprint string and parameters.
    h: u64,
    /// Project index (project id = index + 1).
    pub(super) project: u32,
    pub(super) ty: u8,
    /// Kind-specific parameters (see `write_*`).
    a: u16,
    b: u16,
    c: u16,
    long_culprit: bool,
    pub(super) second: Second,
}

const USER_POOLS: [usize; 3] = [60, 600, 6000];

pub(super) struct World {
    pub(super) fps: Vec<Fp>,
    pub(super) fp_cdf: Cdf,
    pub(super) projects: Vec<Project>,
    pub(super) user_cdfs: Vec<Cdf>,
    pub(super) v: Vocab,
}

impl World {
    pub(super) fn new(opts: &GenerateOptions, rng: &mut Rng) -> World {
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
        let mut by_group: HashMap<(u32, u8), Vec<u32>> = HashMap::new();
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

/// `"<prefix><16 hex>"` — the first fingerprint string of `fp`.
fn push_fp_primary(b: &mut Vec<u8>, fp: &Fp) {
    b.push(b'"');
    s(b, TYPES[fp.ty as usize].fp_prefix);
    push_hex64(b, fp.h, 16, HEX);
    b.push(b'"');
}

/// The fingerprint array.
pub(super) fn push_fingerprint(b: &mut Vec<u8>, fps: &[Fp], fp: &Fp) {
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

pub(super) fn write_title(b: &mut Vec<u8>, v: &Vocab, fp: &Fp) {
    let route = || v.routes[fp.a as usize].as_str();
    let page = || v.pages[fp.a as usize].as_str();
    // Most titles are a fixed prefix and one vocabulary entry.
    let (prefix, subject) = match TYPES[fp.ty as usize].kind {
        Kind::NPlusOneDb => ("N+1 Query in ", route()),
        Kind::SlowDb => ("Slow DB Query in ", route()),
        Kind::ConsecutiveDb => ("Consecutive DB Queries in ", route()),
        Kind::ConsecutiveHttp => ("Consecutive HTTP in ", route()),
        Kind::NPlusOneApi => ("N+1 API Call in ", route()),
        Kind::LargePayload => ("Large HTTP payload in ", route()),
        Kind::RenderBlocking => ("Render Blocking Asset on ", page()),
        Kind::Uncompressed => ("Uncompressed Asset on ", page()),
        Kind::EndpointRegression => ("Endpoint Regression: ", route()),
        Kind::FileIoMain => ("File I/O on Main Thread", ""),
        Kind::FrameDrop => ("Frame Drop", ""),
        Kind::Cron => ("Cron failure: ", CRON_SLUGS[fp.a as usize]),
        Kind::RageClick => ("Rage Click", ""),
        Kind::Hydration => ("Hydration Error", ""),
        Kind::Feedback => ("User Feedback", ""),
        Kind::Uptime => ("Downtime detected for ", UPTIME_URLS[fp.a as usize]),
        Kind::Metric => {
            s(b, if fp.h & 1 == 0 { "Critical: " } else { "Warning: " });
            s(b, METRICS[fp.a as usize]);
            s(b, " above ");
            push_u64(b, fp.b as u64);
            s(b, " in 1h");
            return;
        }
        Kind::WebVitals => {
            s(b, "Poor ");
            s(b, VITALS[fp.b as usize]);
            s(b, " score on ");
            s(b, page());
            return;
        }
    };
    s(b, prefix);
    s(b, subject);
}

pub(super) fn write_subtitle(b: &mut Vec<u8>, v: &Vocab, fp: &Fp) {
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
pub(super) fn culprit<'a>(v: &'a Vocab, fp: &Fp) -> Option<&'a str> {
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
pub(super) fn write_evidence(b: &mut Vec<u8>, v: &Vocab, fp: &Fp, rng: &mut Rng, t: i64) {
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
pub(super) fn write_tags(b: &mut Vec<u8>, v: &Vocab, fp: &Fp, rng: &mut Rng) {
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
pub(super) fn write_user(b: &mut Vec<u8>, project: u32, k: u64) {
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
