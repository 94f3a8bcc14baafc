//! The kill matrix: for every crash point, a child process that reaches it (creating the segment,
//! publishing, unpublishing, recovering, reclaiming, claiming an entry or reading, in a state that
//! makes the point run) dies there by SIGKILL; points inside loops die at their first and second pass. For
//! the recovery points a second recovery then dies at the same point again if it gets there. The
//! parent then opens the segment again and audits it (`super::audit`), checks that each slot holds
//! exactly the version the point implies — the previous one before the commit, the new one after,
//! never a mix — publishes once more and audits again, finding nothing left to recover.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// A child publishes version 3 of slot 0 (the parent pins versions 1 and 2 when `pinned`).
    Publish { pinned: bool },
    /// A child's write fails, and its pages go back.
    PublishFails,
    /// A child empties slot 0.
    Unpublish { pinned: bool },
    /// A child publishes version 3, a reader pinning version 2 is killed, the child publishes
    /// version 4 and its reclamation finds the dead reader.
    ReclaimDeadReader,
    /// A reader pinning version 2 is killed after the parent published version 3; a child
    /// recovers.
    RecoverDeadReader,
    /// A writer died part way through marking version 3's pages LIVE; a child recovers.
    RecoverInterrupted,
    /// A writer died right after committing version 3, the parent pinning version 2; a child
    /// recovers.
    RecoverCommitted,
    /// Slot 1's version record is damaged; a child recovers.
    RecoverDamagedSlot,
    /// Slot 1's pages read RETIRED though the slot references them; a child recovers.
    RecoverRetiredReferenced,
    /// A child reads slot 0.
    Read,
    /// A reader pinning version 2 is killed; a child opens the segment and claims its entry.
    Claim,
    /// A child creates the segment.
    Create,
}

use Scenario::*;

/// The states in which `point` runs.
fn scenarios(point: &str) -> Vec<Scenario> {
    let publish = [Publish { pinned: false }, Publish { pinned: true }];
    let unpublish = [Unpublish { pinned: false }, Unpublish { pinned: true }];
    match point {
        p if p.starts_with("writer.") => vec![publish[0], publish[1], unpublish[0]],
        p if p.starts_with("publish.") => publish.to_vec(),
        p if p.starts_with("change.") => [publish, unpublish].concat(),
        "reclaim.pins_scanned" => vec![publish[0], publish[1], unpublish[0]],
        "reclaim.page_freed" | "reclaim.run_freed" => vec![publish[0], unpublish[0]],
        "reclaim.dead_reader_cleared" => vec![ReclaimDeadReader],
        p if p.starts_with("rollback.") => vec![PublishFails],
        p if p.starts_with("unpublish.") => unpublish.to_vec(),
        p if p.starts_with("dead_reader.") => vec![RecoverDeadReader, ReclaimDeadReader],
        "recover.begun" | "recover.writing_page_freed" | "recover.seq_bumped" | "recover.in_flight_cleared" => {
            vec![RecoverInterrupted]
        }
        "recover.page_freed" => vec![RecoverInterrupted, RecoverDeadReader],
        "recover.mirror_reset" | "recover.page_retired" => vec![RecoverCommitted],
        "recover.slot_emptied" => vec![RecoverDamagedSlot],
        "recover.page_relived" => vec![RecoverRetiredReferenced],
        "recover.dead_reader_cleared" => vec![RecoverDeadReader],
        p if p.starts_with("claim.") => vec![Claim],
        p if p.starts_with("read.") => vec![Read],
        p if p.starts_with("create.") => vec![Create],
        other => panic!("crash point {other} has no scenario in the kill matrix: add one"),
    }
}

/// The passes a point must die at: the first and the second for points inside page loops (every
/// version here has 3 pages or more), the first elsewhere. Loop points are run at every later pass
/// too, until a child finishes without reaching it.
fn passes(point: &str) -> u32 {
    if point.contains("page_") {
        2
    } else {
        1
    }
}

fn in_loop(point: &str) -> bool {
    point.contains("page_") || point.contains("pin_")
}

/// Whether a publish that died at `point` had committed (its slot word stored).
fn committed(point: &str) -> bool {
    match point {
        p if p.starts_with("writer.") => false,
        "publish.committed" | "publish.mirrored" | "publish.in_flight_committed" | "publish.in_flight_cleared" => true,
        p if p.starts_with("publish.") => false,
        p => p.starts_with("change.") || p.starts_with("reclaim.") || p.starts_with("dead_reader."),
    }
}

/// What slot 0 or 1 must hold after the crash and recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Version(i32),
    Empty { mirror: i32 },
}

fn expected(scenario: Scenario, point: &str) -> [Expect; 2] {
    let slot0 = match scenario {
        Publish { .. } if committed(point) => Expect::Version(3),
        Unpublish { .. }
            if point == "unpublish.emptied" || point.starts_with("change.") || point.starts_with("reclaim.") =>
        {
            Expect::Empty { mirror: 3 }
        }
        ReclaimDeadReader => Expect::Version(4),
        RecoverDeadReader | RecoverCommitted => Expect::Version(3),
        _ => Expect::Version(2),
    };
    let slot1 = match scenario {
        RecoverDamagedSlot => Expect::Empty { mirror: 1 },
        _ => Expect::Version(1),
    };
    [slot0, slot1]
}

fn seen_as_expect(seen: SlotSeen) -> Expect {
    match seen.version {
        Some((_, kn)) => Expect::Version(kn),
        None => Expect::Empty { mirror: seen.mirror },
    }
}

/// One case: the state, the crash, the checks. Returns how many children died at the point, or
/// `None` when the pass is past the last (allowed only when not `required`).
fn run_case(point: &str, pass: u32, scenario: Scenario, required: bool) -> Option<u32> {
    if scenario == Create {
        return Some(run_create_case(point));
    }
    let case = format!("{point}:{pass} in {scenario:?}");
    let name = Name::new("matrix");
    let scratch = Scratch::new("matrix");
    let seg = create(&name.0, 512 << 10, 2, 8);
    let pinned = matches!(scenario, Publish { pinned: true } | Unpublish { pinned: true } | RecoverCommitted);
    let mut held = Vec::new();
    let mut last = vec![0u64; 2];
    last[0] = publish(&seg, 0, 1).unwrap();
    if pinned {
        held.push(seg.read(0).unwrap().unwrap());
    }
    last[0] = publish(&seg, 0, 2).unwrap();
    if pinned {
        held.push(seg.read(0).unwrap().unwrap());
    }
    last[1] = publish(&seg, 1, 1).unwrap();

    let crash = format!("{point}:{pass}");
    let name_arg = name.0.as_str();
    let mut deaths = 0;
    let mut kid = match scenario {
        Publish { .. } => spawn(&scratch, "publish", &[name_arg, "0", "3"], Some(&crash)),
        PublishFails => spawn(&scratch, "publish-fail", &[name_arg, "0"], Some(&crash)),
        Unpublish { .. } => spawn(&scratch, "unpublish", &[name_arg, "0"], Some(&crash)),
        ReclaimDeadReader => {
            let mut reader = spawn(&scratch, "pin", &[name_arg, "0"], None);
            wait_for_pins(&seg, &mut reader);
            let dir = scratch.0.to_str().unwrap();
            let mut writer = spawn(&scratch, "publish-twice", &[name_arg, "0", "3", dir], Some(&crash));
            wait_until(&format!("{case}: the first publish"), Duration::from_secs(20), || {
                assert!(writer.running(), "{case}: the writer ended: {}", writer.output());
                scratch.file("ready").exists()
            });
            reader.kill();
            std::fs::write(scratch.file("go"), b"").unwrap();
            writer
        }
        RecoverDeadReader => {
            let mut reader = spawn(&scratch, "pin", &[name_arg, "0"], None);
            wait_for_pins(&seg, &mut reader);
            last[0] = publish(&seg, 0, 3).unwrap();
            // The recovering process opens the segment while the reader lives (a process opening
            // it later would take the dead reader's entry, clearing its pins as it claims it).
            let dir = scratch.0.to_str().unwrap();
            let mut recoverer = spawn(&scratch, "race-recover", &[name_arg, dir, "0"], Some(&crash));
            wait_until(&format!("{case}: the recovering process opening"), Duration::from_secs(20), || {
                assert!(recoverer.running(), "{case}: the recovering process ended: {}", recoverer.output());
                scratch.file("ready-0").exists()
            });
            reader.kill();
            std::fs::write(scratch.file("go"), b"").unwrap();
            recoverer
        }
        Claim => {
            let mut reader = spawn(&scratch, "pin", &[name_arg, "0"], None);
            wait_for_pins(&seg, &mut reader);
            reader.kill();
            spawn(&scratch, "claim", &[name_arg], Some(&crash))
        }
        RecoverInterrupted | RecoverCommitted => {
            let at = if scenario == RecoverCommitted { "publish.committed" } else { "publish.page_live:2" };
            let mut writer = spawn(&scratch, "publish", &[name_arg, "0", "3"], Some(at));
            writer.expect_killed(Duration::from_secs(20));
            spawn(&scratch, "recover", &[name_arg], Some(&crash))
        }
        RecoverDamagedSlot => {
            let (page, _) = split_ref(seg.slot_object(1).load(Ordering::SeqCst)).unwrap();
            let at = seg.layout.page(page);
            seg.map.protect(at, seg.layout.page_size as usize, true, "test").unwrap();
            seg.map.write(at + 20, &[0xAA; 4]);
            seg.map.protect(at, seg.layout.page_size as usize, false, "test").unwrap();
            spawn(&scratch, "recover", &[name_arg], Some(&crash))
        }
        RecoverRetiredReferenced => {
            let reference = seg.slot_object(1).load(Ordering::SeqCst);
            let (page, _) = split_ref(reference).unwrap();
            let record = seg.checked_record(reference, 1).unwrap();
            for p in page..page + record.page_count {
                seg.page_word(p).store(PageState::Retired(record.version_id).encode(), Ordering::SeqCst);
            }
            spawn(&scratch, "recover", &[name_arg], Some(&crash))
        }
        Read => spawn(&scratch, "read", &[name_arg, "0"], Some(&crash)),
        Create => unreachable!("run_create_case"),
    };
    let status = kid.wait(Duration::from_secs(30));
    if status.success() && !required {
        return None;
    }
    kid.expect_killed(Duration::from_secs(30));
    deaths += 1;
    if point.starts_with("recover.") {
        // A crash during the recovery of a crash: another recovery dies at the same point if it
        // gets there (its first pass), or finishes.
        let mut again = spawn(&scratch, "recover", &[name_arg], Some(&format!("{point}:1")));
        let status = again.wait(Duration::from_secs(30));
        assert!(
            status.success() || status.signal() == Some(libc::SIGKILL),
            "{case}: the second recovery ended with {status}: {}",
            again.output()
        );
        deaths += u32::from(!status.success());
    }

    // Open the segment again, recover, audit.
    let reopened = open(&name.0);
    let audit1 = audit(&reopened, &mut last, false).unwrap_or_else(|e| panic!("{case}: {e}"));
    let got = [seen_as_expect(audit1.slots[0]), seen_as_expect(audit1.slots[1])];
    assert_eq!(got, expected(scenario, point), "{case}: the slots hold {:?}", audit1.slots);
    assert_eq!(audit1.pinned_versions_checked, held.len() as u32, "{case}: the parent's pins: {audit1:?}");

    // The segment goes on: one more version, found whole; nothing is left to recover.
    let next = audit1.slots[0].mirror + 1;
    publish(&reopened, 0, next).unwrap_or_else(|e| panic!("{case}: publishing after recovery: {e}"));
    let audit2 = audit(&reopened, &mut last, false).unwrap_or_else(|e| panic!("{case}, after one more publish: {e}"));
    assert_eq!(seen_as_expect(audit2.slots[0]), Expect::Version(next), "{case}");
    assert!(is_empty(&audit2.report), "{case}: a second recovery found more to do: {:?}", audit2.report);
    assert_eq!(audit2.pinned_versions_checked, held.len() as u32, "{case}");
    for p in &held {
        seg.unpin(p).unwrap();
    }
    Some(deaths)
}

/// A creator dies at `point`. Before the header is written the segment is refused by name — empty,
/// or all zero, "its creator died first" — and the name stays taken until removed, after which it
/// is created again; after, the segment is complete and works.
fn run_create_case(point: &str) -> u32 {
    let name = Name::new("create");
    let scratch = Scratch::new("create");
    spawn(&scratch, "create", &[&name.0], Some(point)).expect_killed(Duration::from_secs(30));
    let shm = Location::SharedMemory;
    if point != "create.header_written" {
        let e = slot::open(&name.0, &shm).err().unwrap_or_else(|| panic!("{point}: a half-made segment opened"));
        let (status, says) = match point {
            "create.file_made" => (Status::ErrCorrupt, "its creator died first"),
            _ => (Status::ErrIncompatible, "all zero: its creator has not finished writing it, or died before it did"),
        };
        assert!(e.status() == status && e.message().contains(says), "{point}: {e}");
        let e = slot::create(&name.0, &shm, 512 << 10, 2, 8).err().unwrap_or_else(|| panic!("{point}: created over"));
        assert_eq!(e.status(), Status::ErrExists, "{point}: {e}");
        Segment::unlink(&name.0, &shm).unwrap();
        drop(create(&name.0, 512 << 10, 2, 8));
    }
    let seg = open(&name.0);
    let mut last = vec![0u64; 2];
    let a = audit(&seg, &mut last, false).unwrap_or_else(|e| panic!("{point}: {e}"));
    assert!(a.slots.iter().all(|s| s.version.is_none()) && a.free_pages == seg.layout.page_count, "{point}: {a:?}");
    publish(&seg, 1, 1).unwrap();
    let a = audit(&seg, &mut last, false).unwrap_or_else(|e| panic!("{point}: {e}"));
    assert_eq!(a.slots[1].version.map(|v| v.1), Some(1), "{point}");
    1
}

#[test]
fn every_crash_point_kills_a_process_and_the_segment_recovers() {
    let started = Instant::now();
    let (mut cases, mut deaths) = (0, 0);
    let mut failed = Vec::new();
    for &point in crash::POINTS {
        for scenario in scenarios(point) {
            for pass in 1.. {
                let required = pass <= passes(point);
                if !required && !in_loop(point) {
                    break;
                }
                // Each case on its own: one failure (its message printed as it happens) does not
                // hide the others.
                match std::panic::catch_unwind(|| run_case(point, pass, scenario, required)) {
                    Ok(Some(n)) => deaths += n,
                    Ok(None) => break,
                    Err(_) => {
                        failed.push(format!("{point}:{pass} in {scenario:?}"));
                        break;
                    }
                }
                cases += 1;
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {cases} cases failed (their messages are above):\n{}",
        failed.len(),
        failed.join("\n")
    );
    println!(
        "kill matrix: {} crash points, {cases} cases, {deaths} processes killed at their point, every audit passed, in {:.1?}",
        crash::POINTS.len(),
        started.elapsed()
    );
}
