//! Line-oriented grouping for the command line (`occurrent grouping`): one raw event JSON per
//! input line, one result JSON per output line.
//!
//! Output per event: `{"hashes": {"<variant>": "<md5 hex>" | null, …}, "primary_hash": "…",
//! "contributing_variants": ["…"]}` with the variant names and null convention of the
//! conformance `expected` objects. A line that is not valid JSON or cannot be grouped yields
//! `{"error": "…"}` and processing continues; blank lines are skipped. An unknown config or an
//! unreadable rules file fails before any input is read.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{json, Map, Value};

use super::fingerprinting::FingerprintingRules;
use super::{group_event, GroupingOptions, GroupingResult};

/// Errors that stop the whole run (per-line problems are reported inline instead).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] super::GroupingError),
    #[error("fingerprinting rules {path}: {message}")]
    Rules { path: String, message: String },
    #[error("reading input line {line}: {source}")]
    Read {
        line: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("writing output: {0}")]
    Write(#[source] std::io::Error),
}

/// Load fingerprinting rules from a file: JSON (a rule list or `{"rules": […]}`) if the
/// file parses as JSON, the text format otherwise.
pub fn load_fingerprinting_rules(path: &Path) -> Result<FingerprintingRules, CliError> {
    let err = |message: String| CliError::Rules {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(json) => FingerprintingRules::from_json(&json).map_err(|e| err(e.to_string())),
        Err(_) => FingerprintingRules::from_text(&text).map_err(|e| err(e.to_string())),
    }
}

/// The output object for one grouped event.
pub fn result_json(result: &GroupingResult) -> Value {
    let mut hashes = Map::new();
    for v in &result.variants {
        hashes.insert(v.name.clone(), json!(v.hash));
    }
    json!({
        "hashes": hashes,
        "primary_hash": result.primary_hash,
        "contributing_variants": result.contributing_variants,
    })
}

/// Group every event of `input` with grouping config `config` (only `newstyle:2023-01-11`)
/// and optional project fingerprinting rules, writing one JSON line per event to `output`.
pub fn run(config: &str, fingerprinting_rules: Option<&Path>, input: impl BufRead, mut output: impl Write) -> Result<(), CliError> {
    let mut options = GroupingOptions::for_config(config)?;
    if let Some(path) = fingerprinting_rules {
        options.fingerprinting_rules = Some(load_fingerprinting_rules(path)?);
    }
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|source| CliError::Read { line: index + 1, source })?;
        if line.trim().is_empty() {
            continue;
        }
        let out = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({ "error": format!("line {}: invalid JSON: {e}", index + 1) }),
            Ok(event) => match group_event(&event, &options) {
                Ok(result) => result_json(&result),
                Err(e) => json!({ "error": format!("line {}: {e}", index + 1) }),
            },
        };
        writeln!(output, "{out}").map_err(CliError::Write)?;
    }
    output.flush().map_err(CliError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(config: &str, rules: Option<&Path>, input: &str) -> Result<Vec<Value>, CliError> {
        let mut out = Vec::new();
        run(config, rules, input.as_bytes(), &mut out)?;
        let text = String::from_utf8(out).map_err(|e| CliError::Rules {
            path: "-".to_owned(),
            message: e.to_string(),
        })?;
        Ok(text.lines().map(|l| serde_json::from_str(l).unwrap_or(Value::Null)).collect())
    }

    #[test]
    fn groups_lines_and_reports_bad_ones() {
        let input = concat!(
            r#"{"logentry": {"formatted": "Hello there world!"}}"#,
            "\n\nnot json\n",
            r#"[1, 2]"#,
            "\n",
            r#"{"exception": {"values": [{"type": "ValueError", "value": "boom"}]}}"#,
            "\n"
        );
        let lines = run_str("newstyle:2023-01-11", None, input).expect("run");
        assert_eq!(lines.len(), 4);
        // Same hash as the conformance case `logentry_uses_formatted`.
        assert_eq!(
            lines[0],
            json!({"hashes": {"default": "329b29efcf1f77067a063e34f56e7791"}, "primary_hash": "329b29efcf1f77067a063e34f56e7791", "contributing_variants": ["default"]})
        );
        assert!(lines[1]["error"].as_str().is_some_and(|e| e.contains("invalid JSON")));
        assert!(lines[2]["error"].as_str().is_some_and(|e| e.contains("object")));
        assert_eq!(lines[3]["contributing_variants"], json!(["app"]));
        assert_eq!(lines[3]["hashes"]["app"], lines[3]["primary_hash"]);
    }

    #[test]
    fn null_hashes_and_fallback() {
        let input = r#"{"threads": {"values": [{"id": 1}, {"id": 2}]}}"#;
        let lines = run_str("newstyle:2023-01-11", None, input).expect("run");
        assert_eq!(
            lines[0]["hashes"],
            json!({"app": null, "fallback": "d41d8cd98f00b204e9800998ecf8427e"})
        );
        assert_eq!(lines[0]["contributing_variants"], json!(["fallback"]));
    }

    #[test]
    fn unknown_config_fails_before_reading() {
        let err = run_str("legacy:2019-03-12", None, "{}").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("unknown grouping config")));
    }

    #[test]
    fn fingerprinting_rules_from_file() {
        let dir = std::env::temp_dir().join(format!("occurrent-grouping-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("rules.txt");
        std::fs::write(&path, "type:DatabaseUnavailable -> database-unavailable\n").expect("write rules");
        let input = r#"{"exception": {"values": [{"type": "DatabaseUnavailable", "value": "down"}]}}"#;
        let lines = run_str("newstyle:2023-01-11", Some(&path), input).expect("run");
        let expected = crate::grouping::components::md5_hex(["database-unavailable"]);
        assert_eq!(lines[0]["hashes"]["custom-fingerprint"], json!(expected));
        assert_eq!(lines[0]["hashes"]["app"], Value::Null);
        assert_eq!(lines[0]["primary_hash"], json!(expected));

        let missing = run_str("newstyle:2023-01-11", Some(&dir.join("missing.txt")), input).err();
        assert!(matches!(missing, Some(CliError::Rules { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
