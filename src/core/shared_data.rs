//! Kotlin/Native's versioned `SharedData { int version; void *kotlinObject; }`, for plain C globals.
//!
//! The struct lives in host memory floe does not own: a zeroed struct is valid and empty. Its
//! `object` is an opaque id into floe's own table, never dereferenced, so a corrupt struct is an
//! error, not a crash. Every operation takes the striped lock of the struct's address, so a reader
//! never sees a torn (version, object) pair, and a reader retains the published root before a
//! writer can release it: the previous value is freed once no reader holds it. Two kinds of
//! content:
//! - a published frozen graph: read by any number of threads, each getting its own reference;
//! - a mutable graph put there detached: taken by exactly one thread, which then owns it.
//!
//! The host must not write the struct itself while floe functions use it.

use super::error::{Error, Result, Status};
use super::handle;
use super::heap::HEAP;
use super::ownership::name;
use super::registry::Registry;
use super::stripes;
use super::transfer::{self, TransferMode, Transit};
use super::value::ObjIndex;
use parking_lot::Mutex;
use std::ffi::c_void;
use std::sync::Arc;

/// The C struct, `floe_shared_data`. Zeroed means empty.
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

static CONTENTS: Registry<Arc<Mutex<Option<Content>>>> = Registry::new("shared-data value");

/// Runs `f` with the struct's fields under its stripe's lock.
///
/// # Safety
/// `data` points to a `SharedData` valid for reads and writes, written by nobody else meanwhile.
unsafe fn locked<R>(data: *mut SharedData, f: impl FnOnce(&mut SharedData) -> Result<R>) -> Result<R> {
    if data.is_null() {
        return Err(Error::new(Status::ErrNull, "the floe_shared_data pointer is NULL"));
    }
    if data.align_offset(std::mem::align_of::<SharedData>()) != 0 {
        return Err(Error::new(Status::ErrInvalidArgument, format!("{data:p} is not an aligned floe_shared_data")));
    }
    let _exclusive = stripes::lock(data as usize);
    // SAFETY: non-null and aligned (checked), valid per the caller's contract, and every floe access
    // to this address holds the same stripe lock.
    f(unsafe { &mut *data })
}

fn content(data: &SharedData) -> Result<Option<Arc<Mutex<Option<Content>>>>> {
    if data.object.is_null() {
        return Ok(None);
    }
    CONTENTS.get(data.object as usize as u64).map(Some).map_err(|_| {
        Error::new(
            Status::ErrInvalidHandle,
            format!(
                "corrupt floe_shared_data: object {:p} is not a value floe stored (version {})",
                data.object, data.version
            ),
        )
    })
}

/// Empties the struct, returning what it held; its id is retired.
fn clear(data: &mut SharedData) -> Result<Option<Content>> {
    let Some(cell) = content(data)? else {
        return Ok(None);
    };
    CONTENTS.remove(data.object as usize as u64, Status::ErrConsumed, "replaced")?;
    data.object = std::ptr::null_mut();
    let taken = cell.lock().take();
    Ok(taken)
}

fn store(data: &mut SharedData, content: Content) -> Result<()> {
    let id = CONTENTS.insert(Arc::new(Mutex::new(Some(content))))?;
    data.object = id as usize as *mut c_void;
    data.version = data.version.wrapping_add(1);
    Ok(())
}

/// Publishes the frozen object of `root` (or, with `None`, empties the struct); readers that hold
/// the previous value keep it. The caller keeps its handle.
///
/// # Safety
/// As for [`locked`].
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
        locked(data, |data| {
            if is_parked(data)? {
                return Err(Error::new(
                    Status::ErrInvalidArgument,
                    "the floe_shared_data holds a mutable graph put there: take it before publishing",
                ));
            }
            let previous = clear(data)?;
            match root {
                Some(index) => {
                    HEAP.retain(index);
                    store(data, Content::Published(index))?;
                }
                None => data.version = data.version.wrapping_add(1),
            }
            Ok(previous)
        })
    }?;
    if let Some(previous) = previous {
        release(previous);
    }
    Ok(())
}

/// Whether the struct holds a parked mutable graph.
fn is_parked(data: &SharedData) -> Result<bool> {
    Ok(content(data)?.is_some_and(|cell| matches!(&*cell.lock(), Some(Content::Parked(_)))))
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
/// As for [`locked`].
pub unsafe fn read(data: *mut SharedData) -> Result<(i32, Option<u64>)> {
    // SAFETY: forwarded contract.
    let (version, root) = unsafe {
        locked(data, |data| {
            let root = match content(data)? {
                None => None,
                Some(cell) => match &*cell.lock() {
                    Some(Content::Published(index)) => {
                        HEAP.retain(*index);
                        Some(*index)
                    }
                    Some(Content::Parked(_)) => return Err(Error::new(
                        Status::ErrInvalidArgument,
                        "the floe_shared_data holds a mutable graph put there for one taker: take it, do not read it",
                    )),
                    None => None,
                },
            };
            Ok((data.version, root))
        })
    }?;
    let root = root.map(handle::issue).transpose()?;
    Ok((version, root))
}

/// Detaches the graph of `root` by `mode` and parks it in the empty struct, for one taker. The
/// handle is consumed on success; on failure it and its graph stay with the caller.
///
/// # Safety
/// As for [`locked`].
pub unsafe fn put(data: *mut SharedData, root: u64, mode: TransferMode) -> Result<()> {
    // SAFETY: forwarded contract.
    unsafe {
        locked(data, move |data| {
            if !data.object.is_null() {
                content(data)?;
                return Err(Error::new(
                    Status::ErrInvalidArgument,
                    "the floe_shared_data is not empty: take or clear its value before putting another",
                ));
            }
            store(data, Content::Parked(transfer::detach(root, mode)?))
        })
    }
}

/// Takes the parked graph, which the calling thread then owns; exactly one taker gets it, the
/// others `ErrConsumed`.
///
/// # Safety
/// As for [`locked`].
pub unsafe fn take(data: *mut SharedData) -> Result<u64> {
    // SAFETY: forwarded contract.
    let transit = unsafe {
        locked(data, |data| {
            if !is_parked(data)? {
                return Err(Error::new(
                    Status::ErrConsumed,
                    "nothing to take: the floe_shared_data is empty (already taken?) or holds a published frozen value",
                ));
            }
            let Some(Content::Parked(transit)) = clear(data)? else { unreachable!("checked just above") };
            data.version = data.version.wrapping_add(1);
            Ok(transit)
        })
    }?;
    transit.attach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::value::Value;
    use crate::core::{freeze, object};

    struct Cell(std::cell::UnsafeCell<SharedData>);
    // SAFETY: accessed only through this module's functions, which lock per address.
    unsafe impl Sync for Cell {}

    #[test]
    fn readers_on_another_thread_see_whole_versions() {
        static CELL: Cell = Cell(std::cell::UnsafeCell::new(SharedData { version: 0, object: std::ptr::null_mut() }));
        let publish_number = |n: i64| {
            let list = object::new_list().unwrap();
            object::push(list, Value::Int(n)).unwrap();
            freeze::freeze(handle::resolve(list).unwrap(), None).unwrap();
            // SAFETY: the static cell is only used through this module.
            unsafe { publish(CELL.0.get(), Some(list)) }.unwrap();
            object::release(list).unwrap();
        };
        publish_number(0);
        let reader = std::thread::spawn(|| {
            for _ in 0..20 {
                // SAFETY: as above.
                let (version, root) = unsafe { read(CELL.0.get()) }.unwrap();
                let root = root.unwrap();
                assert_eq!(
                    object::read(root, 0, crate::core::value::Kind::Int, Value::as_int).unwrap() + 1,
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
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use crate::core::value::{Kind, Value};
    use crate::core::{freeze, object};

    struct Cell(std::cell::UnsafeCell<SharedData>);
    // SAFETY: accessed only through this module's functions, which lock per address.
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
