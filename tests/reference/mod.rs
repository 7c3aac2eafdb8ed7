//! Independent, sequential reference model of `docs/semantics.md`.
//!
//! Written only from the specification (and `../shared/reference/issue-platform.md` §5.3 for the
//! group-type registry), never from the engine's code. Every record is handled one at a time in
//! log order with plain maps; there is no cleverness, so that the model is easy to audit.
//!
//! Entry points:
//! * [`reference_run`] — the issue dump (semantics.md §6) and the [`Summary`] counters;
//! * [`reference_run_detailed`] — the same plus every dead-lettered line with its reason.
//!
//! Interpretations of points the specification leaves open are marked `SPEC:` below.

#![allow(dead_code)]

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod decode;
mod primitives;
mod registry;

use decode::*;
pub use primitives::*;
pub use registry::*;

// ---------------------------------------------------------------------------------------------
// Public results
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq, Clone, Default, serde::Deserialize)]
pub struct Summary {
    pub lines_read: u64,
    pub occurrences_accepted: u64,
    pub status_changes_applied: u64,
    pub duplicates: u64,
    pub dropped_noise: u64,
    pub dropped_quota: u64,
    pub groups_created: u64,
    pub dead_lettered: u64,
}

/// One rejected line: `line` is the 0-based index into the `lines` slice given to the model.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct DeadLetter {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub issues: Vec<Value>,
    pub summary: Summary,
    pub dead_letters: Vec<DeadLetter>,
}

/// Runs the model over `lines` (one input log, in order) with the given dedup window in
/// seconds (the engine's default is 600). Returns the issue dump in numeric id order and the
/// summary counters.
pub fn reference_run(lines: &[String], dedup_window_secs: i64) -> (Vec<Value>, Summary) {
    let out = reference_run_detailed(lines, dedup_window_secs);
    (out.issues, out.summary)
}

pub fn reference_run_detailed(lines: &[String], dedup_window_secs: i64) -> Outcome {
    let mut model = Model::new(dedup_window_secs);
    for (index, line) in lines.iter().enumerate() {
        model.process_line(index, line);
    }
    Outcome {
        issues: model.dump(),
        summary: model.summary.clone(),
        dead_letters: model.dead_letters.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// State (semantics.md §4)
// ---------------------------------------------------------------------------------------------

pub const UNRESOLVED: u8 = 0;
pub const RESOLVED: u8 = 1;
pub const IGNORED: u8 = 2;

pub const SUB_UNTIL_ESCALATING: u8 = 1;
pub const SUB_ESCALATING: u8 = 2;
pub const SUB_ONGOING: u8 = 3;
pub const SUB_UNTIL_CONDITION_MET: u8 = 4;
pub const SUB_FOREVER: u8 = 5;
pub const SUB_REGRESSED: u8 = 6;
pub const SUB_NEW: u8 = 7;

#[derive(Debug, Clone)]
struct Group {
    id: u64,
    project_id: u64,
    short_id: u64,
    gtype: &'static GroupType,
    status: u8,
    substatus: Option<u8>,
    priority: u8,
    /// Priority the group was created with (what "returns to its initial value" restores).
    created_priority: u8,
    title: String,
    culprit: String,
    level: String,
    metadata_title: String,
    metadata_value: String,
    metadata_initial_priority: u8,
    /// Event time of the occurrence that last set title/culprit/level/metadata.
    title_time: i64,
    first_seen: i64,
    last_seen: i64,
    times_seen: u64,
    users: BTreeSet<String>,
    first_release: Option<String>,
    /// (event time, release) of the newest occurrence carrying a release.
    last_release: Option<(i64, String)>,
    environments: BTreeSet<String>,
    /// hour index (floor(t / 3600 s)) → occurrences
    hourly: BTreeMap<i64, u64>,
}

#[derive(Debug, Default)]
struct NoiseState {
    count: u64,
    last: i64,
}

#[derive(Debug, Default)]
struct ProjectState {
    watermark: i64,
    /// id → time it was remembered with
    seen: HashMap<String, i64>,
    /// the same entries ordered by time, to forget the oldest
    seen_by_time: BTreeSet<(i64, String)>,
    /// hash → index into `Model::groups`
    links: HashMap<String, usize>,
    /// candidate hash → noise state
    noise: HashMap<String, NoiseState>,
    /// type id → (bucket → creations)
    quota: HashMap<i64, BTreeMap<i64, u64>>,
    last_short_id: u64,
}

impl ProjectState {
    /// §4.1, after the watermark has been raised. Returns true for a duplicate.
    fn is_duplicate(&mut self, id: &str, time: i64, window_us: i64) -> bool {
        let cutoff = self.watermark.saturating_sub(window_us);
        while let Some((t, _)) = self.seen_by_time.first() {
            if *t < cutoff {
                let (_, old_id) = self.seen_by_time.pop_first().unwrap();
                self.seen.remove(&old_id);
            } else {
                break;
            }
        }
        if self.seen.contains_key(id) {
            return true;
        }
        self.seen.insert(id.to_string(), time);
        self.seen_by_time.insert((time, id.to_string()));
        false
    }
}

struct Model {
    window_us: i64,
    projects: BTreeMap<u64, ProjectState>,
    groups: Vec<Group>,
    summary: Summary,
    dead_letters: Vec<DeadLetter>,
    md5_cache: HashMap<String, String>,
}

impl Model {
    fn new(dedup_window_secs: i64) -> Self {
        Model {
            window_us: dedup_window_secs.saturating_mul(US_PER_SEC),
            projects: BTreeMap::new(),
            groups: Vec::new(),
            summary: Summary::default(),
            dead_letters: Vec::new(),
            md5_cache: HashMap::new(),
        }
    }

    fn dead_letter(&mut self, line: usize, reason: String) {
        self.summary.dead_lettered += 1;
        self.dead_letters.push(DeadLetter { line, reason });
    }

    fn process_line(&mut self, index: usize, line: &str) {
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            return; // blank: not a record
        }
        self.summary.lines_read += 1;
        match decode_line(line, &mut self.md5_cache) {
            Err(reason) => self.dead_letter(index, reason),
            Ok(Record::Occurrence(occ)) => self.process_occurrence(index, occ),
            Ok(Record::StatusChange(sc)) => self.process_status_change(index, sc),
        }
    }

    fn process_occurrence(&mut self, index: usize, occ: Occurrence) {
        let t = occ.event_time;
        let window_us = self.window_us;
        let project = self.projects.entry(occ.project_id).or_default();

        // §4.1
        project.watermark = project.watermark.max(t);
        if project.is_duplicate(&occ.id, t, window_us) {
            self.summary.duplicates += 1;
            return;
        }

        // §4.3.1 existing group
        let linked = occ.hashes.iter().find_map(|h| project.links.get(h).copied());
        if let Some(gidx) = linked {
            let group_type = self.groups[gidx].gtype.type_id;
            if group_type != occ.gtype.type_id {
                let reason = format!(
                    "type mismatch: group {} has type {}, occurrence has type {}",
                    self.groups[gidx].id, group_type, occ.gtype.type_id
                );
                self.dead_letter(index, reason);
                return;
            }
            for h in &occ.hashes {
                project.links.entry(h.clone()).or_insert(gidx);
            }
            join_group(&mut self.groups[gidx], &occ);
            self.summary.occurrences_accepted += 1;
            return;
        }

        // §4.3.2-3 candidate and noise gate, §4.3.4 creation quota. SPEC §4.3: the error type
        // (1) has neither, it goes straight to creation.
        let candidate = occ.hashes[0].clone();
        if occ.gtype.type_id != 1 {
            let noise = project.noise.entry(candidate.clone()).or_default();
            if noise.count > 0 && t - noise.last >= NOISE_EXPIRY_SECS * US_PER_SEC {
                noise.count = 0;
            }
            noise.count += 1;
            if noise.count >= occ.gtype.ignore_limit {
                noise.count = 0;
            } else {
                noise.last = noise.last.max(t);
                self.summary.dropped_noise += 1;
                return;
            }

            let buckets = project.quota.entry(occ.gtype.type_id).or_default();
            let b = t.div_euclid(QUOTA_GRANULARITY_SECS * US_PER_SEC);
            let n = QUOTA_WINDOW_SECS / QUOTA_GRANULARITY_SECS;
            let used: u64 = buckets.range(b - n + 1..=b).map(|(_, c)| *c).sum();
            if used >= occ.gtype.quota_limit {
                self.summary.dropped_quota += 1;
                return;
            }
            *buckets.entry(b).or_insert(0) += 1;
        }

        // §4.3.5 creation
        project.noise.remove(&candidate);
        project.last_short_id += 1;
        let gidx = self.groups.len();
        for h in &occ.hashes {
            project.links.insert(h.clone(), gidx);
        }
        let priority = occ.priority.unwrap_or(occ.gtype.default_priority);
        let mut group = Group {
            id: gidx as u64 + 1,
            project_id: occ.project_id,
            short_id: project.last_short_id,
            gtype: occ.gtype,
            status: UNRESOLVED,
            substatus: Some(SUB_NEW),
            priority,
            created_priority: priority,
            title: occ.title.clone(),
            culprit: occ.culprit.clone(),
            level: occ.level.clone(),
            metadata_title: occ.title.clone(),
            metadata_value: occ.subtitle.clone(),
            metadata_initial_priority: priority,
            title_time: t,
            first_seen: t,
            last_seen: t,
            times_seen: 1,
            users: BTreeSet::new(),
            first_release: occ.release.clone(),
            last_release: None,
            environments: BTreeSet::new(),
            hourly: BTreeMap::new(),
        };
        add_aggregates(&mut group, &occ);
        self.groups.push(group);
        self.summary.groups_created += 1;
        self.summary.occurrences_accepted += 1;
    }

    fn process_status_change(&mut self, index: usize, sc: StatusChange) {
        let window_us = self.window_us;
        let project = self.projects.entry(sc.project_id).or_default();
        let time = project.watermark;
        if project.is_duplicate(&sc.id, time, window_us) {
            self.summary.duplicates += 1;
            return;
        }
        let Some(&gidx) = project.links.get(&sc.first_hash) else {
            self.dead_letter(index, "group not found".to_string());
            return;
        };
        match apply_status_change(&mut self.groups[gidx], sc.new_status, sc.new_substatus) {
            Ok(()) => self.summary.status_changes_applied += 1,
            Err(reason) => self.dead_letter(index, reason),
        }
    }

    fn dump(&self) -> Vec<Value> {
        self.groups.iter().map(group_json).collect()
    }
}

/// §4.5: an occurrence joining an existing group.
fn join_group(g: &mut Group, occ: &Occurrence) {
    let t = occ.event_time;
    g.times_seen += 1;
    g.last_seen = g.last_seen.max(t);
    g.first_seen = g.first_seen.min(t);
    if t >= g.title_time {
        g.title = occ.title.clone();
        g.culprit = occ.culprit.clone();
        g.level = occ.level.clone();
        g.metadata_title = occ.title.clone();
        g.metadata_value = occ.subtitle.clone();
        g.metadata_initial_priority = occ.priority.unwrap_or(occ.gtype.default_priority);
        g.title_time = t;
    }
    if g.status == RESOLVED {
        g.status = UNRESOLVED;
        g.substatus = Some(SUB_REGRESSED);
    }
    add_aggregates(g, occ);
}

/// §4.5 aggregates, for the creating occurrence and every joining one.
fn add_aggregates(g: &mut Group, occ: &Occurrence) {
    let t = occ.event_time;
    *g.hourly.entry(t.div_euclid(3600 * US_PER_SEC)).or_insert(0) += 1;
    if let Some(u) = &occ.user {
        g.users.insert(u.clone());
    }
    if let Some(r) = &occ.release {
        let newer = match &g.last_release {
            None => true,
            Some((lt, _)) => t >= *lt,
        };
        if newer {
            g.last_release = Some((t, r.clone()));
        }
    }
    if let Some(e) = &occ.environment {
        g.environments.insert(e.clone());
    }
}

/// §4.4, rows in table order.
fn apply_status_change(g: &mut Group, s: i128, u: Option<i128>) -> Result<(), String> {
    if s == g.status as i128 && u == g.substatus.map(|x| x as i128) {
        return Ok(()); // no-op, counted as applied
    }
    let carries_substatus = s == UNRESOLVED as i128 || s == IGNORED as i128;
    if carries_substatus && u.is_none() {
        return Err(format!("missing substatus for status {s}"));
    }
    if !carries_substatus {
        if let Some(u) = u {
            return Err(format!("unexpected substatus {u} for status {s}"));
        }
    }
    if s == RESOLVED as i128 {
        g.status = RESOLVED;
        g.substatus = None;
        return Ok(());
    }
    if s == IGNORED as i128 {
        let u = u.unwrap();
        if u == SUB_UNTIL_ESCALATING as i128 || u == SUB_UNTIL_CONDITION_MET as i128 || u == SUB_FOREVER as i128 {
            g.status = IGNORED;
            g.substatus = Some(u as u8);
            return Ok(());
        }
        return Err(format!("invalid substatus {u} for status {s}"));
    }
    if s == UNRESOLVED as i128 {
        let u = u.unwrap();
        if u == SUB_ESCALATING as i128 {
            if g.status == IGNORED {
                g.status = UNRESOLVED;
                g.substatus = Some(SUB_ESCALATING);
                // priority is never locked during ingest
                g.priority = if g.priority == LOW { MEDIUM } else { HIGH };
            }
            return Ok(()); // other groups unchanged, still counted as applied
        }
        if u == SUB_REGRESSED as i128 {
            g.status = UNRESOLVED;
            g.substatus = Some(SUB_REGRESSED);
            return Ok(());
        }
        if u == SUB_ONGOING as i128 {
            let was_escalating = g.status == UNRESOLVED && g.substatus == Some(SUB_ESCALATING);
            g.status = UNRESOLVED;
            g.substatus = Some(SUB_ONGOING);
            if was_escalating {
                g.priority = g.created_priority;
            }
            return Ok(());
        }
        return Err(format!("invalid substatus {u} for status {s}"));
    }
    Err(format!("unsupported status {s}"))
}

// ---------------------------------------------------------------------------------------------
// Dump (semantics.md §5, §6)
// ---------------------------------------------------------------------------------------------

const BASE32: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn base32(mut n: u64) -> String {
    if n == 0 {
        return "0".to_string();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE32[(n % 32) as usize]);
        n /= 32;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

pub fn project_slug(project_id: u64) -> String {
    format!("project-{project_id}")
}

pub fn level_name(level: &str) -> &'static str {
    match level {
        "sample" => "sample",
        "debug" => "debug",
        "info" => "info",
        "warning" => "warning",
        "error" => "error",
        "fatal" => "fatal",
        _ => "unknown",
    }
}

fn status_name(s: u8) -> &'static str {
    match s {
        UNRESOLVED => "unresolved",
        RESOLVED => "resolved",
        _ => "ignored",
    }
}

fn substatus_name(s: Option<u8>) -> Value {
    match s {
        None => Value::Null,
        Some(SUB_UNTIL_ESCALATING) => json!("archived_until_escalating"),
        Some(SUB_ESCALATING) => json!("escalating"),
        Some(SUB_ONGOING) => json!("ongoing"),
        Some(SUB_UNTIL_CONDITION_MET) => json!("archived_until_condition_met"),
        Some(SUB_FOREVER) => json!("archived_forever"),
        Some(SUB_REGRESSED) => json!("regressed"),
        Some(_) => json!("new"),
    }
}

fn group_json(g: &Group) -> Value {
    let slug = project_slug(g.project_id);
    let count = g.times_seen.to_string();
    let user_count = g.users.len() as u64;
    let first_seen = format_time(g.first_seen);
    let last_seen = format_time(g.last_seen);
    let hourly: Vec<Value> = g.hourly.iter().map(|(h, c)| json!([h * 3600, c])).collect();
    json!({
        "id": g.id.to_string(),
        "shortId": format!("{}-{}", slug.to_uppercase(), base32(g.short_id)),
        "title": g.title,
        "culprit": g.culprit,
        "level": level_name(&g.level),
        "status": status_name(g.status),
        "substatus": substatus_name(g.substatus),
        "priority": priority_name(g.priority),
        "project": {"id": g.project_id.to_string(), "slug": slug},
        // SPEC §6: `type` is "error" for the error type (1), "generic" otherwise.
        "type": if g.gtype.type_id == 1 { "error" } else { "generic" },
        "issueType": g.gtype.slug,
        "issueCategory": g.gtype.category,
        "metadata": {
            "title": g.metadata_title,
            "value": g.metadata_value,
            "initial_priority": g.metadata_initial_priority,
        },
        "count": count,
        "userCount": user_count,
        "firstSeen": first_seen,
        "lastSeen": last_seen,
        "lifetime": {
            "count": count,
            "userCount": user_count,
            "firstSeen": first_seen,
            "lastSeen": last_seen,
        },
        "firstRelease": g.first_release,
        "lastRelease": g.last_release.as_ref().map(|(_, r)| r.clone()),
        "environments": g.environments.iter().collect::<Vec<_>>(),
        "stats": {"hourly": hourly},
        // Triage fields: no mutation reaches the reference model.
        "statusDetails": {},
        "assignedTo": null,
        "isBookmarked": false,
        "hasSeen": false,
        "priorityLockedAt": null,
    })
}
