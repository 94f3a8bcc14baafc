//! Kotlin/Native's versioned `SharedData { int version; void *kotlinObject; }`, for plain C globals.
//!
//! The struct lives in host memory floe does not own: a zeroed struct is valid and empty. Its
//! `object` is an id into floe's lock-free `id_table`, never dereferenced, so a corrupt struct is an
//! error, not a crash. Two kinds of content:
//! - a published frozen graph: read by any number of threads, each getting its own reference;
//! - a mutable graph put there detached: taken by exactly one thread, which then owns it.
//!
//! Invariants:
//! - floe reads and writes the struct's two words atomically. Writers (publish, put, take) hold the
//!   striped lock of the struct's address, so they change it one at a time.
//! - An id names its content together with the version the struct took with it: a reader gets both
//!   from one read of the id's slot, so the pair is never torn.
//! - A writer stores the new id (or NULL), then the version, then ends the old id. Ending waits out
//!   the readers that pinned the id (`id_table`); a reader retains the root while pinned, so the
//!   previous value is freed once no reader holds it.
//! - A reader takes no lock when it finds a live id holding a published value (the common read).
//!   Otherwise (empty, an id ended since it loaded it, a parked graph, a corrupt struct) it reads
//!   under the lock, where the struct cannot change, and reports what it found.
//!
//! The host must not write the struct itself while floe functions use it, nor copy a struct that
//! holds a value (the copy would name the same id, which the first write through either ends).

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::registry::{id_of_pointer, pointer_of_id};
use crate::core::base::ids::table::IdTable;
use crate::core::base::ids::IdKind;
use crate::core::base::slab::LocalFree;
use crate::core::base::stripes;
use crate::core::graph::ownership::name;
use crate::core::graph::transfer::{self, TransferMode, Transit};
use crate::core::heap::handle;
use crate::core::heap::slots::HEAP;
use crate::core::heap::value::ObjIndex;
use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// The C struct, `floe_shared_data`, for any C memory (a global, the heap). Zeroed means empty.
/// Change it only through `floe_shared_data_*`, and do not copy one that holds a value: the copy
/// names the same value, and the first change through either ends it for both (the other then
/// reads as corrupt, `FLOE_ERR_INVALID_HANDLE`). A segment's slot begins with the same 16 bytes
/// (on 64-bit targets), and `floe_segment_slot` gives a pointer to it: the `floe_shared_data_*`
/// functions find such a slot by its address and leave it to the segment's protocols.
#[repr(C)]
#[derive(Debug)]
pub struct SharedData {
    /// Bumped by every change (publish, put, take).
    pub version: i32,
    /// Opaque; NULL when empty. Never dereferenced.
    pub object: *mut c_void,
}

enum Content {
    /// A frozen root, with one counted reference.
    Published(ObjIndex),
    /// A detached mutable graph, for one taker.
    Parked(Transit),
}

/// What an id names: a content and the struct's version since it was stored.
struct Stored {
    version: i32,
    content: Content,
}

impl Stored {
    /// The version and a new reference to the root of a published value; `None` for a parked graph.
    fn share(&self) -> Option<(i32, ObjIndex)> {
        match self.content {
            Content::Published(root) => {
                HEAP.retain(root);
                Some((self.version, root))
            }
            Content::Parked(_) => None,
        }
    }
}

static CONTENTS: IdTable<Stored> = IdTable::new(IdKind::SharedValue);
thread_local! {
    static FREE_IDS: LocalFree = const { LocalFree::new(CONTENTS.shared_free()) };
}

/// The struct's two words, which floe reads and writes only atomically (invariants).
struct Words<'a> {
    version: &'a AtomicI32,
    object: &'a AtomicPtr<c_void>,
}

/// The words of the struct at `data`, checked for NULL and alignment.
///
/// # Safety
/// `data` is NULL or points to a `SharedData` valid for reads and writes for `'a`, which only floe
/// functions use meanwhile.
unsafe fn words<'a>(data: *mut SharedData) -> Result<Words<'a>> {
    if data.is_null() {
        return Err(Error::new(Status::ErrNull, "the floe_shared_data pointer is NULL"));
    }
    if data.align_offset(std::mem::align_of::<SharedData>()) != 0 {
        return Err(Error::new(Status::ErrInvalidArgument, format!("{data:p} is not an aligned floe_shared_data")));
    }
    // SAFETY: non-null and aligned (checked; an `i32` and a pointer are as aligned as their atomics),
    // valid per the caller's contract, and every floe access to them is atomic (invariants).
    unsafe {
        Ok(Words {
            version: AtomicI32::from_ptr(&raw mut (*data).version),
            object: AtomicPtr::from_ptr(&raw mut (*data).object),
        })
    }
}

/// Runs `f` with the words of `data` under its stripe's lock, as every writer does.
///
/// # Safety
/// As for [`words`].
unsafe fn locked<R>(data: *mut SharedData, f: impl FnOnce(&Words) -> Result<R>) -> Result<R> {
    // SAFETY: forwarded contract.
    let words = unsafe { words(data) }?;
    let _exclusive = stripes::lock(data as usize);
    f(&words)
}

/// `f` of what the struct's id names (`None` when empty); under the lock, which keeps it live.
fn with_content<R>(words: &Words, f: impl FnOnce(&Stored) -> R) -> Result<Option<R>> {
    let object = words.object.load(Ordering::Acquire);
    if object.is_null() {
        return Ok(None);
    }
    let id = id_of_pointer(object);
    CONTENTS.read(id, f).map(Some).map_err(|_| {
        let version = words.version.load(Ordering::Relaxed);
        let mismatch = IdKind::SharedValue.mismatch(id);
        Error::new(
            Status::ErrInvalidHandle,
            format!(
                "corrupt floe_shared_data: object {object:p} is not a value floe stored (version {version}){mismatch}"
            ),
        )
    })
}

/// Whether the struct holds a parked mutable graph; checks that a non-NULL id is live.
fn is_parked(words: &Words) -> Result<bool> {
    Ok(with_content(words, |stored| matches!(stored.content, Content::Parked(_)))?.unwrap_or(false))
}

/// Replaces what the struct holds with `content` (or nothing) and bumps its version; returns what
/// it held. The caller holds the lock and checked the id (`with_content`).
fn replace(words: &Words, content: Option<Content>) -> Result<Option<Content>> {
    let version = words.version.load(Ordering::Relaxed).wrapping_add(1);
    let new = match content {
        Some(content) => pointer_of_id(CONTENTS.insert(Stored { version, content }, &FREE_IDS)?),
        None => std::ptr::null_mut(),
    };
    let old = words.object.swap(new, Ordering::AcqRel);
    words.version.store(version, Ordering::Release);
    if old.is_null() {
        return Ok(None);
    }
    // Waits out the readers that pinned the old id; they hold their own references. An id the
    // caller checked under the lock fails to end only if a copy of the struct (host misuse) ended
    // it first, and that end took its content.
    Ok(CONTENTS.end(id_of_pointer(old), &FREE_IDS).ok().map(|stored| stored.content))
}

/// Publishes the frozen object of `root` (or, with `None`, empties the struct); readers that hold
/// the previous value keep it. The caller keeps its handle.
///
/// # Safety
/// As for [`words`].
pub unsafe fn publish(data: *mut SharedData, root: Option<u64>) -> Result<()> {
    let root = match root {
        None => None,
        Some(handle) => {
            let index = handle::resolve(handle)?;
            if !HEAP.slot(index).is_frozen() {
                return Err(Error::new(
                    Status::ErrNotFrozen,
                    format!(
                        "cannot publish {}: shared data is read by every thread, so it must be frozen",
                        name(index)
                    ),
                ));
            }
            Some(index)
        }
    };
    // SAFETY: forwarded contract.
    let previous = unsafe {
        locked(data, |words| {
            if is_parked(words)? {
                return Err(Error::new(
                    Status::ErrInvalidArgument,
                    "the floe_shared_data holds a mutable graph put there: take it before publishing",
                ));
            }
            let content = root.map(|index| {
                HEAP.retain(index);
                Content::Published(index)
            });
            replace(words, content)
        })
    }?;
    if let Some(previous) = previous {
        release(previous);
    }
    Ok(())
}

fn release(content: Content) {
    match content {
        Content::Published(index) => HEAP.release(index),
        Content::Parked(transit) => drop(transit),
    }
}

/// The version and a new reference to the published frozen root (`None` when empty).
///
/// # Safety
/// As for [`words`].
pub unsafe fn read(data: *mut SharedData) -> Result<(i32, Option<u64>)> {
    // SAFETY: forwarded contract.
    let words = unsafe { words(data) }?;
    let object = words.object.load(Ordering::Acquire);
    let shared = match object.is_null() {
        true => None,
        false => CONTENTS.read(id_of_pointer(object), Stored::share).ok().flatten(),
    };
    let (version, root) = match shared {
        Some((version, root)) => (version, Some(root)),
        None => read_locked(data, &words)?,
    };
    let root = root.map(handle::issue).transpose()?;
    Ok((version, root))
}

/// `read` under the lock, for whatever its lock-free attempt could not read (invariants).
#[cold]
fn read_locked(data: *mut SharedData, words: &Words) -> Result<(i32, Option<ObjIndex>)> {
    let _exclusive = stripes::lock(data as usize);
    match with_content(words, Stored::share)? {
        None => Ok((words.version.load(Ordering::Relaxed), None)),
        Some(Some((version, root))) => Ok((version, Some(root))),
        Some(None) => Err(Error::new(
            Status::ErrInvalidArgument,
            "the floe_shared_data holds a mutable graph put there for one taker: take it, do not read it",
        )),
    }
}

/// Detaches the graph of `root` by `mode` and parks it in the empty struct, for one taker. The
/// handle is consumed on success; on failure it and its graph stay with the caller.
///
/// # Safety
/// As for [`words`].
pub unsafe fn put(data: *mut SharedData, root: u64, mode: TransferMode) -> Result<()> {
    // SAFETY: forwarded contract.
    unsafe {
        locked(data, move |words| {
            if with_content(words, |_| ())?.is_some() {
                return Err(Error::new(
                    Status::ErrInvalidArgument,
                    "the floe_shared_data is not empty: take or clear its value before putting another",
                ));
            }
            replace(words, Some(Content::Parked(transfer::detach(root, mode)?))).map(drop)
        })
    }
}

/// Takes the parked graph, which the calling thread then owns; exactly one taker gets it, the
/// others `ErrConsumed`.
///
/// # Safety
/// As for [`words`].
pub unsafe fn take(data: *mut SharedData) -> Result<u64> {
    // SAFETY: forwarded contract.
    let transit = unsafe {
        locked(data, |words| {
            if !is_parked(words)? {
                return Err(Error::new(
                    Status::ErrConsumed,
                    "nothing to take: the floe_shared_data is empty (already taken?) or holds a published frozen value",
                ));
            }
            match replace(words, None)? {
                Some(Content::Parked(transit)) => Ok(transit),
                _ => Err(Error::new(Status::ErrConsumed, "the parked graph was taken through a copy of the struct")),
            }
        })
    }?;
    transit.attach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::graph::freeze;
    use crate::core::graph::object;
    use crate::core::heap::value::Value;

    struct Cell(std::cell::UnsafeCell<SharedData>);
    // SAFETY: accessed only through this module's functions (invariants at the top).
    unsafe impl Sync for Cell {}

    impl Cell {
        const fn empty() -> Cell {
            Cell(std::cell::UnsafeCell::new(SharedData { version: 0, object: std::ptr::null_mut() }))
        }

        /// Publishes a frozen list holding `n`.
        fn publish_number(&self, n: i64) {
            let list = object::new_list().unwrap();
            object::push(list, Value::Int(n)).unwrap();
            freeze::freeze(handle::resolve(list).unwrap(), None).unwrap();
            // SAFETY: the cell is only used through this module.
            unsafe { publish(self.0.get(), Some(list)) }.unwrap();
            object::release(list).unwrap();
        }
    }

    #[test]
    fn a_reader_of_a_published_value_takes_no_lock() {
        static CELL: Cell = Cell::empty();
        CELL.publish_number(7);
        // A writer in the middle of a change holds the struct's lock.
        let writing = stripes::lock(CELL.0.get() as usize);
        let (sender, receiver) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            // SAFETY: as above.
            let read = unsafe { read(CELL.0.get()) }.unwrap();
            sender.send(read).unwrap();
        });
        let read = receiver.recv_timeout(std::time::Duration::from_secs(20));
        drop(writing);
        reader.join().unwrap();
        let (version, root) = read.expect("the read finished while the lock was held");
        let root = root.unwrap();
        assert_eq!(
            (version, object::read(root, 0, crate::core::heap::value::Kind::Int, Value::as_int).unwrap()),
            (1, 7)
        );
        object::release(root).unwrap();
        // SAFETY: as above.
        unsafe { publish(CELL.0.get(), None) }.unwrap();
    }

    #[test]
    fn readers_on_another_thread_see_whole_versions() {
        static CELL: Cell = Cell::empty();
        let publish_number = |n| CELL.publish_number(n);
        publish_number(0);
        let reader = std::thread::spawn(|| {
            for _ in 0..20 {
                // SAFETY: as above.
                let (version, root) = unsafe { read(CELL.0.get()) }.unwrap();
                let root = root.unwrap();
                assert_eq!(
                    object::read(root, 0, crate::core::heap::value::Kind::Int, Value::as_int).unwrap() + 1,
                    i64::from(version)
                );
                object::release(root).unwrap();
            }
        });
        for n in 1..20 {
            publish_number(n);
        }
        reader.join().unwrap();
        // SAFETY: as above.
        unsafe { publish(CELL.0.get(), None) }.unwrap();
    }
}

/// loom model of publish/read: run with `RUSTFLAGS="--cfg floe_loom" cargo test --release --lib loom`.
/// The id's pin and end and the stripe's lock are loom's; the struct's two words are std atomics in
/// host memory, which loom runs in program order.
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use crate::core::graph::freeze;
    use crate::core::graph::object;
    use crate::core::heap::value::{Kind, Value};

    struct Cell(std::cell::UnsafeCell<SharedData>);
    // SAFETY: accessed only through this module's functions (invariants at the top).
    unsafe impl Sync for Cell {}

    fn frozen(n: i64) -> u64 {
        let list = object::new_list().unwrap();
        object::push(list, Value::Int(n)).unwrap();
        freeze::freeze(handle::resolve(list).unwrap(), None).unwrap();
        list
    }

    /// A reader racing two publications sees whole (version, value) pairs, in order, and every
    /// replaced value is freed once the reader lets go of it.
    #[test]
    fn loom_readers_see_whole_versions_and_old_values_die() {
        loom::model(|| {
            CONTENTS.reset_for_model();
            let cell = std::sync::Arc::new(Cell(std::cell::UnsafeCell::new(SharedData {
                version: 0,
                object: std::ptr::null_mut(),
            })));
            let values: Vec<u64> = (0..3).map(frozen).collect();
            let indices: Vec<u32> = values.iter().map(|&v| handle::resolve(v).unwrap()).collect();
            // SAFETY: the cell is only used through this module.
            unsafe { publish(cell.0.get(), Some(values[0])) }.unwrap();
            let reading = cell.clone();
            let reader = loom::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..2 {
                    // SAFETY: as above.
                    let (version, root) = unsafe { read(reading.0.get()) }.unwrap();
                    let root = root.unwrap();
                    assert_eq!(object::read(root, 0, Kind::Int, Value::as_int).unwrap() + 1, i64::from(version));
                    assert!(version >= last);
                    last = version;
                    object::release(root).unwrap();
                }
            });
            for &value in &values[1..] {
                // SAFETY: as above.
                unsafe { publish(cell.0.get(), Some(value)) }.unwrap();
            }
            reader.join().unwrap();
            // SAFETY: as above.
            unsafe { publish(cell.0.get(), None) }.unwrap();
            for value in values {
                object::release(value).unwrap();
            }
            assert!(indices.iter().all(|&i| HEAP.slot(i).owner() == 0), "every value was freed");
        });
    }
}
