//! A segment's slot as a `floe_shared_data`: the pointer `floe_segment_slot` gives is accepted by
//! `floe_shared_data_publish` and `_read` as a struct in host memory is, in the writer's process
//! and in a reader process (this test binary run again: `reader_process`, which does nothing
//! unless the writer test sets `FLOE_SLOT_READ`); the Rust face is `Segment::shared_data`.

use crate::harness::{assert_error, place};
use floe::ffi::error::floe_last_error_message;
use floe::ffi::segment::{
    floe_segment, floe_segment_change_count, floe_segment_close, floe_segment_create, floe_segment_open,
    floe_segment_slot, floe_segment_wait,
};
use floe::ffi::shared_data::{
    floe_shared_data_publish, floe_shared_data_put, floe_shared_data_read, floe_shared_data_take, SharedData,
};
use floe::{Object, Segment, Status};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU32, Ordering};

crate::tests![
    a_reader_process_reads_through_floe_shared_data_what_a_writer_publishes_through_it,
    reader_process,
    refusals_are_statuses_with_messages,
    a_pointer_into_a_closed_segment_is_refused_not_followed,
    slot_data_publishes_and_reads_as_shared_cell_does,
    an_empty_read_racing_publishes_gives_the_empty_slots_version,
];

const READ: &str = "FLOE_SLOT_READ";
const VERSIONS: i32 = 150;
const TRANSFER_SAFE: u32 = 1;

/// A segment name unique to this process, this place and this call; unlinked on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Name(format!("slotdata-{}-{:?}-{n}-{tag}", std::process::id(), place()))
    }

    fn c(&self) -> CString {
        CString::new(self.0.clone()).unwrap()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

/// This thread's last failure message.
fn message() -> String {
    // SAFETY: floe keeps the message, NUL-terminated, until this thread's next failure.
    unsafe { CStr::from_ptr(floe_last_error_message()) }.to_string_lossy().into_owned()
}

/// A C call's status as a result carrying floe's message.
fn c(status: Status) -> Result<(), (Status, String)> {
    match status {
        Status::Ok => Ok(()),
        failed => Err((failed, message())),
    }
}

/// Asserts that a C call failed with `want` and a message containing each of `parts`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, (Status, String)>, want: Status, parts: &[&str]) {
    let (status, text) = result.expect_err("the call should fail");
    assert_eq!(status, want, "{text}");
    for part in parts {
        assert!(text.contains(part), "message lacks {part:?}: {text}");
    }
}

/// A segment opened through the C ABI; closed on drop unless closed already.
struct CSegment(*mut floe_segment);

impl CSegment {
    fn create(name: &Name, slots: u32) -> CSegment {
        let mut segment = std::ptr::null_mut();
        // SAFETY: a NUL-terminated name and a writable out-parameter.
        c(unsafe { floe_segment_create(name.c().as_ptr(), 1 << 20, slots, 8, &mut segment) }).unwrap();
        CSegment(segment)
    }

    fn open(name: &str) -> CSegment {
        let mut segment = std::ptr::null_mut();
        let name = CString::new(name).unwrap();
        // SAFETY: as above.
        c(unsafe { floe_segment_open(name.as_ptr(), &mut segment) }).unwrap();
        CSegment(segment)
    }

    fn slot(&self, slot: u32) -> Result<*mut SharedData, (Status, String)> {
        let mut data = std::ptr::null_mut();
        // SAFETY: a writable out-parameter; the segment pointer is checked by floe.
        c(unsafe { floe_segment_slot(self.0, slot, &mut data) })?;
        Ok(data)
    }

    fn close(&mut self) {
        if !self.0.is_null() {
            c(floe_segment_close(self.0)).unwrap();
            self.0 = std::ptr::null_mut();
        }
    }
}

impl Drop for CSegment {
    fn drop(&mut self) {
        self.close();
    }
}

// The C calls on a `floe_shared_data *`. SAFETY (each): the pointer is a slot's, a host struct, NULL
// or made up on purpose; floe checks it before any use, and the out-parameters are writable.

fn publish(data: *mut SharedData, root: Option<&Object>) -> Result<(), (Status, String)> {
    c(unsafe { floe_shared_data_publish(data, root.map_or(0, Object::handle)) })
}

fn read(data: *mut SharedData) -> Result<(i32, Option<Object>), (Status, String)> {
    let (mut version, mut root) = (0, 0);
    c(unsafe { floe_shared_data_read(data, &mut version, &mut root) })?;
    Ok((version, (root != 0).then(|| Object::from_raw(root))))
}

fn put(data: *mut SharedData, root: &Object) -> Result<(), (Status, String)> {
    c(unsafe { floe_shared_data_put(data, root.handle(), TRANSFER_SAFE) })
}

fn take(data: *mut SharedData) -> Result<Object, (Status, String)> {
    let mut root = 0;
    c(unsafe { floe_shared_data_take(data, &mut root) })?;
    Ok(Object::from_raw(root))
}

/// Version `v`'s graph: a frozen list `[v, "price v"]` holding a second list `[10 v]`.
fn prices(v: i32) -> Object {
    let list = Object::new_list().unwrap();
    list.push_int(i64::from(v)).unwrap();
    list.push_string(&format!("price {v}")).unwrap();
    let inner = Object::new_list().unwrap();
    inner.push_int(10 * i64::from(v)).unwrap();
    list.push_ref(Some(&inner)).unwrap();
    list.freeze(Some("prices")).unwrap();
    list
}

/// Checks a read of `prices(version)`; says what is wrong.
fn check(version: i32, root: &Object) -> Result<(), String> {
    let inner = root.get_ref(2).unwrap().ok_or("no inner list")?;
    let seen = (root.get_int(0).unwrap(), root.get_string(1).unwrap(), inner.get_int(0).unwrap());
    let want = (i64::from(version), format!("price {version}"), 10 * i64::from(version));
    if seen != want || !root.is_frozen().unwrap() {
        return Err(format!("version {version} holds {seen:?}"));
    }
    Ok(())
}

fn a_reader_process_reads_through_floe_shared_data_what_a_writer_publishes_through_it() {
    let name = Name::new("pair");
    let segment = CSegment::create(&name, 2);
    let data = segment.slot(1).unwrap();
    assert_eq!(read(data).unwrap().0, 0, "a new slot is empty, version 0");
    let reader = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("api::segment_shared_data::reader_process")
        .env(READ, &name.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for v in 1..=VERSIONS {
        publish(data, Some(&prices(v))).unwrap();
        let (version, root) = read(data).unwrap();
        assert_eq!(version, v, "the slot's next version is its current one plus one");
        check(version, &root.unwrap()).unwrap();
        if v % 50 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5)); // let the reader see some one by one
        }
    }
    let output = reader.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("2 passed, 0 failed"), "the reader process: {text}");
    // Publishing nothing empties the slot and bumps its version; an empty slot stays as it is.
    publish(data, None).unwrap();
    assert!(matches!(read(data).unwrap(), (v, None) if v == VERSIONS + 1));
    publish(data, None).unwrap();
    assert!(matches!(read(data).unwrap(), (v, None) if v == VERSIONS + 1));
    // The Rust face of the same slot, in a second opening.
    let again = Segment::open(&name.0).unwrap().shared_data(1).unwrap();
    assert!(matches!(again.read().unwrap(), (v, None) if v == VERSIONS + 1));
}

/// The reader, in its own process: opens the segment, takes slot 1's floe_shared_data, and reads
/// it through floe_shared_data_read after each change until the last version. Every pair is
/// whole; versions never go back.
fn reader_process() {
    let Ok(name) = std::env::var(READ) else { return };
    let segment = CSegment::open(&name);
    let data = segment.slot(1).unwrap();
    let (mut last, mut seen) = (0, 0);
    while last < VERSIONS {
        let mut count = 0;
        // SAFETY: a writable out-parameter.
        c(unsafe { floe_segment_change_count(segment.0, 1, &mut count) }).unwrap();
        let (version, root) = read(data).unwrap();
        if let Some(root) = root {
            assert!(version >= last, "version {version} after {last}");
            check(version, &root).unwrap();
            seen += u32::from(version != last);
            last = version;
        }
        if last < VERSIONS {
            // SAFETY: as above.
            let waited = c(unsafe { floe_segment_wait(segment.0, 1, count, 10_000, &mut count) });
            waited.unwrap_or_else(|e| panic!("no new version after {last}: {e:?}"));
        }
    }
    assert!(seen >= 1);
    // The slot's Rust face reads the same pair.
    let slot = Segment::open(&name).unwrap().shared_data(1).unwrap();
    let (version, root) = slot.read().unwrap();
    assert_eq!(version, VERSIONS);
    check(version, &root.unwrap()).unwrap();
}

fn refusals_are_statuses_with_messages() {
    let name = Name::new("refusals");
    let segment = CSegment::create(&name, 2);
    let data = segment.slot(0).unwrap();
    let shown = format!("segment /floe.{}", name.0);
    refused(segment.slot(2), Status::ErrOutOfRange, &["slot 2", "2 slots"]);
    // SAFETY: NULL out-parameter and NULL segment, on purpose.
    refused(c(unsafe { floe_segment_slot(segment.0, 0, std::ptr::null_mut()) }), Status::ErrNull, &["out_data"]);
    refused(CSegment(std::ptr::null_mut()).slot(0), Status::ErrNull, &["NULL"]);

    // A mutable graph cannot be parked in memory other processes read; the graph stays the caller's.
    let draft = Object::new_list().unwrap();
    refused(
        put(data, &draft),
        Status::ErrInvalidArgument,
        &["cannot put a mutable graph in slot 0", &shown, "publish"],
    );
    draft.push_int(1).unwrap();
    refused(take(data), Status::ErrInvalidArgument, &["holds no graph to take", "floe_shared_data_read"]);
    refused(publish(data, Some(&draft)), Status::ErrNotFrozen, &["freeze it first"]);
    assert!(matches!(read(data).unwrap(), (0, None)), "nothing was published");

    // Inside the segment but not at a slot's start: never written as a struct.
    // SAFETY (pointer arithmetic): both stay inside the mapping; floe never dereferences them.
    let (middle, header) =
        unsafe { (data.cast::<u8>().add(8).cast::<SharedData>(), data.cast::<u8>().sub(256).cast()) };
    for pointer in [middle, header] {
        let part = if pointer == middle { "byte 8 of slot 0" } else { "byte 0 of the header" };
        let parts = [part, &shown, "not the start of a slot", "floe_segment_slot"];
        refused(read(pointer), Status::ErrInvalidArgument, &parts);
        refused(publish(pointer, Some(&prices(1))), Status::ErrInvalidArgument, &parts);
        refused(put(pointer, &draft), Status::ErrInvalidArgument, &parts);
        refused(take(pointer), Status::ErrInvalidArgument, &parts);
    }
    assert!(matches!(read(data).unwrap(), (0, None)), "the slot is untouched");

    // NULL is NULL, with segments open as without.
    let null = std::ptr::null_mut();
    refused(read(null), Status::ErrNull, &["NULL"]);
    refused(publish(null, None), Status::ErrNull, &["NULL"]);
    refused(put(null, &draft), Status::ErrNull, &["NULL"]);
    refused(take(null), Status::ErrNull, &["NULL"]);

    // A struct in host memory still takes the in-process path, put and take included.
    let mut host = Box::new(SharedData { version: 0, object: std::ptr::null_mut() });
    let host: *mut SharedData = &mut *host;
    publish(host, Some(&prices(7))).unwrap();
    check(7, &read(host).unwrap().1.unwrap()).unwrap();
    publish(host, None).unwrap();
    put(host, &draft).unwrap();
    std::mem::forget(draft); // consumed by the put
    assert_eq!(take(host).unwrap().get_int(0).unwrap(), 1);
    assert_eq!(read(host).unwrap().0, 4, "publish, empty, put, take");
}

fn a_pointer_into_a_closed_segment_is_refused_not_followed() {
    let name = Name::new("closed");
    let mut segment = CSegment::create(&name, 1);
    let data = segment.slot(0).unwrap();
    publish(data, Some(&prices(1))).unwrap();
    // Read in place: the handle keeps the mapping, and the slot's pointer with it, after the close.
    let kept = read(data).unwrap().1.unwrap();
    segment.close();
    check(1, &kept).unwrap();
    assert_eq!(read(data).unwrap().0, 1);
    drop(kept); // the last user of the mapping: it goes, and the pointer is refused from now on
    let parts = ["was slot 0 of segment", &name.0, "closed", "floe_segment_slot"];
    refused(read(data), Status::ErrReleasedHandle, &parts);
    refused(publish(data, Some(&prices(2))), Status::ErrReleasedHandle, &parts);
    refused(publish(data, None), Status::ErrReleasedHandle, &parts);
    refused(take(data), Status::ErrReleasedHandle, &parts);
    let draft = Object::new_list().unwrap();
    refused(put(data, &draft), Status::ErrReleasedHandle, &parts);
    // SAFETY (pointer arithmetic): inside the closed segment's reserved slot section; never followed.
    let middle = unsafe { data.cast::<u8>().add(4).cast() };
    refused(read(middle), Status::ErrInvalidArgument, &["byte 4 of slot 0", "closed since"]);

    // The same through the Rust face: the pointer outlives the SlotData that gave it.
    let rust_name = Name::new("closed-rust");
    let slot = Segment::create(&rust_name.0, 1 << 16, 1, 2).unwrap().shared_data(0).unwrap();
    slot.publish(Some(&prices(1))).unwrap();
    let pointer = slot.as_ptr();
    assert_eq!(read(pointer).unwrap().0, 1); // the root read in place is dropped at once
    drop(slot); // the last owner of the segment: it closes
    refused(read(pointer), Status::ErrReleasedHandle, &["was slot 0", &rust_name.0]);
    // Reopened, the segment has a new mapping and its slot a new pointer; the old one stays refused.
    let reopened = Segment::open(&rust_name.0).unwrap().shared_data(0).unwrap();
    assert_ne!(reopened.as_ptr(), pointer);
    check(1, &read(reopened.as_ptr()).unwrap().1.unwrap()).unwrap();
    refused(read(pointer), Status::ErrReleasedHandle, &["was slot 0"]);
}

fn slot_data_publishes_and_reads_as_shared_cell_does() {
    let name = Name::new("rust");
    let segment = Segment::create(&name.0, 1 << 20, 2, 4).unwrap();
    let slot = segment.shared_data(1).unwrap();
    assert_eq!(slot.slot(), 1);
    assert!(matches!(slot.read().unwrap(), (0, None)));
    assert_error(segment.shared_data(2), Status::ErrOutOfRange, &["slot 2"]);
    let draft = Object::new_list().unwrap();
    assert_error(slot.publish(Some(&draft)), Status::ErrNotFrozen, &["freeze it first"]);
    slot.publish(Some(&prices(1))).unwrap();
    slot.publish(Some(&prices(2))).unwrap();
    let (version, root) = slot.read().unwrap();
    assert_eq!(version, 2);
    check(2, &root.unwrap()).unwrap();
    // The slot's floe_shared_data reads the same, and publishes into the same slot.
    assert_eq!(read(slot.as_ptr()).unwrap().0, 2);
    publish(slot.as_ptr(), Some(&prices(3))).unwrap();
    check(3, &slot.read().unwrap().1.unwrap()).unwrap();
    assert_eq!(segment.read_copy(1).unwrap().unwrap().0, 3, "a slot's SharedData is the slot");
    slot.publish(None).unwrap();
    assert!(matches!(slot.read().unwrap(), (4, None)));
    slot.publish(None).unwrap();
    assert!(matches!(slot.read().unwrap(), (4, None)), "an empty slot stays as it is");
    assert!(segment.read_copy(0).unwrap().is_none(), "slot 0 was not touched");
}

/// A writer thread fills and empties one slot (odd versions full, each holding its version; even
/// versions empty) while another thread reads it: a full read's graph is its version's, and an
/// empty read's version is an empty one's, never the version of a graph it did not get.
fn an_empty_read_racing_publishes_gives_the_empty_slots_version() {
    let name = Name::new("race");
    let segment = Segment::create(&name.0, 1 << 20, 1, 4).unwrap();
    let slot = segment.shared_data(0).unwrap();
    let (started, done) = (std::sync::atomic::AtomicBool::new(false), std::sync::atomic::AtomicBool::new(false));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !started.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            for v in (1..400).step_by(2) {
                slot.publish(Some(&prices(v))).unwrap();
                slot.publish(None).unwrap();
            }
            done.store(true, Ordering::Release);
        });
        s.spawn(|| {
            let (mut last, mut empty, mut full) = (0, 0, 0);
            started.store(true, Ordering::Release);
            loop {
                let finished = done.load(Ordering::Acquire);
                let (version, root) = read(slot.as_ptr()).unwrap();
                assert!(version >= last, "version {version} after {last}");
                last = version;
                match root {
                    Some(root) => {
                        check(version, &root).unwrap();
                        full += 1;
                    }
                    None => {
                        assert!(version % 2 == 0, "an empty read gave version {version}, a full one's");
                        empty += 1;
                    }
                }
                if finished {
                    break;
                }
            }
            assert!(empty + full >= 2, "read before and after the writer");
        });
    });
    assert!(matches!(slot.read().unwrap(), (400, None)));
}
