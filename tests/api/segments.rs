//! Segments: frozen graphs published in memory shared between processes. The reader is this test
//! binary run again as a second process (`reader_process`, which does nothing unless the writer
//! test sets `FLOE_SEGMENT_READ`).

use crate::harness::{assert_error, place};
use floe::{Kind, Object, ObjectType, Segment, Status};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

crate::tests![
    a_reader_process_sees_each_version_whole_with_its_cycle_and_shared_subgraph,
    reader_process,
    refusals_are_statuses_with_messages,
    unpublish_empties_a_slot_and_bumps_its_version,
];

const READ: &str = "FLOE_SEGMENT_READ";
const VERSIONS: i64 = 200;

/// A segment name unique to this process, this place and this call; unlinked on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Name(format!("api-{}-{:?}-{n}-{tag}", std::process::id(), place()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

fn node_type() -> ObjectType {
    ObjectType::define("SegNode", &[("label", Kind::String), ("n", Kind::Int), ("next", Kind::Ref), ("shared", Kind::Ref)])
        .unwrap()
}

/// Version `v`: `a <-> b` (a cycle), both pointing at one shared list `[v, v * 10]`.
fn graph(v: i64) -> Object {
    let ty = node_type();
    let (a, b) = (Object::new(ty).unwrap(), Object::new(ty).unwrap());
    let shared = Object::new_list().unwrap();
    shared.push_int(v).unwrap();
    shared.push_int(v * 10).unwrap();
    for (node, label, other) in [(&a, "a", &b), (&b, "b", &a)] {
        node.set_string(0, label).unwrap();
        node.set_int(1, v).unwrap();
        node.set_ref(2, Some(other)).unwrap();
        node.set_ref(3, Some(&shared)).unwrap();
    }
    a.freeze(Some("published")).unwrap();
    a
}

/// Checks a copy of `graph(version)`; says what is wrong.
fn check(version: i32, a: &Object) -> Result<(), String> {
    let v = i64::from(version);
    let b = a.get_ref(2).unwrap().ok_or("a.next is null")?;
    let back = b.get_ref(2).unwrap().ok_or("b.next is null")?;
    let (shared_a, shared_b) = (a.get_ref(3).unwrap().ok_or("a.shared")?, b.get_ref(3).unwrap().ok_or("b.shared")?);
    let fields = (a.get_string(0).unwrap(), b.get_string(0).unwrap(), a.get_int(1).unwrap(), b.get_int(1).unwrap());
    if fields != ("a".into(), "b".into(), v, v) {
        return Err(format!("version {version}: fields {fields:?}"));
    }
    if back.id().unwrap() != a.id().unwrap() {
        return Err(format!("version {version}: b.next is not a: the cycle was lost"));
    }
    if shared_a.id().unwrap() != shared_b.id().unwrap() {
        return Err(format!("version {version}: the shared list was copied twice"));
    }
    let list = (shared_a.get_int(0).unwrap(), shared_a.get_int(1).unwrap(), shared_a.len().unwrap());
    if list != (v, v * 10, 2) || !a.is_frozen().unwrap() || a.reachable_count().unwrap() != 3 {
        return Err(format!("version {version}: shared list {list:?}"));
    }
    Ok(())
}

fn a_reader_process_sees_each_version_whole_with_its_cycle_and_shared_subgraph() {
    let name = Name::new("pair");
    let segment = Segment::create(&name.0, 1 << 20, 2, 8).unwrap();
    let reader = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("api::segments::reader_process")
        .env(READ, &name.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for v in 1..=VERSIONS {
        let root = graph(v);
        segment.publish(0, &root).unwrap();
        // The writer's own copy reads back too.
        let (version, copy) = segment.read_copy(0).unwrap().unwrap();
        assert_eq!(i64::from(version), v);
        check(version, &copy).unwrap();
        if v % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5)); // let the reader see some versions one by one
        }
    }
    let output = reader.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("2 passed, 0 failed"), "the reader process: {text}");
    // Every version the reader pinned is unpinned, its entry released: the slot is whole.
    let verified = segment.verify(0).unwrap().unwrap();
    assert_eq!((i64::from(verified.version), verified.objects), (VERSIONS, 3));
    assert!(segment.inspect().unwrap().contains("slot 0: version 200"), "{}", segment.inspect().unwrap());
}

/// The reader, in its own process: opens the segment, waits for versions, checks each copy, and
/// stops at the last one. Versions never go back.
fn reader_process() {
    let Ok(name) = std::env::var(READ) else { return };
    let segment = Segment::open(&name).unwrap();
    let (mut last, mut seen) = (0, 0);
    while i64::from(last) < VERSIONS {
        let count = segment.change_count(0).unwrap();
        if let Some((version, root)) = segment.read_copy(0).unwrap() {
            assert!(version >= last, "version {version} after {last}");
            check(version, &root).unwrap();
            seen += u32::from(version != last);
            last = version;
        }
        if i64::from(last) < VERSIONS {
            match segment.wait_for_change(0, count, Duration::from_secs(10)) {
                Ok(_) => {}
                Err(e) => panic!("no new version after {last}: {e}"),
            }
        }
    }
    assert!(seen >= 1);
}

fn refusals_are_statuses_with_messages() {
    let name = Name::new("refusals");
    let segment = Segment::create(&name.0, 1 << 16, 1, 2).unwrap();
    assert_error(Segment::create(&name.0, 1 << 16, 1, 2), Status::ErrExists, &[&name.0]);
    assert_error(Segment::open(&format!("{}-none", name.0)), Status::ErrNotFound, &["-none"]);
    assert_error(Segment::open("../etc"), Status::ErrInvalidArgument, &["not allowed"]);
    let mutable = Object::new_list().unwrap();
    assert_error(segment.publish(0, &mutable), Status::ErrNotFrozen, &["mutable", "freeze it first"]);
    assert_error(segment.publish(1, &graph(1)), Status::ErrOutOfRange, &["slot 1", "1 slots"]);
    assert_error(segment.read_copy(3), Status::ErrOutOfRange, &["slot 3"]);
    assert!(segment.read_copy(0).unwrap().is_none());
    // A graph larger than the segment: refused, nothing published, the slot still empty.
    let big = Object::new_list().unwrap();
    for i in 0..20_000 {
        big.push_int(i).unwrap();
    }
    big.freeze(None).unwrap();
    assert_error(segment.publish(0, &big), Status::ErrLimit, &["does not fit"]);
    assert!(segment.read_copy(0).unwrap().is_none());
    assert_error(segment.wait_for_change(0, segment.change_count(0).unwrap(), Duration::from_millis(10)), Status::ErrTimeout, &["did not change"]);
}

fn unpublish_empties_a_slot_and_bumps_its_version() {
    let name = Name::new("unpublish");
    let segment = Segment::create(&name.0, 1 << 16, 1, 2).unwrap();
    segment.publish(0, &graph(1)).unwrap();
    let (version, copy) = segment.read_copy(0).unwrap().unwrap();
    let seen = segment.change_count(0).unwrap();
    segment.unpublish(0).unwrap();
    assert_eq!(segment.wait_for_change(0, seen, Duration::ZERO).unwrap(), seen + 1);
    assert!(segment.read_copy(0).unwrap().is_none());
    check(version, &copy).unwrap(); // the copy is the reader's
    segment.unpublish(0).unwrap(); // already empty: nothing happens
    assert_eq!(segment.change_count(0).unwrap(), seen + 1);
    segment.publish(0, &graph(3)).unwrap();
    assert_eq!(segment.read_copy(0).unwrap().unwrap().0, 3, "version 1, emptied as 2, then 3");
    // The slot is reused after the version emptied is reclaimed: the segment does not fill up.
    for v in 0..200 {
        segment.publish(0, &graph(v)).unwrap();
        segment.unpublish(0).unwrap();
    }
}
