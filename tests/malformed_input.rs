//! Bad input: every rejected line reaches the dead-letter output with its bytes, position and
//! reason, and nothing else is lost.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

#[test]
fn each_kind_of_bad_line_is_dead_lettered_and_the_rest_processed() {
    let good = |id: u64| occurrence(id, 1, "good", 4001, T0 + id as f64, json!({})).to_string();
    let mut missing_title = occurrence(20, 1, "x", 4001, T0, json!({}));
    missing_title.as_object_mut().unwrap().remove("issue_title");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!("{{\"id\":\"{}\",\"pad\":\"{}\"}}", uuid(30), "x".repeat(5 << 20));
    let cases: Vec<(String, &str)> = vec![
        (
            "{\"id\": \"x\",".into(),
            "invalid JSON at line 1 column 11: EOF while parsing a value",
        ),
        ("[1,2,3]".into(), "expected a JSON object, found an array"),
        ("\"just a string\"".into(), "expected a JSON object, found a string"),
        (missing_title.to_string(), "missing field issue_title"),
        (occurrence(21, 1, "x", 9999, T0, json!({})).to_string(), "unknown group type 9999"),
        (
            occurrence(22, 1, "x", 4001, T0, json!({"id": "not-a-uuid"})).to_string(),
            "invalid id \"not-a-uuid\": not a UUID",
        ),
        (
            occurrence(
                23,
                1,
                "x",
                4001,
                T0,
                json!({"event": {"event_id": uuid(1_000_023), "project_id": 2}}),
            )
            .to_string(),
            "event.project_id 2 differs from project_id 1",
        ),
        (
            occurrence(24, 1, "x", 4001, T0, json!({"payload_type": "nope"})).to_string(),
            "unknown payload_type \"nope\"",
        ),
        (
            occurrence(25, 1, "x", 4001, T0, json!({"detection_time": "yesterday"})).to_string(),
            "invalid detection_time",
        ),
        (
            occurrence(26, 1, "x", 4001, T0, json!({"initial_issue_priority": 30})).to_string(),
            "invalid priority 30",
        ),
        (
            occurrence(27, 1, "x", 4001, T0, json!({"fingerprint": []})).to_string(),
            "fingerprint must not be empty",
        ),
        (
            occurrence(28, 1, "x", 4001, T0, json!({"project_id": -1})).to_string(),
            "invalid project_id: expected an integer from 0 to 18446744073709551615, found the number -1",
        ),
        (
            occurrence(29, 1, "x", 4001, T0, json!({"event": {"user": 5}})).to_string(),
            "invalid event.user: expected an object, found the number 5",
        ),
        (deep, "recursion limit exceeded"),
        (huge, "missing field"),
    ];
    let mut lines = vec![good(1)];
    for (line, _) in &cases {
        lines.push(line.clone());
        lines.push(good(lines.len() as u64 + 100));
    }
    let run = backfill_lines(&lines);
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.issues[0]["count"], (cases.len() + 1).to_string(), "every good line counted");
    assert_eq!(run.dead_letters.len(), cases.len());
    assert_eq!(run.counter("dead_lettered"), cases.len() as i64);
    for (letter, (line, reason)) in run.dead_letters.iter().zip(&cases) {
        assert!(
            letter["reason"].as_str().unwrap().contains(reason),
            "expected {reason:?} in {}",
            letter["reason"]
        );
        assert_eq!(letter["raw"].as_str().unwrap(), line, "original bytes kept");
    }
    // Line numbers are 1-based positions in the file; bad lines are the even ones.
    assert_eq!(run.dead_letters[0]["line"], 2);
    assert_eq!(run.dead_letters[1]["line"], 4);
}

#[test]
fn non_utf8_bytes_are_kept_as_base64() {
    let dir = temp_dir();
    let path = dir.path().join("binary.jsonl");
    let mut bytes = occurrence(1, 1, "ok", 4001, T0, json!({})).to_string().into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\x00garbage\n");
    std::fs::write(&path, &bytes).unwrap();
    let run = backfill_files(&[path], 1, &[]);
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.dead_letters.len(), 1);
    assert_eq!(run.dead_letters[0]["raw_base64"], "//4AZ2FyYmFnZQ==");
}

#[test]
fn unknown_projects_are_rejected_when_a_config_declares_projects() {
    let dir = temp_dir();
    let config = dir.path().join("occurrent.toml");
    std::fs::write(
        &config,
        "[[organizations]]\nslug = \"acme\"\n[[organizations.projects]]\nid = 1\nslug = \"backend\"\nplatform = \"python\"\n",
    )
    .unwrap();
    let input = write_lines(
        dir.path(),
        "in.jsonl",
        &to_lines(&[
            occurrence(1, 1, "a", 4001, T0, json!({})),
            occurrence(2, 7, "a", 4001, T0, json!({})),
        ]),
    );
    let run = backfill_files(&[input], 1, &["--config", config.to_str().unwrap()]);
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.issues[0]["shortId"], "BACKEND-1");
    assert_eq!(run.issues[0]["project"]["slug"], "backend");
    assert_eq!(run.dead_letters[0]["reason"], "unknown project 7");
}

#[test]
fn unreadable_inputs_and_bad_configs_fail_with_a_clear_error() {
    let output = Command::new(BIN)
        .args(["backfill", "--input", "/nonexistent/input.jsonl"])
        .output_within("occurrent backfill");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read /nonexistent/input.jsonl"), "{stderr}");

    let dir = temp_dir();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[[organizations]]\nslug = 3\n").unwrap();
    let input = write_lines(dir.path(), "in.jsonl", &["{}".to_string()]);
    let output = Command::new(BIN)
        .args(["backfill", "--input", input.to_str().unwrap(), "--config", config.to_str().unwrap()])
        .output_within("occurrent backfill");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid config"));

    // Two projects of one organization with one slug (up to case: short ids are upper case)
    // would share short ids; an empty slug makes none.
    for (projects, message) in [
        (
            r#"{ id = 1, slug = "web" }, { id = 2, slug = "web" }"#,
            r#"projects 1 ("web") and 2 ("web") of organization "acme" have the same slug up to case"#,
        ),
        (
            r#"{ id = 1, slug = "x-1" }, { id = 2, slug = "X-1" }"#,
            r#"projects 1 ("x-1") and 2 ("X-1") of organization "acme" have the same slug up to case"#,
        ),
        (r#"{ id = 1, slug = " " }"#, r#"project 1 of organization "acme" has an empty slug"#),
    ] {
        std::fs::write(&config, format!("[[organizations]]\nslug = \"acme\"\nprojects = [{projects}]\n")).unwrap();
        let output = Command::new(BIN)
            .args(["backfill", "--input", input.to_str().unwrap(), "--config", config.to_str().unwrap()])
            .output_within("occurrent backfill");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{projects}: {stderr}");
    }

    // A dedup window past 100 years overflowed in microseconds (the duplicates counted went
    // up and down with it).
    for window in ["--dedup-window=-1", "--dedup-window=9300000000000"] {
        let output = Command::new(BIN)
            .args(["backfill", "--input", input.to_str().unwrap(), window])
            .output_within("occurrent backfill");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains("--dedup-window"), "{window}: {stderr}");
    }

    for workers in ["0", "100000", "x"] {
        let output = Command::new(BIN)
            .args(["backfill", "--input", input.to_str().unwrap(), "--workers", workers])
            .output_within("occurrent backfill");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains("from 1 to 1024"), "{workers}: {stderr}");
    }

    // A compressed last input cannot be followed (appended members were ignored), and
    // details cannot be kept longer than the hours they refine.
    let gz = dir.path().join("in.jsonl.gz");
    std::fs::write(&gz, b"").unwrap();
    let gz = gz.to_str().unwrap();
    for (args, message) in [
        (
            &["run", "--input", gz, "--follow", "--listen", "127.0.0.1:0"][..],
            "--follow follows the last input, and",
        ),
        (
            &["backfill", "--input", input.to_str().unwrap(), "--details-days", "100"],
            "--details-days 100 is more than --retention-days 90",
        ),
    ] {
        let output = Command::new(BIN).args(args).output_within("occurrent");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }

    // generate refuses arguments it cannot honour instead of writing something else.
    for (args, message) in [
        (&["--malformed-ratio", "2"][..], "from 0 to 1"),
        (&["--fingerprints", "0"], "--fingerprints"),
        (&["--fingerprints", "18446744073709551615"], "--fingerprints"),
        (&["--projects", "0"], "--projects"),
        (&["--projects", "100000000"], "--projects"),
        (
            &["--distinct-groups", "--count", "70000", "--projects", "1", "--span-seconds", "60"],
            "pass the cron type's quota of 60000",
        ),
        (&["--span-seconds", "0"], "--span-seconds"),
        (&["--start-time", "99999999999999"], "--start-time"),
        (&["--start-time", "253402300000", "--span-seconds", "10000"], "passes the year 9999"),
    ] {
        let output = Command::new(BIN).arg("generate").args(args).output_within("occurrent generate");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && output.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }

    // Outputs that cannot be written are refused before the run, not found at its end.
    let missing = dir.path().join("missing/out.jsonl");
    let missing = missing.to_str().unwrap();
    let here = dir.path().to_str().unwrap();
    for (flag, path, message) in [
        ("--dead-letter", missing, "does not exist"),
        ("--summary-json", missing, "does not exist"),
        ("--dump-issues", missing, "does not exist"),
        ("--change-feed", missing, "does not exist"),
        ("--summary-json", here, "is a directory"),
    ] {
        let output = Command::new(BIN)
            .args(["backfill", "--input", input.to_str().unwrap(), flag, path])
            .output_within("occurrent backfill");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {path}");
        assert!(
            stderr.contains(&format!("{flag} {path}")) && stderr.contains(message),
            "{flag} {path}: {stderr}"
        );
        assert!(!stderr.contains("lines read"), "refused before the run: {stderr}");
    }

    // Two outputs in one file (also through another spelling of its path) are refused.
    let same = dir.path().join("same.out");
    let other_spelling = dir.path().join(".").join("same.out");
    for (a, b) in [("--dump-issues", "--dead-letter"), ("--dead-letter", "--summary-json")] {
        let output = Command::new(BIN)
            .args(["backfill", "--input", input.to_str().unwrap()])
            .args([a, same.to_str().unwrap(), b, other_spelling.to_str().unwrap()])
            .output_within("occurrent backfill");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{a} {b}");
        assert!(stderr.contains("are the same file"), "{a} {b}: {stderr}");
        assert!(!same.exists(), "refused before anything is written");
    }

    // A previous run's dead letters do not survive a run without any (the file is written
    // only once there is a dead letter).
    let stale = dir.path().join("stale-dead.jsonl");
    std::fs::write(&stale, "{\"reason\":\"from an earlier run\"}\n").unwrap();
    let clean = write_lines(dir.path(), "clean.jsonl", &[occurrence(1, 1, "a", 4001, T0, json!({})).to_string()]);
    let output = Command::new(BIN)
        .args([
            "backfill",
            "--input",
            clean.to_str().unwrap(),
            "--dead-letter",
            stale.to_str().unwrap(),
        ])
        .output_within("occurrent backfill");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(&stale).unwrap(),
        "",
        "the earlier run's dead letters are gone"
    );

    // A dead-letter file that fails its writes (a full disk): the run fails with the first
    // error, logged once rather than once per rejected line.
    let mut lines = vec![occurrence(1, 1, "a", 4001, T0, json!({})).to_string()];
    lines.extend((0..3000).map(|i| format!("{{bad {i}")));
    let bad = write_lines(dir.path(), "bad.jsonl", &lines);
    let output = Command::new(BIN)
        .args(["backfill", "--input", bad.to_str().unwrap(), "--dead-letter", "/dev/full"])
        .output_within("occurrent backfill");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("a write of dead letters failed: No space left on device"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("ERROR").count(), 1, "{stderr}");

    let hosts = write_lines(dir.path(), "hosts", &["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()]);
    for timeout in ["0", "-1", "nan"] {
        let output = Command::new(BIN)
            .args(["backfill", "--kafka", "127.0.0.1:9", "--processes", "2", "--hostfile"])
            .arg(&hosts)
            .arg(format!("--connect-timeout={timeout}"))
            .output_within("occurrent backfill");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains("--connect-timeout"),
            "{timeout}: {stderr}"
        );
    }
}

#[test]
fn compressed_inputs_directories_and_stdin() {
    use std::io::Write;
    let dir = temp_dir();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let line = |id: u64| format!("{}\n", occurrence(id, 1, "c", 4001, T0 + id as f64, json!({})));
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(inputs.join("b.jsonl.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(line(2).as_bytes()).unwrap();
    gz.finish().unwrap();
    std::fs::write(inputs.join("c.jsonl.zst"), zstd::encode_all(line(3).as_bytes(), 1).unwrap()).unwrap();
    std::fs::write(inputs.join("a.jsonl"), line(1)).unwrap();
    let run = backfill_files(&[inputs], 1, &[]);
    assert_eq!(run.issues[0]["count"], "3");
    assert_eq!(run.issues[0]["lastSeen"], "2024-01-01T00:00:03.000000Z");

    let mut child = Command::new(BIN)
        .args(["backfill", "--input", "-", "--dump-issues", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}{}", line(1), line(2)).as_bytes())
        .unwrap();
    let output = child.output_within("occurrent backfill from stdin");
    assert!(output.status.success());
    let dumped: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(dumped["count"], "2");
}

/// A truncated gzip file and a `.zst` file that is not zstd: each one's unreadable rest is one
/// dead letter with its position and the decompressor's reason; the lines before the damage
/// and the files after it are processed (the run used to stop at the first read error).
#[test]
fn the_unreadable_rest_of_a_compressed_input_is_dead_lettered_and_the_next_input_read() {
    use std::io::Write;
    let dir = temp_dir();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let line = |id: u64| format!("{}\n", occurrence(id, 1, "c", 4001, T0 + id as f64, json!({})));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for id in 1..=2000 {
        gz.write_all(line(id).as_bytes()).unwrap();
    }
    let gz = gz.finish().unwrap();
    std::fs::write(inputs.join("a.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(inputs.join("b.jsonl.zst"), "not zstd\n").unwrap();
    std::fs::write(inputs.join("c.jsonl"), line(5000)).unwrap();
    let run = backfill_files(&[inputs], 2, &[]);
    let reasons: Vec<(&str, &str, u64)> = run
        .dead_letters
        .iter()
        .map(|d| {
            (
                d["source"].as_str().unwrap(),
                d["reason"].as_str().unwrap(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let (source, reason, first) = reasons[0];
    assert!(source.ends_with("a.jsonl.gz"), "{source}");
    assert!(first > 1 && first < 2000, "{first}");
    assert_eq!(
        reason,
        format!("unreadable compressed input from line {first}: incomplete deflate stream")
    );
    let (source, reason, line) = reasons[1];
    assert!(source.ends_with("b.jsonl.zst"), "{source}");
    assert_eq!(
        (reason, line),
        ("unreadable compressed input from line 1: Unknown frame descriptor", 1)
    );
    // Every line before the damage, and the file after it, counted.
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.issues[0]["count"], (first - 1 + 1).to_string());
    assert_eq!(run.issues[0]["lastSeen"], "2024-01-01T01:23:20.000000Z");
    assert_eq!(run.counter("lines_read"), (first - 1 + 2 + 1) as i64);
}

/// An output that is also an input is refused before anything is read or written: the
/// dead-letter file given as the input was truncated under its mapping (SIGBUS, the input
/// lost), and a default `dead-letters.jsonl` in an input directory was read back as input.
#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = temp_dir();
    let lines = vec![occurrence(1, 1, "a", 4001, T0, json!({})).to_string(), "{broken".to_string()];
    let input = write_lines(dir.path(), "in.jsonl", &lines);
    let before = std::fs::read(&input).unwrap();
    let input_arg = input.to_str().unwrap();
    for (flag, via) in [
        ("--dead-letter", input_arg.to_string()),
        ("--dump-issues", input_arg.to_string()),
        ("--summary-json", input_arg.to_string()),
        (
            "--change-feed",
            format!(
                "{}/../{}/in.jsonl",
                dir.path().display(),
                dir.path().file_name().unwrap().to_str().unwrap()
            ),
        ),
    ] {
        let output = Command::new(BIN)
            .args(["backfill", "--input", input_arg, flag, &via])
            .output_within("occurrent backfill");
        assert!(!output.status.success(), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("{flag} {via} is also an input")), "{flag}: {stderr}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{flag}: the input is untouched");
    }

    // A directory input holding the default dead-letter file of an earlier run.
    std::fs::write(dir.path().join("dead-letters.jsonl"), "{}\n").unwrap();
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .args(["backfill", "--input", "."])
        .output_within("occurrent backfill");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dead-letter dead-letters.jsonl is also an input"), "{stderr}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
}
