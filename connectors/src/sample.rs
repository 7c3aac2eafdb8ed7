//! Records per project at the start of an input, to place projects on workers by volume
//! ([`dataflows::graph::Routes::balanced`]).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use dataflows::model::ProjectId;

/// Bytes read from the start of the first input: ~12K lines of the benchmark inputs, enough to
/// rank the projects that matter (the largest hold 2–15% of the records each). A few
/// milliseconds at start-up.
pub const SAMPLE_BYTES: u64 = 8 << 20;

/// Bytes read at a time while sampling.
const SAMPLE_CHUNK: usize = 64 << 10;

/// Lines per project id in the first `limit` bytes of `path` (decompressed); empty for standard
/// input, which cannot be read twice, and for a file that cannot be read (the source reports
/// that). The id is the line's first `"project_id"` number, found by a byte search rather than
/// decoded: a wrong or missing one only costs balance, never correctness.
pub fn project_volumes(path: &Path, limit: u64) -> HashMap<ProjectId, u64> {
    let mut volumes = HashMap::default();
    if path.as_os_str() == "-" {
        return volumes;
    }
    let Ok(reader) = crate::jsonl::open(path) else {
        return volumes;
    };
    // Read through a small buffer, not into one of `limit` bytes: the 8 MB buffer (and the
    // doublings that grew it) were fresh pages the kernel zeroed, ~2% of a 1M-line backfill's
    // CPU time before any worker started.
    let mut reader = reader.take(limit);
    let mut buffer = vec![0u8; SAMPLE_CHUNK];
    // The bytes of a line begun in an earlier read.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // As before: an input that cannot be read is not sampled at all.
            Err(_) => return HashMap::default(),
        };
        let mut bytes = &buffer[..read];
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            let line = if partial.is_empty() {
                &bytes[..end]
            } else {
                partial.extend_from_slice(&bytes[..end]);
                partial.as_slice()
            };
            if let Some(project) = project_of(line) {
                *volumes.entry(project).or_insert(0) += 1;
            }
            partial.clear();
            bytes = &bytes[end + 1..];
        }
        // The last line may be cut by the limit: it is counted only once its end is read.
        partial.extend_from_slice(bytes);
    }
    volumes
}

/// The number after the first `"project_id"` key of a line.
fn project_of(line: &[u8]) -> Option<ProjectId> {
    const KEY: &[u8] = b"\"project_id\"";
    let at = memchr::memmem::find(line, KEY)? + KEY.len();
    let rest = &line[at..];
    let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[colon] != b':' {
        return None;
    }
    let rest = &rest[colon + 1..];
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits = rest[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[start..start + digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_lines_first_project_id_and_skips_what_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        let text = concat!(
            "{\"project_id\":5,\"event\":{\"project_id\":6}}\n",
            "{\"id\":\"x\", \"project_id\" : 7}\n",
            "{\"project_id\":5}\n",
            "not json\n",
            "{\"project_id\":\"8\"}\n",
            "{\"project_id\":9}", // cut by the limit below, so not counted
        );
        std::fs::write(&path, text).unwrap();
        let volumes = project_volumes(&path, text.len() as u64 - 2);
        let mut counted: Vec<(ProjectId, u64)> = volumes.into_iter().collect();
        counted.sort_unstable();
        assert_eq!(counted, vec![(5, 2), (7, 1)]);
        assert!(project_volumes(Path::new("-"), 100).is_empty());
        assert!(project_volumes(&dir.path().join("missing.jsonl"), 100).is_empty());
    }

    /// Lines cut by the reads (a 64 KiB buffer) and by the limit count as a whole read would.
    #[test]
    fn lines_across_reads_count_as_in_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        let mut text = String::new();
        let mut state: u64 = 11;
        while text.len() < 5 * SAMPLE_CHUNK {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let project = (state >> 40) % 17;
            let padding = "x".repeat(((state >> 20) % 300) as usize);
            text.push_str(&format!("{{\"id\":\"{padding}\",\"project_id\":{project}}}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        for limit in [text.len() as u64, 3 * SAMPLE_CHUNK as u64 + 7, SAMPLE_CHUNK as u64, 100] {
            let sampled = &text.as_bytes()[..limit as usize];
            let complete = memchr::memrchr(b'\n', sampled).map_or(0, |end| end + 1);
            let mut expected: HashMap<ProjectId, u64> = HashMap::new();
            for line in sampled[..complete].split(|b| *b == b'\n') {
                if let Some(project) = project_of(line) {
                    *expected.entry(project).or_insert(0) += 1;
                }
            }
            assert_eq!(project_volumes(&path, limit), expected, "limit {limit}");
        }
        assert!(project_volumes(&path, text.len() as u64).values().sum::<u64>() > 1000);
    }
}
