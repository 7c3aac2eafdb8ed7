//! `occurrent backfill` on generated streams equals an independent, sequential reference model
//! (tests/reference), and its dump is byte-identical for 1, 2 and 4 workers and any block size.

mod common;
mod reference;

use common::*;

struct Case {
    seed: u64,
    count: u64,
    fingerprints: u64,
    projects: u64,
    span_seconds: u64,
}

const DAYS_14: u64 = 14 * 86_400;

const CASES: &[Case] = &[
    // Few fingerprints: deep per-group histories, status changes on live groups.
    Case {
        seed: 1,
        count: 20_000,
        fingerprints: 60,
        projects: 3,
        span_seconds: DAYS_14,
    },
    // Many fingerprints over many projects: noise gates and quotas everywhere.
    Case {
        seed: 2,
        count: 40_000,
        fingerprints: 8_000,
        projects: 40,
        span_seconds: DAYS_14,
    },
    // A few busy projects within three hours: creation quotas bind.
    Case {
        seed: 3,
        count: 20_000,
        fingerprints: 3_000,
        projects: 3,
        span_seconds: 3 * 3600,
    },
];

fn generate(case: &Case, dir: &std::path::Path) -> std::path::PathBuf {
    let (seed, count) = (case.seed.to_string(), case.count.to_string());
    let (fingerprints, projects, span) = (
        case.fingerprints.to_string(),
        case.projects.to_string(),
        case.span_seconds.to_string(),
    );
    let args = [
        "--seed",
        &seed,
        "--count",
        &count,
        "--fingerprints",
        &fingerprints,
        "--projects",
        &projects,
        "--malformed-ratio",
        "0.01",
        "--span-seconds",
        &span,
    ];
    generate_stream(dir, &format!("stream-{seed}.jsonl"), &args)
}

#[test]
fn backfill_matches_the_reference_model_for_any_worker_count() {
    let dir = temp_dir();
    for case in CASES {
        let input = generate(case, dir.path());
        let lines: Vec<String> = std::fs::read_to_string(&input).unwrap().lines().map(str::to_owned).collect();
        let (expected, expected_summary) = reference::reference_run(&lines, 600);
        assert!(expected.len() > 10, "seed {}: the stream should create groups", case.seed);
        if case.span_seconds < 86_400 {
            assert!(
                expected_summary.dropped_quota > 100,
                "seed {}: quotas should bind: {expected_summary:?}",
                case.seed
            );
        }

        let runs = [(1, "16384"), (2, "777"), (4, "4096")];
        let mut first_dump: Option<Vec<u8>> = None;
        for (workers, block_lines) in runs {
            let run = backfill_files(std::slice::from_ref(&input), workers, &["--block-lines", block_lines]);
            assert_eq!(
                run.issues.len(),
                expected.len(),
                "seed {} workers {workers}: group count",
                case.seed
            );
            for (got, want) in run.issues.iter().zip(&expected) {
                assert_eq!(got, want, "seed {} workers {workers}: group {}", case.seed, want["id"]);
            }
            let summary: reference::Summary = serde_json::from_value(run.summary.clone()).expect("summary shape");
            assert_eq!(summary, expected_summary, "seed {} workers {workers}: summary", case.seed);
            assert_eq!(run.dead_letters.len() as u64, expected_summary.dead_lettered);
            match &first_dump {
                None => first_dump = Some(run.dump_bytes),
                Some(bytes) => assert!(*bytes == run.dump_bytes, "seed {}: dump differs with {workers} workers", case.seed),
            }
        }
        eprintln!(
            "seed {}: {} groups, identical to the reference for 1, 2 and 4 workers: {expected_summary:?}",
            case.seed,
            expected.len()
        );
    }
}
