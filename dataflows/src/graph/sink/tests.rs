use super::*;
use std::sync::RwLock;
use std::time::Duration;

/// The `serde_json::Value` rendering the text writer replaced.
fn as_value_json(letter: &DeadLetter) -> String {
    use base64::Engine;
    let mut object = serde_json::json!({
        "source": letter.source,
        "line": letter.line,
        "offset": letter.offset,
        "reason": letter.reason,
    });
    if let Some(partition) = letter.partition {
        // A Kafka message: its offset (carried as `line`), no line.
        object["partition"] = partition.into();
        object["offset"] = letter.line.into();
        if let Some(fields) = object.as_object_mut() {
            fields.remove("line");
        }
    }
    match std::str::from_utf8(&letter.raw) {
        Ok(text) => object["raw"] = text.into(),
        Err(_) => object["raw_base64"] = base64::engine::general_purpose::STANDARD.encode(&letter.raw).into(),
    }
    object.to_string()
}

#[test]
fn slices_keep_each_group_whole_and_in_order() {
    let key = |n: u32| GroupKey {
        project: u64::from(n % 7),
        short_id: n,
    };
    // Group 3 has more updates than a slice holds; the others a few each. In three
    // containers, as a sink receives them.
    let mut batch: Vec<((GroupKey, usize), u64, isize)> = Vec::new();
    for i in 0..3 * SLICE {
        let group = if i % 2 == 0 { 3 } else { (i % 97) as u32 };
        batch.push(((key(group), i), 5, 1));
    }
    let containers = |batch: &Vec<((GroupKey, usize), u64, isize)>| batch.chunks(SLICE - 7).map(<[_]>::to_vec).collect::<Vec<_>>();
    let slicing: Slicing<(GroupKey, usize)> = Slicing::ByGroup(|u| u.0);
    let out = slices(containers(&batch), slicing);
    assert!(out.len() > 1);
    // Every update once; each group in one slice, its updates in their order.
    let mut seen: Vec<usize> = out.iter().flatten().map(|u| u.0 .1).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..3 * SLICE).collect::<Vec<_>>());
    let mut slice_of = std::collections::HashMap::new();
    for (n, slice) in out.iter().enumerate() {
        let mut last: std::collections::HashMap<GroupKey, usize> = Default::default();
        for ((k, i), _, _) in slice {
            assert_eq!(*slice_of.entry(*k).or_insert(n), n, "{k:?} in two slices");
            assert!(last.insert(*k, *i).is_none_or(|before| before < *i), "order of {k:?}");
        }
    }
    let whole = slices(containers(&batch), Slicing::Whole);
    assert_eq!(whole.len(), 1);
    assert!(whole[0].iter().map(|u| u.0 .1).eq(0..3 * SLICE), "in order");
}

#[test]
fn slices_of_many_small_groups_stay_near_the_slice_size() {
    let updates: Vec<(GroupKey, u64, isize)> = (0..40 * SLICE as u32)
        .map(|n| {
            let key = GroupKey {
                project: u64::from(n % 13),
                short_id: n / 13 + 1,
            };
            (key, 1, 1)
        })
        .collect();
    let out = slices(vec![updates], Slicing::ByGroup(|k| *k));
    assert!((35..=40).contains(&out.len()), "{} slices", out.len());
    assert!(
        out.iter().all(|s| s.len() < 2 * SLICE),
        "{:?}",
        out.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[test]
fn the_writer_thread_applies_in_order_and_holds_each_epoch_until_applied() {
    use crate::model::SymbolDefinition;
    use crate::state::Counter;
    use timely::dataflow::operators::{Input, Probe};
    use timely::dataflow::ProbeHandle;

    let views = Arc::new(RwLock::new(IssueViews::default()));
    let (writer, thread) = ViewsWriter::spawn(views.clone()).expect("the writer starts");
    // Another thread holds the write lock until told to let go: the writer waits for it, the
    // worker does not.
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let views = views.clone();
        std::thread::spawn(move || {
            let guard = views.write().expect("not poisoned");
            taken_tx.send(()).expect("the test waits");
            let _ = release_rx.recv();
            drop(guard);
        })
    };
    taken_rx.recv().expect("the holder took the lock");
    let worker_views = views.clone();
    timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let queue = ApplyQueue::new(writer);
        let (mut counters, mut symbols) = worker.dataflow::<u64, _, _>(|scope| {
            let (counters, counters_stream) = scope.new_input::<Vec<(Counter, u64, isize)>>();
            let (symbols, symbols_stream) = scope.new_input::<Vec<(SymbolDefinition, u64, isize)>>();
            let apply = IssueViews::apply_counters;
            apply_at_frontier(counters_stream, apply, Slicing::Whole, false, &queue).probe_with(&probe);
            let apply = IssueViews::apply_symbols;
            apply_at_frontier(symbols_stream, apply, Slicing::Whole, false, &queue).probe_with(&probe);
            (counters, symbols)
        });
        counters.send((Counter::LinesRead, 0, 5));
        // A symbol keeps its first name: the later epoch's must come second.
        symbols.send(((7, "first".to_owned()), 0, 1));
        counters.advance_to(1);
        symbols.advance_to(1);
        counters.send((Counter::LinesRead, 1, 2));
        symbols.send(((7, "second".to_owned()), 1, 1));
        counters.advance_to(2);
        symbols.advance_to(2);
        // The worker hands both epochs over and goes on; neither passes while the lock is
        // taken.
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(50) {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        assert!(probe.less_than(&1), "epoch 0 passed before its changes were applied");
        release_tx.send(()).expect("the holder waits");
        let released = std::time::Instant::now();
        while probe.less_than(&2) {
            assert!(released.elapsed() < Duration::from_secs(60), "the writer never applied the epochs");
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        let views = worker_views.read().expect("not poisoned");
        assert_eq!(views.counter(Counter::LinesRead), 7);
        assert_eq!(views.symbols.get(&7).map(String::as_str), Some("first"));
    });
    holder.join().expect("the holder ends");
    // The dataflow is gone, and with it every handle: the writer ends.
    thread.join().expect("the writer ends");
}

#[test]
fn a_job_runs_on_the_writer_after_what_was_sent_before() {
    let views = Arc::new(RwLock::new(IssueViews::default()));
    let (writer, thread) = ViewsWriter::spawn(views.clone()).expect("the writer starts");
    assert!(writer.run(|views| views.complete_through = 3));
    assert!(writer.run(|views| views.complete_through *= 5));
    drop(writer);
    thread.join().expect("the writer ends");
    assert_eq!(views.read().expect("not poisoned").complete_through, 15);
}

/// The calling thread's scheduling policy (0: `SCHED_OTHER`, 1: `SCHED_FIFO`).
#[cfg(target_os = "linux")]
fn scheduling_policy() -> i32 {
    extern "C" {
        fn sched_getscheduler(pid: i32) -> i32;
    }
    // Safety: a plain system call wrapper; pid 0 is the calling thread.
    unsafe { sched_getscheduler(0) }
}

#[cfg(target_os = "linux")]
#[test]
fn a_job_gets_a_hold_of_its_own_unraised_and_every_slice_is_counted() {
    use std::sync::atomic::{AtomicI32, Ordering};
    /// Raising is process-wide (other tests' writers may run raised meanwhile, which only
    /// changes their priority); off again however the test ends.
    struct Raised;
    impl Drop for Raised {
        fn drop(&mut self) {
            crate::views::boost_write_holds(false);
        }
    }
    crate::views::boost_write_holds(true);
    let _raised = Raised;
    let permitted = crate::views::set_thread_realtime(true);
    crate::views::set_thread_realtime(false);
    let views = Arc::new(RwLock::new(IssueViews::default()));
    let (writer, thread) = ViewsWriter::spawn(views.clone()).expect("the writer starts");
    let (slice_policy, job_policy) = (Arc::new(AtomicI32::new(-1)), Arc::new(AtomicI32::new(-1)));
    let activations = timely::scheduling::Activations::new(None);
    let applied = writer::Applied::default();
    let seen = slice_policy.clone();
    let mut slices: Vec<writer::SendSlice> = vec![Box::new(move |_| seen.store(scheduling_policy(), Ordering::SeqCst))];
    slices.extend((0..9).map(|_| -> writer::SendSlice { Box::new(|_| ()) }));
    let batch = writer::Batch {
        slices,
        notify: Some(writer::Notify {
            applied: applied.clone(),
            wake: SyncActivator::new(vec![0], activations.sync()),
        }),
    };
    // Both queued before the writer's first hold (it waits for this read lock): the job
    // could share that hold, and must not.
    let reading = views.read().expect("not poisoned");
    assert!(writer.batches.send(batch).is_ok());
    let seen = job_policy.clone();
    assert!(writer.run(move |_| seen.store(scheduling_policy(), Ordering::SeqCst)));
    drop(reading);
    drop(writer);
    thread.join().expect("the writer ends");
    assert_eq!(applied.load(Ordering::SeqCst), 10, "every slice counted");
    let holds = views.read().expect("not poisoned").write_holds.summary().0;
    assert_eq!(holds, 2, "the slices' hold and the job's");
    assert_eq!(job_policy.load(Ordering::SeqCst), 0, "a job runs at the ordinary priority");
    let expected = if permitted { 1 } else { 0 };
    assert_eq!(slice_policy.load(Ordering::SeqCst), expected, "permitted to raise: {permitted}");
}

#[test]
fn dead_letters_render_as_the_json_object_did() {
    let letter = DeadLetter {
        seq: 1,
        source: "in \"put\".jsonl".into(),
        partition: None,
        line: 12,
        offset: 3456,
        reason: "bad \u{1} line: é".into(),
        raw: r#"{"a":"\u0000 é \\"}"#.as_bytes().to_vec(),
    };
    let kafka = DeadLetter {
        partition: Some(-3),
        raw: vec![0xff, b'{', 0],
        ..letter.clone()
    };
    // Raw lines with every ASCII byte at each offset of a word of JSON text, a realistic
    // stretch of lines, and large line and offset numbers.
    let mut letters = vec![letter.clone(), kafka];
    for byte in 0..0x80u8 {
        for at in 0..9 {
            let mut raw = br#"{"issue_title":"x","n":[1,2],"u":"\u00e9"}"#.to_vec();
            raw.insert(at + 2, byte);
            letters.push(DeadLetter { raw, ..letter.clone() });
        }
    }
    letters.push(DeadLetter {
        raw: include_bytes!("../../../../examples/occurrences.jsonl")[..2000].to_vec(),
        line: u64::MAX,
        offset: 1 << 40,
        ..letter.clone()
    });
    for letter in letters {
        assert_eq!(String::from_utf8(dead_letter_json(&letter)).expect("UTF-8"), as_value_json(&letter));
    }
}

/// A writer into a shared buffer, rendering letters itself (`json_lines: false`) or taking
/// them rendered.
struct Buffer {
    out: Arc<Mutex<Vec<u8>>>,
    json_lines: bool,
}

impl DeadLetterWriter for Buffer {
    fn write(&mut self, letter: &DeadLetter) -> std::io::Result<()> {
        self.out.lock().unwrap().extend(json_line(letter));
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn writes_json_lines(&self) -> bool {
        self.json_lines
    }

    fn write_json_line(&mut self, _letter: &DeadLetter, line: &[u8]) -> std::io::Result<()> {
        self.out.lock().unwrap().extend_from_slice(line);
        Ok(())
    }
}

/// Letters rejected on two workers, in two epochs: rendered where they were rejected or by
/// the writer, the file is the same, in log order.
#[test]
fn dead_letters_rendered_by_the_rejecting_worker_or_the_writer_are_written_alike() {
    use timely::dataflow::operators::{Input, Probe};
    use timely::dataflow::ProbeHandle;

    let written = |json_lines: bool| {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink: DeadLetterSink = Arc::new(Mutex::new(Some(Box::new(Buffer {
            out: out.clone(),
            json_lines,
        }))));
        timely::execute(timely::Config::process(2), move |worker| {
            let index = worker.index() as u64;
            let probe = ProbeHandle::new();
            let sink = sink.clone();
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, letters) = scope.new_input::<Vec<DeadLetter>>();
                write_dead_letters(letters, sink).probe_with(&probe);
                input
            });
            for epoch in 0..2u64 {
                for i in 0..5u64 {
                    // Interleaved between the workers, and out of order within each.
                    let n = epoch * 100 + (4 - i) * 2 + index;
                    input.send(DeadLetter {
                        seq: crate::model::seq_of(epoch, n as usize),
                        source: "in.jsonl".into(),
                        partition: None,
                        line: n + 1,
                        offset: n * 10,
                        reason: format!("reason {n}"),
                        raw: format!("{{\"bad\": \"line \\\" {n}\"").into_bytes(),
                    });
                }
                input.advance_to(epoch + 1);
            }
            drop(input);
            while !probe.done() {
                worker.step();
            }
        })
        .expect("timely runs");
        let bytes = out.lock().unwrap().clone();
        String::from_utf8(bytes).expect("UTF-8")
    };
    let rendered = written(true);
    assert_eq!(rendered, written(false));
    let lines: Vec<u64> = rendered
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON")["line"]
                .as_u64()
                .expect("line")
        })
        .collect();
    let mut expected: Vec<u64> = (0..2).flat_map(|e| (0..10).map(move |n| e * 100 + n + 1)).collect();
    expected.sort_unstable();
    assert_eq!(lines, expected, "every letter once, in log order");
}
