use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::super::tests::{followed, next_followed_lines};
use super::super::LineSource;

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A source following `directory`, as `run --follow --input DIRECTORY` reads it.
fn following(directory: &Path) -> LineSource {
    let files = super::super::expand_followed_inputs(&[directory.to_path_buf()]).unwrap();
    // `followed`'s options, on every file of the directory.
    let mut source = followed(Path::new(""));
    source.files = files;
    source.watch_directory(directory.to_path_buf(), &[]);
    source
}

fn texts(lines: &[(String, u64, u64)]) -> Vec<(&str, u64)> {
    lines.iter().map(|(text, number, _)| (text.as_str(), *number)).collect()
}

/// A file created in the followed directory is read after the followed file, which a writer
/// may still finish first; files already read, renamed or copied by a rotation, and files
/// sorting before the followed one are not read (they were never read before this change:
/// only the file sorting last at start was followed).
#[test]
fn new_files_of_a_followed_directory_are_read_after_the_followed_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    std::fs::write(&a, "{\"a\":1}\n").unwrap();
    std::fs::write(&b, "{\"b\":1}\n").unwrap();
    let mut source = following(dir.path());
    let lines = next_followed_lines(&mut source, 2, Duration::from_secs(10));
    assert_eq!(texts(&lines), vec![("{\"a\":1}", 1), ("{\"b\":1}", 1)]);

    // A new file; the followed one is written once more (and its last line has no newline).
    let c = dir.path().join("c.jsonl");
    std::fs::write(&c, "{\"c\":1}\n").unwrap();
    append(&b, "{\"b\":2}\n{\"b\":3}");
    let lines = next_followed_lines(&mut source, 3, Duration::from_secs(10));
    assert_eq!(texts(&lines), vec![("{\"b\":2}", 2), ("{\"b\":3}", 3), ("{\"c\":1}", 1)]);
    assert_eq!(source.files(), &[a.clone(), b.clone(), c.clone()]);

    // Now c is followed: appends to it are read.
    append(&c, "{\"c\":2}\n");
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"c\":2}", 2)]
    );

    // Rename rotation (c.jsonl → c.jsonl.1, a new c.jsonl), a copytruncate copy of the old
    // content (c.jsonl.2), a copy of an older file under a later name (d.jsonl) and a file
    // sorting first: only the new c.jsonl's line is read.
    std::fs::rename(&c, dir.path().join("c.jsonl.1")).unwrap();
    std::fs::write(dir.path().join("c.jsonl.2"), "{\"c\":1}\n{\"c\":2}\n").unwrap();
    std::fs::write(dir.path().join("d.jsonl"), "{\"a\":1}\n{\"z\":1}\n").unwrap();
    std::fs::write(dir.path().join("0.jsonl"), "{\"early\":1}\n").unwrap();
    std::fs::write(&c, "{\"c\":\"new\"}\n").unwrap();
    let lines = next_followed_lines(&mut source, 2, Duration::from_secs(4));
    assert_eq!(texts(&lines), vec![("{\"c\":\"new\"}", 1)]);
    assert_eq!(source.files(), &[a, b, c]);

    // A file whose first line is not complete yet waits for it.
    let e = dir.path().join("e.jsonl");
    std::fs::write(&e, "{\"e\":").unwrap();
    assert!(next_followed_lines(&mut source, 1, Duration::from_millis(2500)).is_empty());
    assert_eq!(source.files().len(), 3, "taken before its first line was complete");
    append(&e, "1}\n");
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"e\":1}", 1)]
    );
}

/// A followed directory empty at start waits for its first file (it was refused: "no input
/// files"), and follows it.
#[test]
fn an_empty_followed_directory_waits_for_its_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = following(dir.path());
    assert!(next_followed_lines(&mut source, 1, Duration::from_millis(1500)).is_empty());
    assert!(source.reached_end_once(), "nothing was there at start: all of it is read");
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, "{\"a\":1}\n").unwrap();
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"a\":1}", 1)]
    );
    append(&a, "{\"a\":2}\n");
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"a\":2}", 2)]
    );
    assert_eq!(source.files(), &[a]);
}

/// A file that takes the inode of a deleted file read before is read (it was skipped as the
/// same file, without a word); a file added and gone before it is opened is dropped (its
/// open error ended the run); a file starting with blank lines is judged by its first line
/// that is not blank.
#[test]
fn a_reused_inode_is_a_new_file_and_a_vanished_file_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    std::fs::write(&a, "{\"a\":1}\n").unwrap();
    std::fs::write(&b, "\n{\"b\":1}\n").unwrap();
    let mut source = following(dir.path());
    assert_eq!(
        texts(&next_followed_lines(&mut source, 2, Duration::from_secs(10))),
        vec![("{\"a\":1}", 1), ("{\"b\":1}", 2)]
    );
    // A new file starting with a blank line too: not taken for a copy of b.
    let c = dir.path().join("c.jsonl");
    std::fs::write(&c, "\n{\"c\":1}\n").unwrap();
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"c\":1}", 2)]
    );
    // a.jsonl deleted, and its inode given to a new file (emulated: the same inode rewritten
    // under a later name, as ext4 hands a freed inode to the next file created).
    let d = dir.path().join("d.jsonl");
    std::fs::rename(&a, &d).unwrap();
    std::fs::write(&d, "{\"d\":1}\n").unwrap();
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"d\":1}", 1)]
    );
    // Gone between the scan that found them and their opening.
    let (e, f) = (dir.path().join("e.jsonl"), dir.path().join("f.jsonl"));
    std::fs::write(&e, "{\"e\":1}\n").unwrap();
    std::fs::write(&f, "{\"f\":1}\n").unwrap();
    while source.files().len() < 6 {
        assert!(source.next_block().unwrap().unwrap().lines.is_empty());
    }
    std::fs::remove_file(&e).unwrap();
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"f\":1}", 1)]
    );
    assert_eq!(source.files().len(), 5);
    // The only file added gone: f, left for it, is followed again from where it was left.
    let g = dir.path().join("g.jsonl");
    std::fs::write(&g, "{\"g\":1}\n").unwrap();
    while source.files().len() < 6 {
        assert!(source.next_block().unwrap().unwrap().lines.is_empty());
    }
    std::fs::remove_file(&g).unwrap();
    append(&f, "{\"f\":2}\n");
    assert_eq!(
        texts(&next_followed_lines(&mut source, 1, Duration::from_secs(10))),
        vec![("{\"f\":2}", 2)]
    );
    assert_eq!(source.files().len(), 5);
}
