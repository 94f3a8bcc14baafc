//! A slot as Kotlin/Native's `SharedData` between processes: the glue between the version block
//! and the store. Publish plans a frozen graph and writes its block straight into the pages the
//! store hands out; a read pins the slot's version, opens its block with the version id the store
//! expects, copies the graph into the heap and unpins — on every path, failures included, so that
//! nothing stays pinned or allocated behind an error.
//!
//! A slot is also a `floe_shared_data`: `shared_data_of` gives the pointer to its first 16 bytes,
//! `shared_data_at` finds the slot again from such a pointer (`store::mapped`), and
//! `publish_shared` / `read_shared` are what `floe_shared_data_publish` / `_read` do there. Put and
//! take are refused (`refuse_put`, `refuse_take`): a detached mutable graph lives in one process's
//! heap, so memory other processes read cannot hold it for a taker.

use super::block::{plan, BlockView};
use super::store::map::Location;
use super::store::mapped;
use super::store::read::Pinned;
use super::store::recover::Report;
use super::store::segment::{Inspection, Segment};
use crate::core::base::error::{Error, Result, Status};
use crate::core::heap::handle;
use std::sync::Arc;
use std::time::Duration;

/// Creates a segment whose recovery also checks each version's block header, registered by
/// address (its slots are `floe_shared_data`).
pub(crate) fn create(
    name: &str,
    location: &Location,
    size: u64,
    slot_count: u32,
    reader_capacity: u32,
) -> Result<Arc<Segment>> {
    Segment::create(name, location, size, slot_count, reader_capacity).map(shared)
}

/// Opens a segment whose recovery also checks each version's block header, registered by address
/// (its slots are `floe_shared_data`).
pub(crate) fn open(name: &str, location: &Location) -> Result<Arc<Segment>> {
    Segment::open(name, location).map(shared)
}

fn shared(seg: Segment) -> Arc<Segment> {
    let _ = seg.block_check.set(|base, len, version_id| {
        // SAFETY: recovery passes a checked record's block: `len` bytes inside the mapping, which
        // outlives the call; the view reads them through raw copies and checks what it reads.
        unsafe { BlockView::open(base, len, Some(version_id)) }.map(drop).map_err(|e| e.message().to_string())
    });
    let seg = Arc::new(seg);
    mapped::register(&seg);
    seg
}

/// Refuses a segment this process inherited across `fork`: its reader entries and writer state
/// are the parent's, so using them would change the parent's pins behind its back.
pub(crate) fn this_process(seg: &Segment) -> Result<()> {
    seg.this_process()
}

/// Empties the slot (see `Segment::unpublish`).
pub(crate) fn unpublish(seg: &Segment, slot: u32) -> Result<()> {
    this_process(seg)?;
    seg.unpublish(slot)
}

/// Recovers the segment; what recovery found, as text.
pub(crate) fn recover(seg: &Segment) -> Result<String> {
    this_process(seg)?;
    seg.recover().map(|report| describe_recovery(&report))
}

/// Publishes the frozen graph of `root_handle` to `slot` as K/N version `kn_version`; its version
/// id. A mutable root (or one reaching a mutable object) is `ErrNotFrozen`, naming the object;
/// nothing is written then. The caller keeps its handle.
pub(crate) fn publish_graph(seg: &Segment, slot: u32, root_handle: u64, kn_version: Option<i32>) -> Result<u64> {
    this_process(seg)?;
    seg.check_slot(slot)?;
    let root = handle::resolve(root_handle)?;
    let planned = plan(root)?;
    seg.publish(slot, planned.len(), kn_version, |dst, len, version_id, kn_version| {
        // SAFETY: the store hands out `len` writable, 8-byte aligned bytes that no reader can reach
        // before the commit; `len` is the plan's length.
        unsafe { planned.write(dst, len, version_id, kn_version) }
    })
}

/// What one read of a slot saw, with the pin released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) version_id: u64,
    pub(crate) kn_version: i32,
    pub(crate) objects: u32,
    pub(crate) bytes: usize,
}

/// Runs `f` on the open block of the slot's current version, then unpins it whatever `f` did;
/// `None` when the slot is empty.
fn with_block<T>(seg: &Segment, slot: u32, f: impl FnOnce(&BlockView, &Pinned) -> Result<T>) -> Result<Option<T>> {
    this_process(seg)?;
    let Some(pinned) = seg.read(slot)? else { return Ok(None) };
    // SAFETY: the pinned block's `len` bytes stay mapped and unreclaimed until the unpin below;
    // another process may still write them, which every access of the view checks for.
    let result = unsafe { BlockView::open(pinned.base, pinned.len, Some(pinned.version_id)) }
        .map_err(|e| in_slot(seg, &pinned, e))
        .and_then(|view| f(&view, &pinned));
    let unpinned = seg.unpin(&pinned);
    match (result, unpinned) {
        (Ok(value), Ok(())) => Ok(Some(value)),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// Copies the slot's current graph into the heap (frozen, like the graph published): its K/N version and a
/// handle to its root, which the caller owns; `None` when the slot is empty. Types are matched by
/// name and fields (`ErrTypeMismatch` names the type and field); a damaged block is `ErrCorrupt`.
pub(crate) fn read_copy(seg: &Segment, slot: u32) -> Result<Option<(i32, u64)>> {
    let mut imported = None;
    let result = with_block(seg, slot, |view, pinned| {
        let root = view.import().map_err(|e| in_slot(seg, pinned, e))?;
        imported = Some(root);
        Ok((pinned.kn_version, root))
    });
    if result.is_err() {
        // The import succeeded but the unpin did not: the copy is not handed out, so it goes.
        if let Some(root) = imported {
            let _ = crate::core::graph::object::release(root);
        }
    }
    result
}

/// Checks every byte of the slot's current version (O(N)); what it holds, or `None` when empty.
/// The first problem is `ErrCorrupt`, naming the segment, slot and version.
pub(crate) fn verify_slot(seg: &Segment, slot: u32) -> Result<Option<Seen>> {
    with_block(seg, slot, |view, pinned| {
        view.verify().map_err(|e| in_slot(seg, pinned, e))?;
        Ok(Seen {
            version_id: view.version_id(),
            kn_version: view.kn_version(),
            objects: view.object_count(),
            bytes: view.block_len(),
        })
    })
}

/// Waits until the slot's change counter differs from `seen`, at most `timeout` (`None`: without
/// limit); the new counter, or `ErrTimeout`. Long waits go in steps of a day, so that no deadline
/// overflows the clock.
pub(crate) fn wait(seg: &Segment, slot: u32, seen: u32, timeout: Option<Duration>) -> Result<u32> {
    const STEP: Duration = Duration::from_secs(24 * 60 * 60);
    this_process(seg)?;
    let mut left = timeout;
    loop {
        let step = left.map_or(STEP, |l| l.min(STEP));
        match seg.wait_for_change(slot, seen, step) {
            Err(e) if e.status() == Status::ErrTimeout && left.is_none_or(|l| l > STEP) => {
                left = left.map(|l| l - STEP);
            }
            Err(e) if e.status() == Status::ErrTimeout => {
                let waited = timeout.map_or("ever".to_string(), |t| format!("{t:?}"));
                return Err(Error::new(
                    Status::ErrTimeout,
                    format!("slot {slot} of segment {} did not change within {waited}", seg.shown),
                ));
            }
            other => return other,
        }
    }
}

/// Waits until the change counter of one of `slots` (each with the counter seen) differs, at most
/// `timeout` (`None`: without limit); the position of the first that did, or `ErrTimeout`.
pub(crate) fn wait_any(seg: &Segment, slots: &[(u32, u32)], timeout: Option<Duration>) -> Result<usize> {
    const STEP: Duration = Duration::from_secs(24 * 60 * 60);
    this_process(seg)?;
    let mut left = timeout;
    loop {
        let step = left.map_or(STEP, |l| l.min(STEP));
        match seg.wait_for_any(slots, step) {
            Err(e) if e.status() == Status::ErrTimeout && left.is_none_or(|l| l > STEP) => {
                left = left.map(|l| l - STEP);
            }
            other => return other,
        }
    }
}

/// The slot's K/N version as it reads now (an empty slot's included).
pub(crate) fn current_kn_version(seg: &Segment, slot: u32) -> Result<i32> {
    seg.check_slot(slot)?;
    Ok(seg.slot_version(slot).load(std::sync::atomic::Ordering::Acquire))
}

/// `inspect`'s snapshot as text: the header, each slot, each reader, the pages.
pub(crate) fn describe(i: &Inspection) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "segment {}: format {}.{}, {} bytes, {} pages of {} bytes, created by uid {} at {} (unix time)",
        i.name, i.format.0, i.format.1, i.segment_len, i.page_count, i.page_size, i.creator_uid, i.created_unix_secs
    );
    let in_flight = match &i.writer.in_flight {
        None => "none".to_string(),
        Some(f) => format!(
            "version {} of slot {} in pages {}..{} ({})",
            f.version_id,
            f.slot,
            f.first_page,
            f.first_page + f.page_count,
            if f.committed { "committed" } else { "being written" }
        ),
    };
    let _ = writeln!(
        out,
        "writer: pid {} (lock {}), epoch {}, next version id {}, publish in flight: {in_flight}",
        i.writer.pid,
        if i.writer.locked { "held" } else { "free" },
        i.epoch,
        i.next_version_id
    );
    for s in &i.slots {
        let name = if s.name.is_empty() { String::new() } else { format!(" {:?}", s.name) };
        let held = match (s.version_id, &s.problem) {
            (_, Some(problem)) => format!("damaged: {problem}"),
            (Some(id), None) => format!("version id {id}, {} bytes in {} pages", s.bytes, s.pages),
            (None, None) => "empty".to_string(),
        };
        let _ = writeln!(
            out,
            "slot {}{name}: version {}, {held}, {} changes, {} waiting",
            s.index, s.kn_version, s.seq, s.waiters
        );
    }
    for r in &i.readers {
        let _ = writeln!(
            out,
            "reader {}: pid {}, {}, pins versions {:?}",
            r.index,
            r.pid,
            if r.alive { "alive" } else { "dead" },
            r.pins
        );
    }
    let _ = writeln!(
        out,
        "pages: {} free, {} live, {} retired, {} being written",
        i.free_pages, i.live_pages, i.retired_pages, i.writing_pages
    );
    out
}

/// Recovery's report as text.
pub(crate) fn describe_recovery(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if let Some((pid, f)) = &r.interrupted {
        let _ = writeln!(out, "an unfinished publish of pid {pid}: version {} of slot {}", f.version_id, f.slot);
    }
    for (slot, why) in &r.slots_emptied {
        let _ = writeln!(out, "slot {slot} emptied: {why}");
    }
    for d in &r.dead_readers {
        let _ = writeln!(out, "reader {} (pid {}) was dead; its pins {:?} cleared", d.index, d.pid, d.pins);
    }
    let _ = writeln!(
        out,
        "{} pages being written freed, {} versions freed, {} retired; {} pages free",
        r.writing_pages_freed, r.versions_freed, r.versions_retired, r.free_pages
    );
    out
}

/// The block's error, prefixed with where the block is.
fn in_slot(seg: &Segment, pinned: &Pinned, e: Error) -> Error {
    Error::new(
        e.status(),
        format!("segment {}, slot {}, version {}: {}", seg.shown, pinned.slot, pinned.version_id, e.message()),
    )
}

/// The first byte of the slot's `floe_shared_data`: the slot's first 16 bytes in this process's
/// mapping, laid out as the C struct on a 64-bit target. Hosts only pass it back to floe, which
/// finds the slot by its address (`shared_data_at`) and never writes it as a struct.
pub(crate) fn shared_data_of(seg: &Segment, slot: u32) -> Result<*mut u8> {
    this_process(seg)?;
    seg.check_slot(slot)?;
    Ok(seg.map.ptr(seg.layout.slot(slot), 16))
}

/// The slot that a `floe_shared_data` of `size` bytes at `addr` is, when the address falls in a
/// segment this process maps or has mapped; `None` for host memory. Inside a segment but not at a
/// slot's start is `ErrInvalidArgument`; in a closed segment, `ErrReleasedHandle`. Costs the
/// in-process path one or two relaxed loads (see `store::mapped`).
#[inline(always)]
pub(crate) fn shared_data_at(addr: usize, size: usize) -> Result<Option<(Arc<Segment>, u32)>> {
    mapped::place(addr, size)
}

/// `floe_shared_data_publish` on a slot: the frozen graph of `root` as the slot's next version
/// (its current one plus one, as `floe_segment_publish`), or, with `None`, the slot emptied (as
/// `floe_segment_unpublish`: its version bumped, unless it was empty already).
pub(crate) fn publish_shared(seg: &Segment, slot: u32, root: Option<u64>) -> Result<()> {
    match root {
        Some(root) => publish_graph(seg, slot, root, None).map(drop),
        None => unpublish(seg, slot),
    }
}

/// Reads of an empty slot that kept being filled in between, after which the reader gives up.
const MAX_SHARED_READS: u32 = 1 << 16;

/// `floe_shared_data_read` on a slot: its version and a handle to its graph, which the caller
/// owns (its objects read in place, as `floe_segment_read` gives them); for an empty slot, its
/// version and `None`. The pair is whole: a full slot's version comes from its version's record,
/// an empty one's from `empty_version`.
pub(crate) fn read_shared(seg: &Arc<Segment>, slot: u32) -> Result<(i32, Option<u64>)> {
    read_whole(seg, slot, true)
}

/// The slot's version and a handle to its graph's root — read in place, or copied into the heap —
/// or, for an empty slot, its version and `None`: a pair never torn (see `read_shared`).
pub(crate) fn read_whole(seg: &Arc<Segment>, slot: u32, in_place: bool) -> Result<(i32, Option<u64>)> {
    this_process(seg)?;
    for _ in 0..MAX_SHARED_READS {
        let read = if in_place { super::inplace::attach(seg, slot)? } else { read_copy(seg, slot)? };
        if let Some((version, root)) = read {
            return Ok((version, Some(root)));
        }
        if let Some(version) = seg.empty_version(slot)? {
            return Ok((version, None));
        }
    }
    Err(Error::new(
        Status::ErrLimit,
        format!("slot {slot} of segment {} was filled {MAX_SHARED_READS} times while being read empty", seg.shown),
    ))
}

/// `floe_shared_data_put` on a slot, refused: a detached mutable graph lives in this process's
/// heap, and only a thread of this process could take it, so memory other processes read cannot
/// hold it.
pub(crate) fn refuse_put(seg: &Segment, slot: u32) -> Error {
    Error::new(
        Status::ErrInvalidArgument,
        format!(
            "cannot put a mutable graph in slot {slot} of segment {}: a detached graph lives in this process's heap, \
             so memory that other processes read cannot hold it for a taker; freeze it and publish it \
             (floe_shared_data_publish), or put it in a floe_shared_data in this process's memory",
            seg.shown
        ),
    )
}

/// `floe_shared_data_take` on a slot, refused: a slot never holds a graph put for a taker.
pub(crate) fn refuse_take(seg: &Segment, slot: u32) -> Error {
    Error::new(
        Status::ErrInvalidArgument,
        format!(
            "slot {slot} of segment {} holds no graph to take: a slot, read by other processes, holds only published \
             frozen graphs (a mutable graph lives in one process's heap); read it with floe_shared_data_read",
            seg.shown
        ),
    )
}

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;
    use crate::core::base::error::Status;
    use crate::core::graph::object;
    use crate::core::heap::value::Value;

    fn list_of(n: i64) -> u64 {
        let list = object::new_list().unwrap();
        object::push(list, Value::Int(n)).unwrap();
        list
    }

    #[test]
    fn a_graph_with_a_cycle_round_trips_and_every_refusal_unpins() {
        let name = format!("slot-{}", std::process::id());
        let seg = create(&name, &Location::SharedMemory, 1 << 20, 2, 4).unwrap();
        assert_eq!(read_copy(&seg, 0).unwrap(), None);
        // a <-> b, both -> c.
        let [a, b, c] = [1, 2, 3].map(list_of);
        for (from, to) in [(a, b), (b, a), (a, c), (b, c)] {
            object::push_ref(from, Some(to)).unwrap();
        }
        let mutable = publish_graph(&seg, 0, a, Some(1)).unwrap_err();
        assert_eq!(mutable.status(), Status::ErrNotFrozen);
        assert!(mutable.message().contains("it is mutable"), "{mutable}");
        object::freeze(a, None).unwrap();
        let id = publish_graph(&seg, 0, a, Some(7)).unwrap();
        assert_eq!(publish_graph(&seg, 9, a, Some(7)).unwrap_err().status(), Status::ErrOutOfRange);
        let (version, copy) = read_copy(&seg, 0).unwrap().unwrap();
        assert_eq!(version, 7);
        let seen = verify_slot(&seg, 0).unwrap().unwrap();
        assert_eq!((seen.version_id, seen.kn_version, seen.objects), (id, 7, 3));
        // The copy: a -> b -> a again, and c shared.
        let b2 = object::get_ref(copy, 1).unwrap().unwrap();
        let a2 = object::get_ref(b2, 1).unwrap().unwrap();
        let (c_from_a, c_from_b) = (object::get_ref(a2, 2).unwrap().unwrap(), object::get_ref(b2, 2).unwrap().unwrap());
        assert_eq!(handle::resolve(a2).unwrap(), handle::resolve(copy).unwrap());
        assert_eq!(handle::resolve(c_from_a).unwrap(), handle::resolve(c_from_b).unwrap());
        for h in [a, b, c, copy, b2, a2, c_from_a, c_from_b] {
            object::release(h).unwrap();
        }
        // Nothing stays pinned: every pin word of this process is clear.
        assert!(seg.inspect().unwrap().readers.iter().all(|r| r.pins.is_empty()));
        drop(seg);
        Segment::unlink(&name, &Location::SharedMemory).unwrap();
    }

    #[test]
    fn recovery_empties_a_slot_whose_block_header_is_damaged() {
        use crate::core::shared::segment::store::layout::{split_ref, RECORD_LEN};
        let name = format!("slot-recover-{}", std::process::id());
        let seg = create(&name, &Location::SharedMemory, 1 << 20, 1, 4).unwrap();
        let list = list_of(5);
        object::freeze(list, None).unwrap();
        publish_graph(&seg, 0, list, Some(1)).unwrap();
        object::release(list).unwrap();
        assert!(seg.recover().unwrap().slots_emptied.is_empty(), "an intact block passes");
        // A peer scribbles on the block's magic.
        let (page, _) = split_ref(seg.slot_object(0).load(std::sync::atomic::Ordering::Acquire)).unwrap();
        let at = seg.layout.page(page);
        let page_size = seg.layout.page_size as usize;
        seg.map.protect(at, page_size, true, "test").unwrap();
        seg.map.write(at + RECORD_LEN as u64, b"NOTFLOE!");
        seg.map.protect(at, page_size, false, "test").unwrap();
        let error = read_copy(&seg, 0).unwrap_err();
        assert_eq!(error.status(), Status::ErrIncompatible);
        assert!(error.message().contains("slot 0") && error.message().contains("not a floe version block"), "{error}");
        let report = seg.recover().unwrap();
        assert_eq!(report.slots_emptied.len(), 1, "{report:?}");
        assert!(report.slots_emptied[0].1.contains("not a floe version block"), "{report:?}");
        assert_eq!(read_copy(&seg, 0).unwrap(), None);
        assert!(seg.inspect().unwrap().readers.iter().all(|r| r.pins.is_empty()));
        drop(seg);
        Segment::unlink(&name, &Location::SharedMemory).unwrap();
    }

    #[test]
    fn verify_names_a_damaged_body_and_unpins() {
        use crate::core::shared::segment::store::layout::{split_ref, RECORD_LEN};
        let name = format!("slot-verify-{}", std::process::id());
        let seg = create(&name, &Location::SharedMemory, 1 << 20, 1, 4).unwrap();
        let list = list_of(5);
        object::push(list, Value::Str("a string the check reads".into())).unwrap();
        object::freeze(list, None).unwrap();
        let id = publish_graph(&seg, 0, list, Some(1)).unwrap();
        object::release(list).unwrap();
        let seen = verify_slot(&seg, 0).unwrap().unwrap();
        assert_eq!((seen.version_id, seen.objects), (id, 1));
        // A peer scribbles on the last byte of the block's body.
        let (page, _) = split_ref(seg.slot_object(0).load(std::sync::atomic::Ordering::Acquire)).unwrap();
        let at = seg.layout.page(page);
        seg.map.protect(at, seg.layout.page_size as usize, true, "test").unwrap();
        seg.map.write(at + RECORD_LEN as u64 + seen.bytes as u64 - 2, &[0xFF]);
        seg.map.protect(at, seg.layout.page_size as usize, false, "test").unwrap();
        let error = verify_slot(&seg, 0).unwrap_err();
        assert_eq!(error.status(), Status::ErrCorrupt);
        assert!(error.message().starts_with(&format!("segment /floe.{name}, slot 0, version {id}: ")), "{error}");
        assert!(seg.inspect().unwrap().readers.iter().all(|r| r.pins.is_empty()));
        drop(seg);
        Segment::unlink(&name, &Location::SharedMemory).unwrap();
    }
}
