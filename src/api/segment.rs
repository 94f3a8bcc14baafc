//! `Segment`: named memory shared between processes, whose slots hold versioned frozen graphs
//! (Kotlin/Native's `SharedData`, between processes). The format is in `docs/segment-format.md`.

use crate::api::object::Object;
use crate::core::base::error::Result;
use crate::core::shared::segment::store::map::Location;
use crate::core::shared::segment::store::segment::Segment as Store;
use crate::core::shared::segment::{inplace, slot};
use std::sync::Arc;
use std::time::Duration;

/// A segment this process has open: named shared memory (`/floe.<name>`, on Linux in `/dev/shm`)
/// of fixed size, with slots that each hold a versioned frozen graph. Another process opens it by
/// name and reads what this one publishes. Clones share one mapping; the mapping and this
/// process's reader entry go with the last clone. `Send + Sync`: any thread may publish or read.
/// A child process made by `fork` opens the segment again: the copy it inherited is refused
/// (`ErrInvalidArgument`), since its reader entries are the parent's.
///
/// Publishing writes the graph once into the segment, self-describing (its types travel with it),
/// and commits it with one atomic store: readers see the previous version until then. `read`
/// attaches a slot's version in O(1), whatever its size: the objects are read in place, from the
/// segment's bytes, through ordinary (frozen) `Object`s, each read checked against the bytes.
/// `read_copy` copies the graph into this process's heap instead.
///
/// ```
/// use floe::{Kind, Object, Segment, Status};
/// use std::time::Duration;
///
/// let name = format!("doc-{}", std::process::id()); // unique per run
/// let prices = Segment::create(&name, 1 << 20, 4, 8)?; // 1 MiB, 4 slots, 8 reader entries
/// // A frozen graph with a cycle: a list that holds itself.
/// let list = Object::new_list()?;
/// list.push_int(250)?;
/// list.push_ref(Some(&list))?;
/// list.freeze(None)?;
/// let seen = prices.change_count(0)?;
/// prices.publish(0, &list)?;
/// prices.wait_for_change(0, seen, Duration::from_secs(1))?; // already changed: returns at once
///
/// // Another process would do this (here: a second opening in this one).
/// let reader = Segment::open(&name)?;
/// let (version, root) = reader.read(0)?.expect("slot 0 holds a graph"); // in place, no copy
/// assert_eq!((version, root.get_int(0)?, root.is_frozen()?), (1, 250, true));
/// assert_eq!(root.set_int(0, 1).unwrap_err().status(), Status::ErrFrozen);
/// let (version, copy) = reader.read_copy(0)?.expect("slot 0 holds a graph");
/// assert_eq!(version, 1);
/// assert_eq!(copy.get_int(0)?, 250);
/// let again = copy.get_ref(1)?.expect("the cycle survives");
/// assert_eq!(again.get_int(0)?, 250);
/// assert!(reader.read_copy(1)?.is_none()); // an empty slot
///
/// let mutable = Object::new_list()?;
/// assert_eq!(prices.publish(1, &mutable).unwrap_err().status(), Status::ErrNotFrozen);
/// # drop((again, copy, root, list, mutable));
/// Segment::unlink(&name)?; // the memory goes when the last process closes it
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone)]
pub struct Segment {
    store: Arc<Store>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("name", &self.store.shown).finish()
    }
}

impl Segment {
    /// Creates the segment `name` (1 to 200 ASCII letters, digits, `.`, `_`, `-`) of `size` bytes
    /// (rounded up to whole pages) with `slot_count` empty slots and room for `reader_capacity`
    /// processes reading at once. Created `0600` and exclusively: `ErrExists` if the name is
    /// taken; `ErrInvalidArgument` for a bad name or a size too small for its tables.
    pub fn create(name: &str, size: u64, slot_count: u32, reader_capacity: u32) -> Result<Segment> {
        slot::create(name, &Location::SharedMemory, size, slot_count, reader_capacity).map(Segment::wrap)
    }

    /// `create`, as the file `floe.<name>` in `dir` instead of shared memory (a directory only
    /// its owner can enter).
    pub fn create_in(
        dir: &std::path::Path,
        name: &str,
        size: u64,
        slot_count: u32,
        reader_capacity: u32,
    ) -> Result<Segment> {
        slot::create(name, &Location::Directory(dir.into()), size, slot_count, reader_capacity).map(Segment::wrap)
    }

    /// Opens an existing segment, after checking that it is a regular file of this user's with
    /// mode 0600 (`ErrPermission`), a floe segment of a format this floe reads
    /// (`ErrIncompatible`), with an intact header (`ErrCorrupt`); `ErrNotFound` if there is none;
    /// `ErrLimit` when its reader table is full of live processes.
    pub fn open(name: &str) -> Result<Segment> {
        slot::open(name, &Location::SharedMemory).map(Segment::wrap)
    }

    /// `open` for a segment made by `create_in`.
    pub fn open_in(dir: &std::path::Path, name: &str) -> Result<Segment> {
        slot::open(name, &Location::Directory(dir.into())).map(Segment::wrap)
    }

    /// Removes the name. Processes that have the segment open keep using it; its memory goes when
    /// the last one closes it.
    pub fn unlink(name: &str) -> Result<()> {
        Store::unlink(name, &Location::SharedMemory)
    }

    /// `unlink` for a segment made by `create_in`.
    pub fn unlink_in(dir: &std::path::Path, name: &str) -> Result<()> {
        Store::unlink(name, &Location::Directory(dir.into()))
    }

    fn wrap(store: Arc<Store>) -> Segment {
        Segment { store }
    }

    /// Publishes the frozen graph of `root` to `slot`, as the slot's next version (its current
    /// one plus one); returns the version id, unique in the segment. `ErrNotFrozen` names a
    /// mutable object; `ErrLimit` when the segment has no room even after reclaiming versions no
    /// process reads; `ErrOutOfRange` for a slot past the end. One writer at a time: a second
    /// process waits for the first, and each publish's version number is one more than the one
    /// before it, however many processes publish.
    pub fn publish(&self, slot: u32, root: &Object) -> Result<u64> {
        slot::publish_graph(&self.store, slot, root.handle(), None)
    }

    /// Empties the slot and bumps its version (`SharedData`'s publish of nothing); readers keep
    /// what they copied. Emptying an empty slot does nothing.
    pub fn unpublish(&self, slot: u32) -> Result<()> {
        slot::unpublish(&self.store, slot)
    }

    /// Attaches the slot's current version in O(1): its version and its root, whose objects are
    /// read in place from the segment's bytes (no copy); `None` when the slot is empty. The
    /// objects are frozen `Object`s: every getter works, every change is `ErrFrozen` naming the
    /// segment, slot and version; types are matched by name and fields when first needed
    /// (`ErrTypeMismatch`); a damaged object is `ErrCorrupt` when read. The version stays
    /// readable, and its memory in the segment, until the last `Object` from it is dropped, even
    /// after the segment is closed. Atomic fields read as the snapshot the publisher wrote.
    pub fn read(&self, slot: u32) -> Result<Option<(i32, Object)>> {
        Ok(inplace::attach(&self.store, slot)?.map(|(version, root)| (version, Object::from_raw(root))))
    }

    /// Copies the slot's current graph into this process's heap, frozen: its version and its
    /// root; `None` when the slot is empty. Types are matched by name and fields
    /// (`ErrTypeMismatch` names the type and field); a damaged version is `ErrCorrupt`.
    pub fn read_copy(&self, slot: u32) -> Result<Option<(i32, Object)>> {
        Ok(slot::read_copy(&self.store, slot)?.map(|(version, root)| (version, Object::from_raw(root))))
    }

    /// The slot's change counter, one more per publish or unpublish: pass it to `wait_for_change`.
    pub fn change_count(&self, slot: u32) -> Result<u32> {
        self.store.seq(slot)
    }

    /// Waits until the slot's change counter differs from `seen` (from `change_count`), at most
    /// `timeout`; returns the new counter, or `ErrTimeout`. Sleeps on a futex shared between
    /// processes on Linux; elsewhere polls every millisecond.
    pub fn wait_for_change(&self, slot: u32, seen: u32, timeout: Duration) -> Result<u32> {
        slot::wait(&self.store, slot, seen, Some(timeout))
    }

    /// Waits until the change counter of one of `slots` (each `(slot, counter seen)`) differs, at
    /// most `timeout`; the position in `slots` of the first that did, or `ErrTimeout`. 1 to 128
    /// slots; sleeps on all the counters at once (`futex_waitv` on Linux; elsewhere, or on a
    /// kernel without it, polls every millisecond).
    pub fn wait_for_any(&self, slots: &[(u32, u32)], timeout: Duration) -> Result<usize> {
        slot::wait_any(&self.store, slots, Some(timeout))
    }

    /// Names an unnamed slot (1 to 40 bytes of UTF-8, unique in the segment; set once).
    pub fn name_slot(&self, slot: u32, name: &str) -> Result<()> {
        slot::this_process(&self.store)?;
        self.store.name_slot(slot, name)
    }

    /// The slot that has this name; `ErrNotFound` if none has.
    pub fn slot_by_name(&self, name: &str) -> Result<u32> {
        self.store.slot_by_name(name)
    }

    /// Checks every byte of the slot's current version (O(N)): its version id, version, objects
    /// and bytes, or `None` when empty. The first problem found is `ErrCorrupt`, naming it.
    pub fn verify(&self, slot: u32) -> Result<Option<SlotVersion>> {
        Ok(slot::verify_slot(&self.store, slot)?.map(|seen| SlotVersion {
            version_id: seen.version_id,
            version: seen.kn_version,
            objects: seen.objects,
            bytes: seen.bytes,
        }))
    }

    /// The number of slots.
    pub fn slot_count(&self) -> u32 {
        self.store.layout.slot_count
    }

    /// Takes the writer lock and brings the segment back to a consistent state after a crashed
    /// writer or reader (writers do this by themselves when they find the need); what it found
    /// and did, as text.
    pub fn recover(&self) -> Result<String> {
        slot::recover(&self.store)
    }

    /// The segment's state as text: its header, each slot (version, bytes), each reader (pid,
    /// alive, versions pinned) and the pages. A snapshot without the writer lock.
    pub fn inspect(&self) -> Result<String> {
        self.store.inspect().map(|i| slot::describe(&i))
    }
}

/// What one version in a slot holds (from `Segment::verify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotVersion {
    /// Unique in the segment, assigned at publish.
    pub version_id: u64,
    /// The slot's version number (`SharedData`'s version).
    pub version: i32,
    /// Objects in the version's block.
    pub objects: u32,
    /// The block's length in bytes.
    pub bytes: usize,
}

// Shared between threads: the store guards its private state with mutexes and reaches the mapping
// through atomics and raw copies; no `Pinned` block outlives a call.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Segment>();
};

impl Segment {
    /// The slot as Kotlin/Native's `SharedData`, the way [`SharedCell`](crate::SharedCell) is one
    /// in a Rust static: `publish` a frozen graph (or nothing), `read` the version and the graph.
    /// Its [`as_ptr`](SlotData::as_ptr) is the slot's `floe_shared_data` for C code, which the
    /// `floe_shared_data_*` functions accept as they accept one in host memory. `ErrOutOfRange`
    /// for a slot past the end.
    pub fn shared_data(&self, slot: u32) -> Result<SlotData> {
        slot::shared_data_of(&self.store, slot)?;
        Ok(SlotData { segment: self.clone(), slot })
    }
}

/// A slot of a segment as Kotlin/Native's `SharedData` (from [`Segment::shared_data`]): a
/// versioned frozen graph that every process with the segment open reads. It keeps the segment
/// open. Unlike a [`SharedCell`](crate::SharedCell) it has no `put` and `take`: a detached mutable
/// graph lives in one process's heap and only a thread of that process could take it, so memory
/// other processes read cannot hold one; publish a frozen graph instead.
///
/// ```
/// use floe::{Object, Segment, Status};
///
/// let name = format!("doc-slot-{}", std::process::id()); // unique per run
/// let segment = Segment::create(&name, 1 << 20, 1, 4)?;
/// let prices = segment.shared_data(0)?;
/// let list = Object::new_list()?;
/// list.push_int(250)?;
/// list.freeze(None)?;
/// prices.publish(Some(&list))?; // version 1, written once into the segment
/// let (version, copy) = prices.read()?; // in another process: Segment::open, then shared_data(0)
/// assert_eq!((version, copy.expect("published").get_int(0)?), (1, 250));
///
/// // C code given `prices.as_ptr()` reads the same slot through floe_shared_data_read.
/// let (mut version, mut root) = (0, 0);
/// // SAFETY: the pointer is the slot's floe_shared_data; both out-parameters are writable.
/// let status = unsafe { floe::ffi::shared_data::floe_shared_data_read(prices.as_ptr(), &mut version, &mut root) };
/// assert_eq!((status, version), (Status::Ok, 1));
/// drop(Object::from_raw(root));
///
/// prices.publish(None)?; // emptied: version 2
/// assert!(matches!(prices.read()?, (2, None)));
/// # drop(list);
/// Segment::unlink(&name)?;
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SlotData {
    segment: Segment,
    slot: u32,
}

impl SlotData {
    /// Publishes the frozen graph of `root` as the slot's next version (its current one plus
    /// one), or with `None` empties the slot (its version bumped, unless it was empty already).
    /// As [`Segment::publish`] and [`Segment::unpublish`]: `ErrNotFrozen` names a mutable object,
    /// `ErrLimit` when the segment is full.
    pub fn publish(&self, root: Option<&Object>) -> Result<()> {
        slot::publish_shared(&self.segment.store, self.slot, root.map(Object::handle))
    }

    /// The slot's version and its graph, copied into this process's heap (frozen); `None` with
    /// the version of an empty slot. The pair is whole. Never waits for the writer.
    pub fn read(&self) -> Result<(i32, Option<Object>)> {
        let (version, root) = slot::read_shared(&self.segment.store, self.slot)?;
        Ok((version, root.map(Object::from_raw)))
    }

    /// The slot's `floe_shared_data`, for C code: a pointer into this process's mapping of the
    /// segment, which `floe_shared_data_publish` and `floe_shared_data_read` accept. Valid while
    /// the segment is open in this process (this `SlotData` keeps it open); afterwards floe
    /// refuses it (`FLOE_ERR_RELEASED_HANDLE`). Write nothing through it.
    pub fn as_ptr(&self) -> *mut crate::ffi::shared_data::SharedData {
        self.segment.store.map.ptr(self.segment.store.layout.slot(self.slot), 16).cast()
    }

    /// The slot's index in its segment.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The segment the slot belongs to.
    pub fn segment(&self) -> &Segment {
        &self.segment
    }
}
