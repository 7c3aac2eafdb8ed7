use super::*;
use std::io::Write;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/parameterization/cases.jsonl");

/// Rows the current implementation passes (required rows only, see below). Raise it when
/// more pass; never lower it.
const FLOOR: usize = 135;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Param2024,
    Normalize2024,
    Param2025,
}

#[derive(Default)]
struct Tally {
    pass: usize,
    total: usize,
}

#[test]
fn conformance() {
    let path = std::path::Path::new(CASES);
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "conformance file missing: {} ({e}); expected /work/shared/conformance/\
             parameterization/cases.jsonl next to the workspace",
            path.display()
        )
    });

    let mut tallies = [Tally::default(), Tally::default(), Tally::default()];
    let mut failures = Vec::new();
    let mut xfail_notes = Vec::new();
    let (mut skipped, mut xfail_total, mut xfail_desired) = (0, 0, 0);
    let mut rows = 0;

    for (lineno, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows += 1;
        let row: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: invalid JSON: {e}", lineno + 1));
        let s = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
        let flag = |k: &str| row[k].as_bool().unwrap_or(false);
        let (source, test, name) = (s("source"), s("test"), s("name"));
        let (input, expected) = (s("input"), s("expected"));

        let group = if source.contains("test_normalize_message") {
            Group::Normalize2024
        } else if source.contains("0c29f1b656e3") {
            Group::Param2024
        } else {
            Group::Param2025
        };
        let run = |msg: &str| -> String {
            match group {
                Group::Param2024 => parameterize(msg, PatternSet::V2024).into_owned(),
                Group::Normalize2024 => normalize_message(msg),
                Group::Param2025 => parameterize(msg, PatternSet::V2025).into_owned(),
            }
        };

        if flag("needs_uniq_id_experiment") {
            // The tokenizer-based uniq_id experiment is not implemented.
            skipped += 1;
            continue;
        }
        let got = run(&input);
        if flag("xfail") {
            // Informational: Sentry does not produce `expected` either.
            xfail_total += 1;
            let verdict = if got == expected {
                xfail_desired += 1;
                "produces Sentry's desired output"
            } else {
                "differs from the desired output, like Sentry"
            };
            xfail_notes.push(format!("  xfail {test} / {name}: {verdict} (got {got:?})"));
            continue;
        }

        let tally = &mut tallies[group as usize];
        tally.total += 1;
        let mut reason = None;
        if got != expected {
            reason = Some(format!("got {got:?}, want {expected:?}"));
        } else if test == "test_default_parameterization" {
            let got = run(&format!("prefix {input} suffix"));
            let want = format!("prefix {expected} suffix");
            if got != want {
                reason = Some(format!("prefix/suffix variant: got {got:?}, want {want:?}"));
            }
        }
        match reason {
            None => tally.pass += 1,
            Some(r) => failures.push(format!("  {test} / {name}: {r}")),
        }
    }

    let pass: usize = tallies.iter().map(|t| t.pass).sum();
    let total: usize = tallies.iter().map(|t| t.total).sum();
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "parameterization conformance: {pass}/{total} \
         (2024 parameterize {}/{}, 2024 normalize {}/{}, 2025 {}/{}); \
         {rows} rows, {skipped} skipped (uniq_id experiment), \
         xfail {xfail_desired}/{xfail_total} produce Sentry's desired output",
        tallies[0].pass, tallies[0].total, tallies[1].pass, tallies[1].total, tallies[2].pass, tallies[2].total,
    );
    for f in &failures {
        let _ = writeln!(err, "FAIL{f}");
    }
    for n in &xfail_notes {
        let _ = writeln!(err, "{n}");
    }
    assert_eq!(rows, 149, "unexpected row count in {}", path.display());
    assert!(pass >= FLOOR, "parameterization conformance regressed: {pass} < {FLOOR}");
}

fn p24(s: &str) -> Cow<'_, str> {
    parameterize(s, PatternSet::V2024)
}

fn p25(s: &str) -> Cow<'_, str> {
    parameterize(s, PatternSet::V2025)
}

#[test]
fn borrows_when_unchanged() {
    assert!(matches!(p24("A quick brown fox"), Cow::Borrowed(_)));
    assert!(matches!(p25("A quick brown fox"), Cow::Borrowed(_)));
    assert!(matches!(p24(""), Cow::Borrowed(_)));
    assert!(matches!(trim_message("one line"), Cow::Borrowed(_)));
    assert!(matches!(trim_message("two\nlines"), Cow::Borrowed(_)));
    assert!(matches!(normalize_message_with("plain words", PatternSet::V2024), Cow::Borrowed(_)));
}

#[test]
fn trimming_follows_python_lines() {
    assert_eq!(trim_message("a\nb\nc"), "a\nb...");
    assert_eq!(trim_message("\n\n a \n\t\n b"), " a \n b...");
    assert_eq!(trim_message("a\r\nb"), "a\nb...");
    assert_eq!(trim_message("a\n"), "a...");
    assert_eq!(trim_message("a\u{2028}b\u{85}c"), "a\nb...");
    // U+001F is whitespace to Python but not a line break.
    assert_eq!(trim_message("\u{1f}\nx"), "x...");
    assert_eq!(trim_message(""), "");
    assert_eq!(trim_message("   "), "...");
    assert_eq!(normalize_message("x=1\ny=true\nz"), "x=<int>\ny=<bool>...");
}

#[test]
fn alternation_order_and_extents() {
    // float then negative int, as in the java_chained grouping case
    assert_eq!(
        p24("Failed to start connector [Connector[HTTP/1.1-8080]]"),
        "Failed to start connector [Connector[HTTP/<float><int>]]"
    );
    assert_eq!(
        p24("Blocked 'style' from 'use.fontawesome.com'"),
        "Blocked 'style' from '<hostname>'"
    );
    assert_eq!(
        p24("Error key1='Some_str123' key2=123456789 key3=False key4=datetime.datetime(2023, 5, 2, 23, 46, tzinfo=datetime.timezone.utc) key5=\"double-quoted\" other_date=datetime.datetime(2023, 5, 3, 1, 10, tzinfo=d..."),
        "Error key1=<quoted_str> key2=<int> key3=<bool> key4=<date> key5=<quoted_str> other_date=datetime.datetime(<int>, <int>, <int>, <int>, <int>, tzinfo=d..."
    );
    // IPv6 "groups then ::" wins over "groups :: group"
    assert_eq!(p24("at fe80::1 now"), "at <ip><int> now");
    // 2024 ip has no look-behind; 2025 spares `Foo::bar`
    assert_eq!(p24("Foo::bar()"), "Foo<ip>r()");
    assert_eq!(p25("Foo::bar()"), "Foo::bar()");
    // look-behind `=` seen across a previous match boundary, and only right after `=`
    assert_eq!(p24("a='x' b= 'y' c=\"z\""), "a=<quoted_str> b= 'y' c=<quoted_str>");
    assert_eq!(p24("flag=trueish"), "flag=<bool>ish");
    // a hostname beats bool at the same start
    assert_eq!(p24("h=true.com"), "h=<hostname>");
    // 2024 durations take a single digit before `s`
    assert_eq!(p24("took 10s"), "took 1<duration>");
    assert_eq!(p25("took 10s"), "took <duration>");
    assert_eq!(p25("abc deadbeefcafe 1234abcd"), "abc deadbeefcafe <hex>");
    assert_eq!(p25("rev abc1234 and 1234567"), "rev <git_sha> and <int>");
}

#[test]
fn odd_inputs_do_not_panic() {
    let huge_words = "word 12 0x1f a=b c='d' e=true 2024-01-01 fe80::1 ".repeat(2000);
    let big_unicode = "wörd 12 0x1f a=b c='d' é=true ２０２４-01-01 ".repeat(200);
    let huge_quotes = "'".repeat(100_000);
    let huge_eq = "=".repeat(50_000) + "'";
    let huge_digits = "9".repeat(200_000);
    let inputs: Vec<String> = vec![
        String::new(),
        "=".into(),
        "='".into(),
        "=\"".into(),
        "'".into(),
        "\0\u{1}\u{7f}\u{1b}[31m=\u{0}true".into(),
        "日本語のメッセージ 123 ünïcödé=true ２０２４".into(),
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ::1 ١٢٣ café123 x=é".into(),
        "\r\n\r\n\u{2028}\u{85}\u{1c}".into(),
        "datetime.datetime(".into(),
        "http://".into(),
        "a@b.cc".into(),
        huge_words,
        big_unicode,
        huge_quotes,
        huge_eq,
        huge_digits,
    ];
    for input in &inputs {
        for set in [PatternSet::V2024, PatternSet::V2025] {
            let out = parameterize(input, set);
            assert!(out.len() <= input.len() + 16 * input.len().max(1));
            let _ = normalize_message_with(input, set);
        }
        let _ = normalize_message(input);
    }
}

#[test]
fn placeholder_names_are_listed() {
    let names = PatternSet::V2024.placeholder_names();
    assert_eq!(
        names,
        [
            "email",
            "url",
            "hostname",
            "ip",
            "uuid",
            "sha1",
            "md5",
            "date",
            "duration",
            "hex",
            "float",
            "int",
            "quoted_str",
            "bool"
        ]
    );
    assert!(PatternSet::V2025.placeholder_names().contains(&"git_sha"));
}
