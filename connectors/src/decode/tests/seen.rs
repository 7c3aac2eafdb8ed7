//! Skipped containers recognised by their text (`fast::seen`): a line is accepted or declined
//! exactly as the token loop alone decides, and read the same, whatever the table holds.

use super::*;

/// Whether the fast path accepts `line` with the table bypassed, and with it as it is (both
/// read the same message when they accept; `same_on_both_paths` compares it with serde's).
fn accepted_with_and_without(line: &str) -> (bool, bool) {
    let alone = fast::seen::without(|| fast::parse(line.as_bytes()).is_some());
    (alone, same_on_both_paths(line))
}

/// Containers of the lengths the table keeps, at the three skip depths (message, event,
/// user): accepted ones remembered, then each changed in any one byte (most of them then
/// malformed, some as another valid value), before and after the original is remembered, in
/// several rounds.
#[test]
fn remembered_containers_decide_as_the_token_loop() {
    let values = [
        r#"[{"name":"Page","value":"/blog/:slug","important":true}]"#,
        r#"{"num_repeating_spans":32,"vital":"FCP"}"#,
        r#"{"a":{"b":[1,{"c":null}]},"d":[]}"#,
        r#"[{"a":[{"b":{}}]},"x",0,false,-1.5e3]"#,
        r#"{"k":"v}","w":"\"}\\","u":"\u00e9"}"#,
        r#"[ 1 , { "k" : "v" } , 2 , 3 , null ]"#,
        r#"{"contact_email":"user56189@example.com","name":"李雷"}"#,
    ];
    let sites = |value: &str| {
        [
            FULL.replacen("{\"id\"", &format!("{{\"skip\":{value},\"id\""), 1),
            FULL.replace("\"platform\":\"ruby\"", &format!("\"platform\":{value}")),
            FULL.replace("\"geo\":{\"city\":\"x\"}", &format!("\"geo\":{value}")),
        ]
    };
    let mut changed = Vec::new();
    for value in values {
        for at in 0..value.len() {
            for byte in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'1', b'a'] {
                let mut bytes = value.as_bytes().to_vec();
                bytes[at] = byte;
                if let Ok(text) = String::from_utf8(bytes) {
                    changed.push(text);
                }
            }
        }
    }
    let (mut accepted, mut declined) = (0, 0);
    for round in 0..3 {
        // Round 0 meets the changed values first, then the originals; later rounds both
        // after the originals were remembered.
        for value in changed.iter().map(String::as_str).chain(values) {
            for line in sites(value) {
                let (alone, with) = accepted_with_and_without(&line);
                assert_eq!(alone, with, "round {round}: {line}");
                if with {
                    accepted += 1;
                } else {
                    declined += 1;
                }
            }
        }
    }
    assert!(accepted > 1000 && declined > 1000, "{accepted} accepted, {declined} declined");
}
