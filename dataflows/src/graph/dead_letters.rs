//! Recovering the original bytes of lines rejected after decoding. Each worker keeps the blocks
//! it read until their epoch completes; rejections travel back to the block's reader.

use std::collections::BTreeMap;
use std::sync::Arc;

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::epoch_of;

use crate::model::block::{DeadLetter, InputBlock};
use crate::model::{block_of, Seq};

/// `owner(block)` names the worker that read a block.
pub fn resolve_rejections<'scope>(
    blocks: Stream<'scope, u64, Vec<Arc<InputBlock>>>,
    rejected: Stream<'scope, u64, Vec<(Seq, String)>>,
    owner: impl Fn(u64) -> u64 + 'static,
) -> Stream<'scope, u64, Vec<DeadLetter>> {
    blocks.binary_frontier(
        rejected,
        Pipeline,
        Exchange::new(move |(seq, _): &(Seq, String)| owner(block_of(*seq))),
        "ResolveRejections",
        |_, _| {
            let mut kept: BTreeMap<u64, Arc<InputBlock>> = BTreeMap::new();
            let mut waiting: super::Stash<Capability<u64>, (Seq, String)> = BTreeMap::new();
            move |(blocks, blocks_frontier), (rejected, rejected_frontier), output| {
                blocks.for_each(|_, data| {
                    for block in data.drain(..) {
                        kept.insert(block.index, block);
                    }
                });
                rejected.for_each(|cap, data| {
                    waiting
                        .entry(epoch_of(&cap))
                        .or_insert_with(|| (cap.retain_least(0).expect("an input stamp has a time"), Vec::new()))
                        .1
                        .append(data);
                });
                let is_open = |epoch: &u64| rejected_frontier.less_equal(epoch) || blocks_frontier.less_equal(epoch);
                while let Some((_, (cap, rejections))) = super::pop_closed(&mut waiting, is_open) {
                    let mut session = output.session(&cap);
                    for (seq, reason) in rejections {
                        let index = (seq & ((1 << crate::model::BLOCK_SHIFT) - 1)) as usize;
                        match kept.get(&block_of(seq)) {
                            Some(block) => session.give(DeadLetter::from_block(block, index, reason)),
                            None => tracing::error!(seq, "rejected line's block is gone"),
                        }
                    }
                }
                // A block is no longer needed once no rejection for its epoch can arrive.
                while super::pop_closed(&mut kept, |epoch| rejected_frontier.less_equal(epoch)).is_some() {}
            }
        },
    )
}

/// A dead letter as one JSON object (no newline). The keys are in sorted order, as
/// `serde_json`'s map writes them; it is built as text because building a `Value` map per
/// letter was most of the cost of writing dead letters. Strings are escaped as `serde_json`
/// escapes them ([`push_json_str`]).
pub fn dead_letter_json(letter: &DeadLetter) -> Vec<u8> {
    use base64::Engine;
    use std::io::Write;
    let mut out = Vec::with_capacity(letter.raw.len() + letter.source.len() + letter.reason.len() + 96);
    out.extend_from_slice(b"{\"line\":");
    push_decimal(&mut out, letter.line);
    out.extend_from_slice(b",\"offset\":");
    push_decimal(&mut out, letter.offset);
    if let Some(partition) = letter.partition {
        // Writing into a Vec cannot fail.
        let _ = write!(out, ",\"partition\":{partition}");
    }
    match std::str::from_utf8(&letter.raw) {
        Ok(text) => {
            out.extend_from_slice(b",\"raw\":");
            push_json_str(&mut out, text);
        }
        Err(_) => {
            out.extend_from_slice(b",\"raw_base64\":");
            push_json_str(&mut out, &base64::engine::general_purpose::STANDARD.encode(&letter.raw));
        }
    }
    out.extend_from_slice(b",\"reason\":");
    push_json_str(&mut out, &letter.reason);
    out.extend_from_slice(b",\"source\":");
    push_json_str(&mut out, &letter.source);
    out.push(b'}');
    out
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `text` as a quoted JSON string, escaped byte for byte as `serde_json` escapes it (`\"`,
/// `\\`, `\b \f \n \r \t`, other control characters as `\u00xx`; nothing else). A dead
/// letter's raw line is mostly text that needs no escape: the scan for the next byte that
/// does reads eight bytes at a time, where `serde_json` looked each byte up in a table
/// (~4.5 instructions a byte, ~70 % of writing a dead letter).
pub(crate) fn push_json_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_to_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        push_escaped(out, bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The first byte at or after `from` that JSON needs escaped.
fn next_to_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Per byte of a word, the high bit of `x - 1` where `x` is 0, and of `w - 0x20` where
    // `w < 0x20` (bytes ≥ 0x80 excluded by `!`): the lowest flagged byte of each test is
    // exact (a borrow only runs upwards from a flagged byte), so the lowest of the three is
    // the first byte to escape.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    for (n, word) in words.by_ref().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let flagged = control | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')));
        if flagged != 0 {
            return Some(from + n * 8 + (flagged.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let at = tail.iter().position(|&b| needs_escape(b))?;
    Some(from + rest.len() - tail.len() + at)
}

fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(text: &str) -> String {
        serde_json::to_string(text).expect("a string serializes")
    }

    fn ours(text: &str) -> String {
        let mut out = Vec::new();
        push_json_str(&mut out, text);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        // Every byte value below 0x80 (alone, and at each position of a word and its tail),
        // non-ASCII text, and lines shaped like JSON.
        let mut cases: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        for b in 0u8..0x80 {
            for at in 0..19 {
                let mut s: Vec<char> = "abcdefghijklmnopqrs".chars().collect();
                s[at] = char::from(b);
                cases.push(s.into_iter().collect());
            }
        }
        cases.extend(
            [
                "",
                "é\u{7f}\u{80}ÿ\u{2028}😀 \"quoted\" back\\slash",
                r#"{"id":"0001","event":{"message":"line\nbreak\ttab","user":{"id":"x"}}}"#,
                "\u{1}\u{1f}\u{0}\"\"\\\\ plain text of more than eight bytes \u{1b}[0m",
            ]
            .map(String::from),
        );
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let len = (state % 40) as usize;
            let s: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    match state % 5 {
                        0 => char::from((state >> 8) as u8 % 0x20),
                        1 => ['"', '\\', 'é', '\u{7f}'][(state >> 8) as usize % 4],
                        _ => char::from(b'a' + (state >> 8) as u8 % 26),
                    }
                })
                .collect();
            cases.push(s);
        }
        for case in &cases {
            assert_eq!(ours(case), serde(case), "{case:?}");
        }
    }

    #[test]
    fn decimals_read_as_numbers() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
