//! Whole lines: occurrences (well-formed or with one deliberate fault) and status changes, plus
//! the stream state the main loop keeps between lines (duplicate ring, recent fingerprints,
//! per-project watermarks).

use std::io::Write;

use super::json::{push_epoch, push_hex64, push_iso, push_u64, push_uuid, s, UuidForm, HEX};
use super::random::Rng;
use super::vocabulary::{Kind, PLATFORMS, TYPES};
use super::world::{culprit, push_fingerprint, write_evidence, write_subtitle, write_tags, write_title, write_user, World};
use super::{DUP_SLACK, RECENT, RING};

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
pub(super) struct Fault {
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

pub(super) struct Gen<'o> {
    pub(super) w: World,
    pub(super) rng: Rng,
    pub(super) buf: Vec<u8>,
    pub(super) out: &'o mut dyn Write,
    /// Fingerprints that had a well-formed occurrence, in first-emission order.
    pub(super) emitted: Vec<bool>,
    pub(super) emitted_list: Vec<u32>,
    pub(super) recent_fps: Vec<u32>,
    pub(super) recent_pos: usize,
    /// Last well-formed lines: (project index, the time the dedup stage remembers the id with,
    /// bytes incl. '\n').
    pub(super) ring: Vec<(u32, i64, Vec<u8>)>,
    pub(super) ring_pos: usize,
    /// Per-project watermark as docs/semantics.md §4.1 computes it (µs, 0 before the first).
    pub(super) watermark: Vec<i64>,
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
    pub(super) fn occurrence(&mut self, fi: usize, t: i64, f: Fault) -> i64 {
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

    pub(super) fn status_change(&mut self, fi: usize, omit: Option<&'static str>) {
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
    pub(super) fn remember(&mut self, start: usize, project: u32, t: i64) {
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
    pub(super) fn duplicate_candidate(&mut self) -> Option<usize> {
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

    pub(super) fn note_emitted(&mut self, fi: usize) {
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

    pub(super) fn malformed(&mut self, t: i64) {
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
