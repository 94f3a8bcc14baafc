//! Deaths that are not crashes at a point: processes that exit without closing the segment, a
//! segment unlinked while processes still have it mapped (and a writer dying in it), and two
//! writers racing to recover after a dead one.

use super::*;

/// Readers that exit (by `exit` and by `_exit`) while pinning, without closing the segment, and
/// writers that exit while another of their threads is part way through a publish: their pins are
/// cleared and their space comes back at the next publish, and every audit passes.
#[test]
fn processes_that_exit_without_closing() {
    let name = Name::new("exits");
    let scratch = Scratch::new("exits");
    let seg = create(&name.0, 1 << 20, 2, 8);
    let mut last = vec![0u64; 2];
    publish(&seg, 0, 1).unwrap();
    publish(&seg, 1, 1).unwrap();

    // Readers: each pins slot 0's version, then exits without closing. Its entry stays, dead,
    // with the pin; the next publish (no recovery: no other process took the writer lock)
    // retires the version, finds the pin's owner dead, clears the entry and frees the version.
    for (kn, how) in [(2, "exit"), (3, "_exit"), (4, "exit")] {
        let mut kid = spawn(&scratch, "pin-exit", &[&name.0, "0", how], None);
        kid.expect_success(Duration::from_secs(20));
        let i = seg.inspect().unwrap();
        let entry = i.readers.iter().find(|r| r.pid == kid.pid()).expect("the exited reader's entry");
        assert!(!entry.alive && entry.pins.len() == 1, "{entry:?}");
        publish(&seg, 0, kn).unwrap();
        let i = seg.inspect().unwrap();
        assert_eq!(i.retired_pages, 0, "{i:#?}");
        assert!(i.readers.iter().all(|r| r.pid != kid.pid() && r.pins.is_empty()), "{:?}", i.readers);
        let a = audit(&seg, &mut last, false).unwrap();
        assert_eq!(a.slots[0].version.map(|v| v.1), Some(kn));
    }

    // Writers: a thread publishes in a loop while the main thread exits after a while.
    let mut unfinished = 0;
    for round in 0..20u64 {
        let delay = (round * 997) % 15_000;
        let mut kid = spawn(&scratch, "publish-exit", &[&name.0, "1", &delay.to_string()], None);
        kid.expect_success(Duration::from_secs(20));
        let i = seg.inspect().unwrap();
        unfinished += u32::from(i.writer.pid == kid.pid() && i.writer.in_flight.is_some());
        assert!(!i.writer.locked, "an exited writer's lock is released: {i:#?}");
        let a = audit(&seg, &mut last, false).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(a.slots[1].version.is_some(), "round {round}");
    }
    println!(
        "20 writers exited with a thread publishing, {unfinished} of them part way through a publish; all recovered"
    );
}

/// A segment unlinked while processes have it mapped keeps working for them: a reader process
/// follows every version to the last; a writer process that opened it before the unlink dies in
/// the middle of a publish and the parent recovers it; a new segment with the same name is another
/// segment, which the reader never sees.
#[test]
fn an_unlinked_segment_keeps_working_for_the_processes_that_map_it() {
    let name = Name::new("unlinked");
    let scratch = Scratch::new("unlinked");
    let seg = create(&name.0, 1 << 20, 1, 8);
    let mut last = vec![0u64; 1];
    publish(&seg, 0, 1).unwrap();
    let mut follower = spawn(&scratch, "follow", &[&name.0, "0", "50"], None);
    let mut writer = spawn(
        &scratch,
        "wait-publish",
        &[&name.0, "0", "26", scratch.0.to_str().unwrap()],
        Some("publish.page_live:2"),
    );
    wait_until("the follower and the writer opening the segment", Duration::from_secs(20), || {
        assert!(follower.running() && writer.running(), "{}\n{}", follower.output(), writer.output());
        let i = seg.inspect().unwrap();
        scratch.file("ready").exists() && i.readers.iter().any(|r| r.pid == follower.pid())
    });

    Segment::unlink(&name.0, &Location::SharedMemory).unwrap();
    let e = slot::open(&name.0, &Location::SharedMemory).err().expect("the name is gone");
    assert_eq!(e.status(), Status::ErrNotFound);
    let other = create(&name.0, 256 << 10, 1, 4);
    publish(&other, 0, 1000).unwrap();

    for kn in 2..=25 {
        publish(&seg, 0, kn).unwrap();
    }
    std::fs::write(scratch.file("go"), b"").unwrap();
    writer.expect_killed(Duration::from_secs(20));
    let a = audit(&seg, &mut last, false).unwrap();
    let (pid, _) = a.report.interrupted.expect("the dead writer's publish");
    assert_eq!(pid, writer.pid());
    assert!(a.report.writing_pages_freed > 0 && a.report.versions_freed >= 1, "{:?}", a.report);
    assert_eq!(a.slots[0].version.map(|v| v.1), Some(25));
    for kn in 26..=50 {
        publish(&seg, 0, kn).unwrap();
    }
    follower.expect_success(Duration::from_secs(30));
    assert!(follower.output().contains("followed slot 0 to version 50:"), "{}", follower.output());
    audit(&seg, &mut last, false).unwrap();
    // The new segment of that name is untouched.
    let mut other_last = vec![0u64; 1];
    assert_eq!(audit(&other, &mut other_last, false).unwrap().slots[0].version.map(|v| v.1), Some(1000));
}

/// A writer dies part way through a publish; two processes then take the writer lock at the same
/// moment to recover. Exactly one finds the interrupted publish and frees its pages; the other
/// finds it done and nothing to do. Then two processes race to publish after a dead writer: both
/// versions land, the dead one's pages are free. Every audit passes.
#[test]
fn two_writers_race_to_recover_after_a_dead_one() {
    for round in 0..10 {
        let name = Name::new("race");
        let scratch = Scratch::new("race");
        let seg = create(&name.0, 1 << 20, 2, 8);
        let mut last = vec![0u64; 2];
        publish(&seg, 0, 1).unwrap();
        publish(&seg, 1, 1).unwrap();
        let point = if round % 2 == 0 { "publish.pages_writing" } else { "publish.page_live:2" };
        let mut dead = spawn(&scratch, "publish", &[&name.0, "0", "2"], Some(point));
        dead.expect_killed(Duration::from_secs(20));
        let dir = scratch.0.to_str().unwrap();
        let mut racers: Vec<Kid> =
            (0..2).map(|me| spawn(&scratch, "race-recover", &[&name.0, dir, &me.to_string()], None)).collect();
        wait_until("both recoverers ready", Duration::from_secs(20), || {
            (0..2).all(|me| scratch.file(&format!("ready-{me}")).exists())
        });
        std::fs::write(scratch.file("go"), b"").unwrap();
        let mut lines = Vec::new();
        for kid in &mut racers {
            kid.expect_success(Duration::from_secs(20));
            let out = kid.output();
            let line =
                out.lines().find_map(|l| l.split_once("recovered: ")).unwrap_or_else(|| panic!("no report: {out}")).1;
            lines.push(format!("recovered: {line}"));
        }
        let found: Vec<&String> =
            lines.iter().filter(|l| l.starts_with(&format!("recovered: interrupted {} ", dead.pid()))).collect();
        let idle = "recovered: interrupted none writing 0 freed 0 retired 0 emptied 0 dead 0";
        assert_eq!(found.len(), 1, "round {round}: exactly one recovers the dead writer's publish: {lines:?}");
        assert!(lines.iter().any(|l| l == idle), "round {round}: the other finds nothing to do: {lines:?}");
        assert!(
            !found[0].contains(" writing 0 freed 0 "),
            "round {round}: the recovery freed the dead publish's pages: {lines:?}"
        );
        let a = audit(&seg, &mut last, false).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(is_empty(&a.report), "round {round}: {:?}", a.report);
        assert_eq!(a.slots.iter().map(|s| s.version.map(|v| v.1)).collect::<Vec<_>>(), vec![Some(1), Some(1)]);

        // Two publishers after another dead writer.
        let mut dead = spawn(&scratch, "publish", &[&name.0, "1", "2"], Some(point));
        dead.expect_killed(Duration::from_secs(20));
        let scratch2 = Scratch::new("race2");
        let dir = scratch2.0.to_str().unwrap();
        let mut racers: Vec<Kid> = (0..2u32)
            .map(|me| spawn(&scratch2, "race-publish", &[&name.0, dir, &me.to_string(), &me.to_string(), "3"], None))
            .collect();
        wait_until("both publishers ready", Duration::from_secs(20), || {
            (0..2).all(|me| scratch2.file(&format!("ready-{me}")).exists())
        });
        std::fs::write(scratch2.file("go"), b"").unwrap();
        for kid in &mut racers {
            kid.expect_success(Duration::from_secs(20));
        }
        let a = audit(&seg, &mut last, false).unwrap_or_else(|e| panic!("round {round}, publishers: {e}"));
        assert_eq!(a.slots.iter().map(|s| s.version.map(|v| v.1)).collect::<Vec<_>>(), vec![Some(3), Some(3)]);
        assert_eq!(a.live_pages + a.free_pages, seg.layout.page_count, "round {round}: {a:?}");
    }
}
