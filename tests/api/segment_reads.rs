//! Reading a segment's graphs in place (`Segment::read`): attached in O(1), walked through
//! ordinary frozen `Object`s that read the segment's bytes, each read checked. The reader process
//! is this test binary run again (`in_place_reader_process`, which does nothing unless
//! `FLOE_SEGMENT_READ_IN_PLACE` is set).

use crate::harness::{assert_error, place};
use floe::{Kind, Object, ObjectType, Segment, Status};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

crate::tests![
    a_graph_is_read_in_place_with_its_cycle_shared_subgraph_and_kinds,
    an_old_version_stays_readable_while_held_and_is_reclaimed_after,
    objects_read_in_place_are_frozen_and_refused_where_heap_objects_are_needed,
    scribbled_bytes_give_statuses_never_a_crash,
    a_reader_process_reads_each_version_in_place,
    in_place_reader_process,
    waiting_for_any_of_several_slots_wakes_on_the_one_another_process_changes,
    publisher_process,
    a_reader_whose_type_has_other_fields_gets_a_mismatch_naming_type_and_field,
    mismatched_reader_process,
];

const MISMATCH: &str = "FLOE_SEGMENT_MISMATCHED_READER";

const PUBLISH: &str = "FLOE_SEGMENT_PUBLISH_SLOT_2";

const READ: &str = "FLOE_SEGMENT_READ_IN_PLACE";
const VERSIONS: i64 = 300;

struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Name(format!("inplace-{}-{:?}-{n}-{tag}", std::process::id(), place()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

fn node_type() -> ObjectType {
    ObjectType::define(
        "InPlaceNode",
        &[
            ("label", Kind::String),
            ("n", Kind::Int),
            ("x", Kind::Double),
            ("ok", Kind::Bool),
            ("next", Kind::Ref),
            ("shared", Kind::Ref),
        ],
    )
    .unwrap()
}

/// Version `v`: `a <-> b` (a cycle), both pointing at one shared list `[v, "v", true, 0.5]`.
fn graph(v: i64) -> Object {
    let ty = node_type();
    let (a, b) = (Object::new(ty).unwrap(), Object::new(ty).unwrap());
    let shared = Object::new_list().unwrap();
    shared.push_int(v).unwrap();
    shared.push_string(&v.to_string()).unwrap();
    shared.push_bool(true).unwrap();
    shared.push_double(0.5).unwrap();
    for (node, label, other) in [(&a, "a", &b), (&b, "b", &a)] {
        node.set_string(0, label).unwrap();
        node.set_int(1, v).unwrap();
        node.set_double(2, v as f64 / 4.0).unwrap();
        node.set_bool(3, v % 2 == 0).unwrap();
        node.set_ref(4, Some(other)).unwrap();
        node.set_ref(5, Some(&shared)).unwrap();
    }
    a.freeze(Some("published")).unwrap();
    a
}

/// Checks `graph(version)` as read from `a`; says what is wrong.
fn check(version: i32, a: &Object) -> Result<(), String> {
    let v = i64::from(version);
    let b = a.get_ref(4).map_err(|e| e.to_string())?.ok_or("a.next is null")?;
    let back = b.get_ref(4).map_err(|e| e.to_string())?.ok_or("b.next is null")?;
    let shared = a.get_ref(5).map_err(|e| e.to_string())?.ok_or("a.shared is null")?;
    let shared_b = b.get_ref(5).map_err(|e| e.to_string())?.ok_or("b.shared is null")?;
    let got = |r: floe::Result<String>| r.map_err(|e| e.to_string());
    let fields = (got(a.get_string(0))?, got(b.get_string(0))?, a.get_int(1).unwrap(), b.get_int(1).unwrap());
    if fields != ("a".into(), "b".into(), v, v) {
        return Err(format!("version {version}: fields {fields:?}"));
    }
    if (a.get_double(2).unwrap(), a.get_bool(3).unwrap()) != (v as f64 / 4.0, v % 2 == 0) {
        return Err(format!("version {version}: the double or the bool"));
    }
    if back.id().unwrap() != a.id().unwrap() || shared.id().unwrap() != shared_b.id().unwrap() {
        return Err(format!("version {version}: the cycle or the shared list was lost"));
    }
    let list = (
        shared.get_int(0).unwrap(),
        got(shared.get_string(1))?,
        shared.get_bool(2).unwrap(),
        shared.get_double(3).unwrap(),
    );
    if list != (v, v.to_string(), true, 0.5) || shared.len().unwrap() != 4 {
        return Err(format!("version {version}: shared list {list:?}"));
    }
    // The type matched by name and fields (the oldest such type of this process).
    let shape = (a.is_frozen().unwrap(), a.reachable_count().unwrap(), a.object_type().unwrap().name());
    if shape != (true, 3, "InPlaceNode".to_string()) || a.object_type().unwrap().field("shared").unwrap() != 5 {
        return Err(format!("version {version}: frozen, reachable count, type: {shape:?}"));
    }
    Ok(())
}

fn a_graph_is_read_in_place_with_its_cycle_shared_subgraph_and_kinds() {
    let name = Name::new("walk");
    let segment = Segment::create(&name.0, 1 << 20, 2, 4).unwrap();
    assert!(segment.read(0).unwrap().is_none(), "an empty slot");
    segment.publish(0, &graph(1)).unwrap();
    let (version, a) = segment.read(0).unwrap().unwrap();
    assert_eq!(version, 1);
    check(version, &a).unwrap();
    assert_eq!((a.len().unwrap(), a.kind_at(0).unwrap(), a.kind_at(4).unwrap()), (6, Kind::String, Kind::Ref));
    // Misreads are the statuses heap objects give.
    assert_error(a.get_int(0), Status::ErrWrongKind, &["InPlaceNode#", "label", "string"]);
    assert_error(a.get_int(9), Status::ErrOutOfRange, &["6 fields"]);
    // A second handle to the same object, from any thread.
    let again = a.try_clone().unwrap();
    let from_thread = std::thread::spawn(move || again.get_int(1).unwrap()).join().unwrap();
    assert_eq!(from_thread, 1);
    // A second opening of the segment reads the same version.
    let other = Segment::open(&name.0).unwrap();
    let (_, a2) = other.read(0).unwrap().unwrap();
    check(1, &a2).unwrap();
}

fn an_old_version_stays_readable_while_held_and_is_reclaimed_after() {
    let name = Name::new("held");
    let segment = Segment::create(&name.0, 1 << 18, 1, 4).unwrap();
    segment.publish(0, &graph(1)).unwrap();
    let (_, old) = segment.read(0).unwrap().unwrap();
    let old_list = old.get_ref(5).unwrap().unwrap();
    for v in 2..=50 {
        segment.publish(0, &graph(v)).unwrap();
    }
    check(1, &old).unwrap();
    let (version, new) = segment.read(0).unwrap().unwrap();
    check(version, &new).unwrap();
    assert_eq!(version, 50);
    assert!(segment.inspect().unwrap().contains("pins"), "{}", segment.inspect().unwrap());
    // The segment closed (the last `Segment`): what was read stays readable.
    drop(segment);
    check(1, &old).unwrap();
    assert_eq!(old_list.get_int(0).unwrap(), 1);
    drop((old, old_list, new));
    // Every handle gone: no pin left, the old version's pages return at the next publish.
    let segment = Segment::open(&name.0).unwrap();
    segment.publish(0, &graph(51)).unwrap();
    let text = segment.inspect().unwrap();
    assert!(!text.contains("version 1 "), "version 1 is reclaimed: {text}");
    segment.verify(0).unwrap().unwrap();
}

fn objects_read_in_place_are_frozen_and_refused_where_heap_objects_are_needed() {
    let name = Name::new("frozen");
    let segment = Segment::create(&name.0, 1 << 18, 2, 4).unwrap();
    segment.publish(0, &graph(7)).unwrap();
    let (_, a) = segment.read(0).unwrap().unwrap();
    let list = a.get_ref(5).unwrap().unwrap();
    let parts = ["frozen", "read in place", &name.0, "slot 0", "read_copy"];
    assert_error(a.set_int(1, 8), Status::ErrFrozen, &parts);
    assert_error(a.set_string(0, "c"), Status::ErrFrozen, &parts);
    assert_error(a.set_ref(4, None), Status::ErrFrozen, &parts);
    assert_error(list.push_int(1), Status::ErrFrozen, &parts);
    assert_error(a.ensure_never_frozen(), Status::ErrFrozen, &parts);
    a.freeze(None).unwrap(); // already frozen: nothing to do
                             // Where a heap object is needed, an object read in place is refused, saying so.
    let heap = Object::new(node_type()).unwrap();
    assert_error(heap.set_ref(4, Some(&a)), Status::ErrInvalidArgument, &["read in place", "read_copy"]);
    assert_error(segment.publish(1, &a), Status::ErrInvalidArgument, &["read in place"]);
    // Handles end like any other: a second release is reported.
    let raw = list.handle();
    list.release().unwrap();
    let stale = Object::borrowed(raw);
    assert_error(stale.get_int(0), Status::ErrReleasedHandle, &["released"]);
    assert_error(Object::from_raw(raw).release(), Status::ErrDoubleRelease, &["second release"]);
}

/// Overwrites every data byte of the segment's file after a version is attached; every read then
/// gives a value or a status, never a crash or a hang.
fn scribbled_bytes_give_statuses_never_a_crash() {
    use std::io::{Seek, SeekFrom, Write};
    let name = Name::new("scribble");
    let segment = Segment::create(&name.0, 1 << 16, 1, 2).unwrap();
    segment.publish(0, &graph(3)).unwrap();
    let (_, a) = segment.read(0).unwrap().unwrap();
    let b = a.get_ref(4).unwrap().unwrap();
    let list = a.get_ref(5).unwrap().unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/floe.{}", name.0)).unwrap();
    let len = file.metadata().unwrap().len();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..20 {
        // Random bytes over the data pages (everything past the control pages).
        let noise: Vec<u8> = (0..len / 2)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if round % 2 == 0 {
                    seed as u8
                } else {
                    (seed as u8) & 3
                }
            })
            .collect();
        file.seek(SeekFrom::Start(len / 2)).unwrap();
        file.write_all(&noise).unwrap();
        for object in [&a, &b, &list] {
            let n = object.len().unwrap_or(8);
            for slot in 0..n.min(16) {
                let _ = object.kind_at(slot);
                let _ = object.get_int(slot);
                let _ = object.get_double(slot);
                let _ = object.get_bool(slot);
                let _ = object.get_string(slot);
                if let Ok(Some(target)) = object.get_ref(slot) {
                    let _ = target.len();
                    let _ = target.get_int(0);
                    let _ = target.reachable_count();
                }
            }
            let _ = object.reachable_count();
            let _ = object.object_type();
        }
        let statuses = [Status::ErrCorrupt, Status::ErrWrongKind, Status::ErrOutOfRange, Status::ErrTypeMismatch];
        if let Err(e) = a.get_string(0) {
            assert!(statuses.contains(&e.status()), "{e}");
        }
    }
    drop((a, b, list));
    // The reader entry and its pin are released even though the bytes are garbage.
    assert!(!segment.inspect().map(|t| t.contains("pins [")).unwrap_or(false));
}

fn a_reader_process_reads_each_version_in_place() {
    let name = Name::new("pair");
    let segment = Segment::create(&name.0, 1 << 20, 1, 8).unwrap();
    let reader = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("api::segment_reads::in_place_reader_process")
        .env(READ, &name.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for v in 1..=VERSIONS {
        segment.publish(0, &graph(v)).unwrap();
        if v % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let output = reader.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("2 passed, 0 failed"), "the reader process: {text}");
    let verified = segment.verify(0).unwrap().unwrap();
    assert_eq!((i64::from(verified.version), verified.objects), (VERSIONS, 3));
}

/// The reader, in its own process: attaches each version in place and walks it; keeps the first
/// version it saw and checks it again at the end (the writer cannot reclaim it meanwhile).
fn in_place_reader_process() {
    let Ok(name) = std::env::var(READ) else { return };
    let segment = Segment::open(&name).unwrap();
    let mut first: Option<(i32, Object)> = None;
    let mut last = 0;
    while i64::from(last) < VERSIONS {
        let count = segment.change_count(0).unwrap();
        if let Some((version, root)) = segment.read(0).unwrap() {
            assert!(version >= last, "version {version} after {last}");
            check(version, &root).unwrap();
            last = version;
            if first.is_none() {
                first = Some((version, root));
            }
        }
        if i64::from(last) < VERSIONS {
            segment.wait_for_change(0, count, Duration::from_secs(10)).unwrap();
        }
    }
    let (version, root) = first.expect("a version was read");
    check(version, &root).unwrap();
}

fn waiting_for_any_of_several_slots_wakes_on_the_one_another_process_changes() {
    let name = Name::new("any");
    let segment = Segment::create(&name.0, 1 << 18, 3, 4).unwrap();
    let seen: Vec<(u32, u32)> = (0..3).map(|slot| (slot, segment.change_count(slot).unwrap())).collect();
    assert_error(
        segment.wait_for_any(&seen, Duration::from_millis(20)),
        Status::ErrTimeout,
        &["none of slots 0, 1, 2"],
    );
    assert_error(segment.wait_for_any(&[], Duration::ZERO), Status::ErrInvalidArgument, &["from 1 to 128"]);
    assert_error(segment.wait_for_any(&[(0, 0), (7, 0)], Duration::ZERO), Status::ErrOutOfRange, &["slot 7"]);
    let publisher = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("api::segment_reads::publisher_process")
        .env(PUBLISH, &name.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The publisher waits 100 ms, then publishes slot 2: this process is asleep on the three
    // counters by then, and wakes on the third.
    let changed = segment.wait_for_any(&seen, Duration::from_secs(20)).unwrap();
    assert_eq!(changed, 2);
    let (version, root) = segment.read(2).unwrap().unwrap();
    check(version, &root).unwrap();
    let output = publisher.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(segment.read(0).unwrap().is_none() && segment.read(1).unwrap().is_none());
}

/// Another process: opens the segment, waits 100 ms, publishes version 1 of the graph to slot 2.
fn publisher_process() {
    let Ok(name) = std::env::var(PUBLISH) else { return };
    let segment = Segment::open(&name).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    if segment.read(2).unwrap().is_none() {
        segment.publish(2, &graph(1)).unwrap();
    }
}

fn a_reader_whose_type_has_other_fields_gets_a_mismatch_naming_type_and_field() {
    let name = Name::new("mismatch");
    let segment = Segment::create(&name.0, 1 << 18, 1, 4).unwrap();
    segment.publish(0, &graph(4)).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("api::segment_reads::mismatched_reader_process")
        .env(MISMATCH, &name.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("2 passed, 0 failed"), "the reader process: {text}");
}

/// Another process whose `InPlaceNode` has other fields: attaching works (the root is checked when
/// issued), and the mismatch is a status naming the type and the first field that differs.
fn mismatched_reader_process() {
    let Ok(name) = std::env::var(MISMATCH) else { return };
    ObjectType::define("InPlaceNode", &[("label", Kind::String), ("n", Kind::Double)]).unwrap();
    let segment = Segment::open(&name).unwrap();
    let message = assert_error(segment.read(0), Status::ErrTypeMismatch, &["InPlaceNode", "field 1", &name]);
    assert!(message.contains("n: int") && message.contains("n: double"), "{message}");
    assert_error(segment.read_copy(0), Status::ErrTypeMismatch, &["InPlaceNode"]);
}
