use super::*;
use std::io::Write;

/// Every line to the end: (block index, text, line number, byte offset).
fn lines_of(source: &mut LineSource) -> Vec<(u64, String, u64, u64)> {
    let mut seen = Vec::new();
    while let Some(block) = source.next_block().unwrap() {
        for (i, line) in block.lines.iter().enumerate() {
            seen.push((
                block.index,
                String::from_utf8(block.line(i).to_vec()).unwrap(),
                line.line_number,
                line.byte_offset,
            ));
        }
    }
    seen
}

#[test]
fn splits_files_into_blocks_with_positions() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.jsonl"), "{\"x\":3}").unwrap();
    std::fs::write(dir.join("a.jsonl"), "{\"x\":1}\n\n  \n{\"x\":2}\n").unwrap();
    let gz = dir.join("c.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::default());
    encoder.write_all(b"{\"x\":4}\n").unwrap();
    encoder.finish().unwrap();
    // Neither a hidden file (an editor's swap file) nor a subdirectory is an input.
    std::fs::write(dir.join(".a.jsonl.swp"), "not json").unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub").join("d.jsonl"), "{\"x\":5}\n").unwrap();
    let files = expand_inputs(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(
        files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(),
        ["a.jsonl", "b.jsonl", "c.jsonl.gz"]
    );
    let mut source = LineSource::new(
        files,
        BlockOptions {
            max_lines: 1,
            ..BlockOptions::default()
        },
    );
    let seen = lines_of(&mut source);
    assert_eq!(
        seen,
        vec![
            (0, "{\"x\":1}".to_string(), 1, 0),
            (1, "{\"x\":2}".to_string(), 4, 12),
            (2, "{\"x\":3}".to_string(), 1, 0),
            (3, "{\"x\":4}".to_string(), 1, 0),
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every line of `files` as (block, text, line number, byte offset), read from `resume`.
fn read_all(files: Vec<PathBuf>, max_lines: usize, resume: Option<FilePosition>) -> Vec<(u64, String, u64, u64)> {
    let mut source = LineSource::new(
        files,
        BlockOptions {
            max_lines,
            ..BlockOptions::default()
        },
    );
    if let Some(position) = resume {
        source.resume_at(position, 0);
    }
    lines_of(&mut source)
}

/// A mapped file's block gets its line list at once, as long as the block can be: the
/// full block's list is not grown (and copied) by doubling, and the last, short block's is
/// not as long as a full one's.
#[test]
fn mapped_blocks_get_their_line_lists_at_once() {
    assert_eq!(LineSource::line_room(16_384, 1 << 30, 16 << 20), 16_384);
    assert_eq!(LineSource::line_room(16_384, 40, 16 << 20), 40);
    assert_eq!(LineSource::line_room(16_384, 1 << 30, 99), 100);
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-room-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.jsonl");
    // 25 lines of 10 bytes: blocks of 12, 12 and 1 line.
    std::fs::write(&path, "{\"x\":123}\n".repeat(25)).unwrap();
    let mut source = LineSource::new(
        vec![path],
        BlockOptions {
            max_lines: 12,
            ..BlockOptions::default()
        },
    );
    let mut shapes = Vec::new();
    while let Some(block) = source.next_block().unwrap() {
        if block.lines.is_empty() {
            break;
        }
        shapes.push((block.lines.len(), block.lines.capacity()));
    }
    // 12 lines grown one at a time would have a capacity of 16; the last block's 10
    // bytes would hold at most 10 lines.
    assert_eq!(shapes, vec![(12, 12), (12, 12), (1, 10)]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A followed file that keeps growing a line at a time never leaves `linger` without a new
/// line; raising `release` (an API mutation waiting) lets a partial block go at once. The
/// appender goes on until the reader has its first block (at most `MAX_APPENDS`, ~10 s), so
/// a reader that starts late on a loaded machine still sees a trickle, and without the
/// flag the block would wait for the appender to give up.
#[test]
fn a_raised_release_flag_lets_a_followed_block_go_under_a_trickle() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-trickle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("live.jsonl");
    std::fs::write(&path, "{\"x\":0}\n").unwrap();
    const MAX_APPENDS: usize = 2000;
    let got_block = Arc::new(AtomicBool::new(false));
    let appender = {
        let (path, got_block) = (path.clone(), got_block.clone());
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            let mut appended = 0;
            while appended < MAX_APPENDS && !got_block.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
                appended += 1;
                writeln!(file, "{{\"x\":{appended}}}").unwrap();
            }
            appended
        })
    };
    let release = Arc::new(AtomicBool::new(true));
    let mut source = LineSource::new(
        vec![path],
        BlockOptions {
            follow: true,
            linger: Duration::from_millis(20),
            idle: Some(Duration::from_millis(20)),
            release: Some(release.clone()),
            ..BlockOptions::default()
        },
    );
    let first = loop {
        let block = source.next_block().unwrap().expect("a followed file never ends");
        if !block.lines.is_empty() {
            break block;
        }
    };
    got_block.store(true, Ordering::Release);
    release.store(false, Ordering::Release);
    let appended = appender.join().unwrap();
    assert!(
        appended < MAX_APPENDS,
        "the first block ({} lines) waited for the appender to give up",
        first.lines.len()
    );
    let mut seen = first.lines.len();
    while seen < appended + 1 {
        let block = source.next_block().unwrap().expect("a followed file never ends");
        seen += block.lines.len();
    }
    assert_eq!(seen, appended + 1, "every appended line is read once");
    std::fs::remove_dir_all(&dir).ok();
}

/// The mapped reader (a line longer than a read, a last line without a newline, blank
/// lines, small blocks, a resume) against the streamed (gzip) reader. (Blocks are cut by
/// line count here: by bytes, the two cut differently, the mapped reader line by line and
/// the streamed one per read.)
#[test]
fn plain_files_read_as_streamed_ones_do() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for i in 0..3000 {
        // Lines of varied lengths, so reads of READ_SIZE end inside lines.
        text.push_str(&format!("{{\"x\":{i},\"pad\":\"{}\"}}\n", "p".repeat(i % 700)));
        if i == 1000 {
            text.push_str("\n   \n");
        }
        if i == 2000 {
            text.push_str(&format!("{{\"long\":\"{}\"}}\n", "l".repeat(3 * READ_SIZE)));
        }
    }
    text.push_str("{\"last\":true}");
    let plain = dir.join("a.jsonl");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.join("a.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    for max_lines in [1, 7, 16_384] {
        let expected = read_all(vec![gz.clone()], max_lines, None);
        assert_eq!(expected.len(), 3002);
        assert_eq!(read_all(vec![plain.clone()], max_lines, None), expected, "max_lines {max_lines}");
    }
    // Resumed at line 2500 (as a checkpoint would), both ways.
    let all = read_all(vec![gz.clone()], 100, None);
    let (_, _, line_number, byte_offset) = all[2500].clone();
    let resume = FilePosition {
        file: 0,
        byte_offset,
        line_number: line_number - 1,
    };
    let from_plain = read_all(vec![plain.clone()], 100, Some(resume));
    assert_eq!(from_plain, read_all(vec![gz], 100, Some(resume)));
    assert_eq!(from_plain.first().map(|l| l.2), Some(line_number));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn blocks_end_at_a_stop_and_an_empty_block_there_takes_no_index() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = (1..=6).map(|i| format!("{{\"x\":{i}}}\n")).collect();
    let plain = dir.join("a.jsonl");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.join("a.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    // The mapped (plain) and the streamed (gzip) readers alike.
    for file in [plain, gz] {
        let mut source = LineSource::new(
            vec![file.clone()],
            BlockOptions {
                max_lines: 4,
                ..BlockOptions::default()
            },
        );
        // Stop after line 3 (each line is 8 bytes with its newline).
        let stop = FilePosition {
            file: 0,
            byte_offset: 24,
            line_number: 3,
        };
        source.stop_at(Some(stop));
        let first = source.next_block().unwrap().expect("a block");
        assert_eq!((first.index, first.lines.len()), (0, 3), "{}", file.display());
        assert_eq!(source.position(), stop);
        let at_stop = source.next_block().unwrap().expect("an empty block");
        assert!(at_stop.lines.is_empty());
        assert_eq!(source.next_block_index(), 1, "the empty block took no index");
        source.stop_at(None);
        let rest = source.next_block().unwrap().expect("the rest");
        let lines: Vec<_> = (0..rest.lines.len()).map(|i| rest.lines[i].line_number).collect();
        assert_eq!((rest.index, lines), (1, vec![4, 5, 6]), "{}", file.display());
        assert!(source.next_block().unwrap().is_none());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// An input that ends without a line (an empty plain file, an empty gzip) before a plain,
/// mapped one: the next one's lines follow, in order (this was an `unreachable!` panic).
#[test]
fn an_input_without_lines_before_a_mapped_one_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("0-empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let empty_gz = dir.path().join("1-empty.jsonl.gz");
    flate2::write::GzEncoder::new(File::create(&empty_gz).unwrap(), flate2::Compression::default())
        .finish()
        .unwrap();
    let plain = dir.path().join("2-data.jsonl");
    std::fs::write(&plain, "{\"x\":1}\n{\"x\":2}\n").unwrap();
    for files in [
        vec![empty.clone(), plain.clone()],
        vec![empty_gz.clone(), plain.clone()],
        vec![empty, empty_gz, plain],
    ] {
        let seen = read_all(files.clone(), 16, None);
        assert_eq!(
            seen,
            vec![(0, "{\"x\":1}".to_string(), 1, 0), (0, "{\"x\":2}".to_string(), 2, 8)],
            "{files:?}"
        );
    }
}

/// A corrupt or truncated compressed file: the lines before the damage are read, the rest
/// of that file is one unreadable record (a dead letter downstream) with its position and
/// the start of its first line, and the next file is read as usual.
#[test]
fn the_unreadable_rest_of_a_compressed_file_is_one_record_and_the_next_file_is_read() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> = (0..40_000).map(|i| format!("{{\"x\":{i},\"pad\":\"{:x}\"}}", i * 7919)).collect();
    let text = lines.join("\n") + "\n";
    let gz = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let zst = zstd::encode_all(text.as_bytes(), 1).unwrap();
    let mut flipped = gz.clone();
    let middle = flipped.len() / 2;
    flipped[middle..middle + 64].fill(0xa5);
    let after = dir.join("z-after.jsonl");
    std::fs::write(&after, "{\"after\":1}\n").unwrap();
    let damaged = [
        ("truncated.jsonl.gz", gz[..gz.len() / 2].to_vec()),
        ("flipped.jsonl.gz", flipped),
        ("truncated.jsonl.zst", zst[..zst.len() / 2].to_vec()),
    ];
    for (name, bytes) in damaged {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut source = LineSource::new(vec![path.clone(), after.clone()], BlockOptions::default());
        let mut read = Vec::new();
        let mut unreadable = Vec::new();
        let mut after_lines = Vec::new();
        while let Some(block) = source.next_block().unwrap() {
            for i in 0..block.lines.len() {
                let line = String::from_utf8(block.line(i).to_vec()).unwrap();
                if &*block.source == after.to_str().unwrap() {
                    after_lines.push(line);
                } else {
                    assert!(unreadable.is_empty(), "{name}: no line after the damage");
                    read.push(line);
                }
            }
            unreadable.extend(block.unreadable.clone());
        }
        assert!(!read.is_empty() && read.len() < lines.len(), "{name}: read {} lines", read.len());
        assert_eq!(unreadable.len(), 1, "{name}");
        let rest = &unreadable[0];
        assert_eq!(rest.line_number, read.len() as u64 + 1, "{name}");
        let offset: usize = read.iter().map(|l| l.len() + 1).sum();
        assert_eq!(rest.byte_offset, offset as u64, "{name}");
        assert!(
            rest.reason
                .starts_with(&format!("unreadable compressed input from line {}: ", read.len() + 1)),
            "{}",
            rest.reason
        );
        if name.starts_with("truncated") {
            // A truncated stream decodes exactly up to its end (damage inside a deflate
            // stream may decode to garbage before it is found: those lines are read).
            let intact = read.iter().zip(&lines).all(|(read, line)| read == line);
            assert!(intact, "{name}: the lines before the damage, in order");
            assert!(
                lines[read.len()].as_bytes().starts_with(&rest.raw),
                "{name}: raw is the start of the next line"
            );
        }
        assert_eq!(after_lines, vec!["{\"after\":1}".to_string()], "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A restart whose input changed since the checkpoint (rotated or rewritten: the position is
/// no longer a line start) is refused rather than read from mid-line, on the mapped and the
/// streamed (followed, compressed) readers alike.
#[test]
fn a_resume_position_that_is_not_a_line_start_is_refused() {
    let dir = std::env::temp_dir().join(format!("occurrent-jsonl-moved-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n";
    let rotated = "{\"y\":100}\n{\"y\":200}\n{\"y\":300}\n";
    let plain = dir.join("a.jsonl");
    let gz = dir.join("a.jsonl.gz");
    let at_line_two = FilePosition {
        file: 0,
        byte_offset: 8,
        line_number: 1,
    };
    for follow in [false, true] {
        for (content, ok) in [(text, true), (rotated, false)] {
            std::fs::write(&plain, content).unwrap();
            let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
            encoder.write_all(content.as_bytes()).unwrap();
            encoder.finish().unwrap();
            for file in [&plain, &gz] {
                let mut source = LineSource::new(
                    vec![file.clone()],
                    BlockOptions {
                        follow,
                        idle: Some(Duration::from_millis(10)),
                        ..BlockOptions::default()
                    },
                );
                source.resume_at(at_line_two, 0);
                let first = source.next_block();
                match ok {
                    true => {
                        let block = first.unwrap().expect("a block");
                        assert_eq!(block.line(0), b"{\"x\":2}", "{}", file.display());
                        assert_eq!(block.lines[0].line_number, 2);
                    }
                    false => {
                        let error = first.unwrap_err().to_string();
                        assert!(error.contains("is not at the start of a line"), "{}: {error}", file.display());
                    }
                }
            }
        }
    }
    // A position at the end of an input whose last line has no newline (read to its end
    // before the checkpoint) is not a change.
    let unterminated = "{\"x\":1}\n{\"x\":2}";
    std::fs::write(&plain, unterminated).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
    encoder.write_all(unterminated.as_bytes()).unwrap();
    encoder.finish().unwrap();
    let at_end = FilePosition {
        file: 0,
        byte_offset: unterminated.len() as u64,
        line_number: 2,
    };
    for file in [&plain, &gz] {
        let mut source = LineSource::new(vec![file.clone()], BlockOptions::default());
        source.resume_at(at_end, 0);
        assert!(lines_of(&mut source).is_empty(), "{}", file.display());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A source following `path`, quick to give up a partial or empty block.
pub(super) fn followed(path: &Path) -> LineSource {
    LineSource::new(
        vec![path.to_path_buf()],
        BlockOptions {
            follow: true,
            linger: Duration::from_millis(10),
            idle: Some(Duration::from_millis(10)),
            ..BlockOptions::default()
        },
    )
}

/// The next `want` lines of a followed source (fewer if `within` passes first), as (text,
/// line number, byte offset).
pub(super) fn next_followed_lines(source: &mut LineSource, want: usize, within: Duration) -> Vec<(String, u64, u64)> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + within;
    while lines.len() < want && Instant::now() < deadline {
        let block = source.next_block().unwrap().expect("a followed file never ends");
        for (i, line) in block.lines.iter().enumerate() {
            lines.push((
                String::from_utf8(block.line(i).to_vec()).unwrap(),
                line.line_number,
                line.byte_offset,
            ));
        }
    }
    lines
}

/// A followed file truncated and written again (`copytruncate` rotation) is read again from
/// its start: the new lines, numbered from 1, none skipped (it used to read on from the old
/// offset, losing every new line before it and cutting one mid-line).
#[test]
fn a_followed_file_truncated_and_rewritten_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    std::fs::write(&path, "{\"old\":1}\n{\"old\":2}\n{\"old\":3}\n{\"old\":4}\n{\"old\":5}\n").unwrap();
    let mut source = followed(&path);
    let next_lines = |source: &mut LineSource, want: usize| next_followed_lines(source, want, Duration::from_secs(10));
    assert_eq!(next_lines(&mut source, 5).len(), 5);
    // Truncated, then two new lines and a partial third (shorter than the old content).
    std::fs::write(&path, "{\"new\":1}\n{\"new\":2}\n{\"ne").unwrap();
    let lines = next_lines(&mut source, 2);
    assert_eq!(lines, vec![("{\"new\":1}".to_string(), 1, 0), ("{\"new\":2}".to_string(), 2, 10)]);
    assert_eq!(
        source.position(),
        FilePosition {
            file: 0,
            byte_offset: 20,
            line_number: 2
        }
    );
    // Appends after it go on as usual.
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(file, "w\":3}}").unwrap();
    assert_eq!(next_lines(&mut source, 1), vec![("{\"new\":3}".to_string(), 3, 20)]);
}

/// A followed file renamed away and created again (logrotate's default rotation): the lines
/// the writer still appends to the renamed file are read, its last line without a newline
/// too, and then the new file from its start, none skipped (the reader used to stay on the
/// renamed file and never read the new one).
#[test]
fn a_followed_file_renamed_and_created_again_is_finished_then_read_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    std::fs::write(&path, "{\"old\":1}\n{\"old\":2}\n").unwrap();
    let mut source = followed(&path);
    // (line, line number): the byte offsets are the truncation test's.
    let next_lines = |source: &mut LineSource, want: usize, within: Duration| -> Vec<(String, u64)> {
        let lines = next_followed_lines(source, want, within);
        lines.into_iter().map(|(line, number, _)| (line, number)).collect()
    };
    assert_eq!(next_lines(&mut source, 2, Duration::from_secs(10)).len(), 2);
    // Rotated: renamed, a new file created with a line; the writer has not reopened yet and
    // still appends to the old one, whose last line has no newline.
    let rotated = dir.path().join("live.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    std::fs::write(&path, "{\"new\":1}\n").unwrap();
    let mut old = std::fs::OpenOptions::new().append(true).open(&rotated).unwrap();
    write!(old, "{{\"old\":3}}\n{{\"old\":4}}").unwrap();
    drop(old);
    // Within the grace the old file's complete lines come, and not yet the new file's.
    let before = next_lines(&mut source, 2, super::follow::ROTATION_GRACE / 2);
    assert_eq!(before, vec![("{\"old\":3}".to_string(), 3)]);
    // Then the old file's last line, the new file's numbered from 1, and appends to it.
    let mut new = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(new, "{{\"new\":2}}").unwrap();
    let after = next_lines(&mut source, 3, Duration::from_secs(10));
    assert_eq!(
        after,
        vec![
            ("{\"old\":4}".to_string(), 4),
            ("{\"new\":1}".to_string(), 1),
            ("{\"new\":2}".to_string(), 2)
        ]
    );
    assert_eq!(
        source.position(),
        FilePosition {
            file: 0,
            byte_offset: 20,
            line_number: 2
        }
    );
    // Renamed away and not created again: the reader stays on the file it has.
    std::fs::rename(&path, dir.path().join("live.jsonl.2")).unwrap();
    let mut moved = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("live.jsonl.2"))
        .unwrap();
    writeln!(moved, "{{\"new\":3}}").unwrap();
    assert_eq!(
        next_lines(&mut source, 1, Duration::from_secs(10)),
        vec![("{\"new\":3}".to_string(), 3)]
    );
}
