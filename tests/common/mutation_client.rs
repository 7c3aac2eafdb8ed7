//! The issues list's mutation calls (PUT / DELETE, reads by id or fingerprint) on a
//! [`Server`], and small stream builders, shared by the mutation tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::server::Server;
use crate::common::*;

pub(crate) fn start(args: &[&str]) -> Server {
    Server::start("127.0.0.1", args)
}

pub(crate) const ISSUES: &str = "/api/0/organizations/sentry/issues/";

impl Server {
    pub(crate) fn send(&self, request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        let Ok(response) = request.send() else { return (0, Value::Null) };
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    pub(crate) fn put(&self, query: &str, body: Value) -> (u16, Value) {
        self.send(self.client.put(format!("{}{ISSUES}?{query}", self.base)).json(&body))
    }

    pub(crate) fn delete(&self, query: &str) -> (u16, Value) {
        self.send(self.client.delete(format!("{}{ISSUES}?{query}", self.base)))
    }

    pub(crate) fn issue(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("{ISSUES}{id}/"));
        assert_eq!(status, 200, "issue {id}: {body}");
        body
    }

    /// The group titled `title fingerprint`, from the unfiltered list.
    pub(crate) fn by_fingerprint(&self, fingerprint: &str) -> Option<Value> {
        let (_, list) = self.get(&format!("{ISSUES}?query="));
        let title = format!("title {fingerprint}");
        list.as_array()?.iter().find(|g| g["title"] == title.as_str()).cloned()
    }

    pub(crate) fn id_of(&self, fingerprint: &str) -> String {
        let group = self
            .by_fingerprint(fingerprint)
            .unwrap_or_else(|| panic!("no group for {fingerprint}"));
        group["id"].as_str().expect("string id").to_string()
    }
}

pub(crate) fn append(path: &Path, messages: &[Value]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open input");
    for line in to_lines(messages) {
        writeln!(file, "{line}").expect("append");
    }
}

/// Cron monitor occurrences (type 4001: no noise gate) of `fingerprint`, `count` of them.
pub(crate) fn crons(first_id: u64, fingerprint: &str, count: u64, project: u64) -> Vec<Value> {
    (0..count)
        .map(|i| occurrence(first_id + i, project, fingerprint, 4001, T0 + (first_id + i) as f64, json!({})))
        .collect()
}

pub(crate) fn input(dir: &Path, messages: &[Value]) -> PathBuf {
    write_lines(dir, "in.jsonl", &to_lines(messages))
}

/// Seconds since 1970 by the wall clock.
pub(crate) fn wall_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}
