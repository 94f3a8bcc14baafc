//! `floe_segment_*`: named memory shared between processes, whose slots hold versioned frozen
//! graphs (Kotlin/Native's SharedData, between processes).
//!
//! A `floe_segment *` is an opaque id, never dereferenced: floe looks it up (slot and generation)
//! in its table of open segments before anything else, so a garbage pointer is
//! `FLOE_ERR_INVALID_HANDLE` and a closed one `FLOE_ERR_RELEASED_HANDLE`, never a crash. The table
//! holds each open segment behind an `Arc`: a close racing another thread's publish or read ends
//! the id at once, and the mapping goes when that call returns.

use super::{boundary, c_str, floe_ref, out, returning, timeout};
use crate::core::base::error::{Error, Result, Status};
use crate::core::shared::segment::slot;
use crate::core::shared::segment::store::map::Location;
use crate::core::shared::segment::store::segment::Segment;
use parking_lot::Mutex;
use std::ffi::c_char;
use std::sync::Arc;

/// An open segment: an opaque pointer floe checks on every use and never dereferences. Made by
/// `floe_segment_create` or `floe_segment_open`, ended by `floe_segment_close`.
#[allow(non_camel_case_types)]
pub struct floe_segment {
    _opaque: [u8; 0],
}

/// Open segments: slot `i` holds its generation (odd while open) and the segment.
static OPEN: Mutex<Vec<(u32, Option<Arc<Segment>>)>> = Mutex::new(Vec::new());
/// The low word of every segment id: this tag, then the slot index (below 2^16).
const TAG: u64 = 0x5E90_0000;
const MAX_OPEN: usize = 1 << 16;

fn register(segment: Arc<Segment>) -> Result<*mut floe_segment> {
    let mut open = OPEN.lock();
    let index = match open.iter().position(|(_, s)| s.is_none()) {
        Some(index) => index,
        None if open.len() < MAX_OPEN => {
            open.push((0, None));
            open.len() - 1
        }
        None => return Err(Error::new(Status::ErrLimit, format!("cannot open more than {MAX_OPEN} segments at once"))),
    };
    let entry = &mut open[index];
    entry.0 += 1;
    entry.1 = Some(segment);
    let id = u64::from(entry.0) << 32 | TAG | index as u64;
    Ok(std::ptr::without_provenance_mut(id as usize))
}

/// The generation and index a pointer carries, if it looks like a segment id at all.
fn split(seg: *mut floe_segment) -> Option<(u32, usize)> {
    let id = seg.addr() as u64;
    (id & 0xFFFF_0000 == TAG).then_some(((id >> 32) as u32, (id & 0xFFFF) as usize))
}

fn not_open(seg: *mut floe_segment, generation: Option<u32>) -> Error {
    match generation {
        _ if seg.is_null() => Error::new(Status::ErrNull, "the segment is NULL"),
        Some(g) => Error::new(
            Status::ErrReleasedHandle,
            format!("segment {:#x} was closed (generation {g}); it cannot be used again", seg.addr()),
        ),
        None => Error::new(Status::ErrInvalidHandle, format!("{:#x} is not a segment floe opened", seg.addr())),
    }
}

/// The open segment `seg` names.
fn lookup(seg: *mut floe_segment) -> Result<Arc<Segment>> {
    let open = OPEN.lock();
    let Some((generation, index)) = split(seg) else { return Err(not_open(seg, None)) };
    match open.get(index) {
        Some((g, Some(segment))) if *g == generation => Ok(segment.clone()),
        Some((g, _)) if generation & 1 == 1 && generation <= *g => Err(not_open(seg, Some(generation))),
        _ => Err(not_open(seg, None)),
    }
}

/// Creates the segment `name` (1 to 200 ASCII letters, digits, '.', '_', '-'; POSIX shared memory
/// `/floe.<name>`) of `size` bytes rounded up to whole pages, with `slot_count` empty slots and
/// room for `reader_capacity` processes reading at once, and opens it: `*out_segment` is the
/// caller's, to end with `floe_segment_close`. Created 0600 and exclusively: `FLOE_ERR_EXISTS` if
/// the name is taken; `FLOE_ERR_INVALID_ARGUMENT` for a bad name or a size too small for the
/// tables. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_create(
    name: *const c_char,
    size: u64,
    slot_count: u32,
    reader_capacity: u32,
    out_segment: *mut *mut floe_segment,
) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is NULL or a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        register(slot::create(name, &Location::SharedMemory, size, slot_count, reader_capacity)?)
    };
    // SAFETY: documented contract: `out_segment` is NULL or writable.
    unsafe { returning("floe_segment_create", out_segment, "out_segment", body) }
}

/// Opens the existing segment `name`, after checking that it is a regular file owned by this user
/// with mode 0600 (`FLOE_ERR_PERMISSION`), a floe segment of a format this floe reads
/// (`FLOE_ERR_INCOMPATIBLE`) with an intact header (`FLOE_ERR_CORRUPT`); `FLOE_ERR_NOT_FOUND` if
/// there is none; `FLOE_ERR_LIMIT` when its reader table is full of live processes.
/// `*out_segment` is the caller's, to end with `floe_segment_close`. Any thread. A child made by
/// `fork` opens the segment again: the pointer it inherited gives `FLOE_ERR_INVALID_ARGUMENT`
/// (its reader entries are the parent's); closing that copy leaves the parent's entries alone.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_open(name: *const c_char, out_segment: *mut *mut floe_segment) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is NULL or a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        register(slot::open(name, &Location::SharedMemory)?)
    };
    // SAFETY: documented contract: `out_segment` is NULL or writable.
    unsafe { returning("floe_segment_open", out_segment, "out_segment", body) }
}

/// Closes `segment`: the pointer ends at once (later uses give `FLOE_ERR_RELEASED_HANDLE`), and
/// the mapping and this process's reader entry go when calls on other threads that use it return.
/// Graphs read from it stay valid (they are copies). Closing twice is reported, not fatal.
#[unsafe(no_mangle)]
pub extern "C" fn floe_segment_close(segment: *mut floe_segment) -> Status {
    boundary("floe_segment_close", || {
        lookup(segment)?;
        let (generation, index) = split(segment).expect("looked up");
        let mut open = OPEN.lock();
        match open.get_mut(index) {
            Some(entry) if entry.0 == generation && entry.1.is_some() => {
                entry.0 += 1;
                let closed = entry.1.take();
                drop(open);
                drop(closed);
                Ok(())
            }
            _ => Err(not_open(segment, Some(generation))), // closed meanwhile by another thread
        }
    })
}

/// Removes the name `name`. Processes that have the segment open keep using it; its memory goes
/// when the last one closes it. `FLOE_ERR_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_unlink(name: *const c_char) -> Status {
    boundary("floe_segment_unlink", || {
        // SAFETY: documented contract: `name` is NULL or a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        Segment::unlink(name, &Location::SharedMemory)
    })
}

/// Publishes the frozen graph of `root` to `slot` as the slot's next version (its current one plus
/// one), writing it once into the segment, self-describing, and committing it with one atomic
/// store: readers see the previous version until then. Writes the version id (unique in the
/// segment) to `*out_version_id`. The caller keeps `root`. `FLOE_ERR_NOT_FROZEN` names a mutable
/// object; `FLOE_ERR_LIMIT` when the segment has no room even after reclaiming versions no process
/// reads; `FLOE_ERR_OUT_OF_RANGE` for a slot past the end. Any thread; one writer at a time (a
/// second process waits for the first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_publish(
    segment: *mut floe_segment,
    slot: u32,
    root: floe_ref,
    out_version_id: *mut u64,
) -> Status {
    let body = || {
        let segment = lookup(segment)?;
        slot::publish_graph(&segment, slot, root, None)
    };
    // SAFETY: documented contract: `out_version_id` is NULL or writable.
    unsafe { returning("floe_segment_publish", out_version_id, "out_version_id", body) }
}

/// Empties `slot` and bumps its version (as `floe_shared_data_publish` of 0); readers keep what
/// they copied, and its memory is reclaimed once no process reads it. Emptying an empty slot does
/// nothing. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn floe_segment_unpublish(segment: *mut floe_segment, slot: u32) -> Status {
    boundary("floe_segment_unpublish", || slot::unpublish(&*lookup(segment)?, slot))
}

/// Attaches the graph in `slot` in O(1), whatever its size, without copying it: writes its version
/// to `*out_version` and a handle to its root to `*out_root`, which the caller owns and releases
/// with `floe_ref_release`; an empty slot gives root 0 and its version. The handle, and those
/// `floe_object_get_ref` gives from it, read the objects in place, from the segment's bytes, with
/// the ordinary `floe_object_*` calls; each read is checked against the bytes (`FLOE_ERR_CORRUPT`
/// for a damaged object). The objects are frozen: changes give `FLOE_ERR_FROZEN` naming the
/// segment, slot and version; atomic fields read as the snapshot the publisher wrote. Types are
/// matched by name and fields when first needed (`FLOE_ERR_TYPE_MISMATCH`). The version, and its
/// memory in the segment, stay until the last handle into it is released, even after
/// `floe_segment_close`. Handles into a segment are not taken where a heap object is needed (a
/// reference stored in a heap object, a publish, a transfer: `FLOE_ERR_INVALID_ARGUMENT`);
/// `floe_segment_read_copy` gives heap objects. Any thread; never waits for the writer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_read(
    segment: *mut floe_segment,
    slot: u32,
    out_version: *mut i32,
    out_root: *mut floe_ref,
) -> Status {
    // SAFETY: forwarded contract.
    unsafe { read_into("floe_segment_read", segment, slot, true, out_version, out_root) }
}

/// `floe_segment_read` (`in_place`) or `floe_segment_read_copy`: the slot's version and root into
/// the out-parameters, root 0 for an empty slot.
///
/// # Safety
/// Both out-parameters are NULL or writable.
unsafe fn read_into(
    function: &'static str,
    segment: *mut floe_segment,
    slot: u32,
    in_place: bool,
    out_version: *mut i32,
    out_root: *mut floe_ref,
) -> Status {
    boundary(function, || {
        let (version_target, root_target) = (out(out_version, "out_version")?, out(out_root, "out_root")?);
        let (version, root) = slot::read_whole(&lookup(segment)?, slot, in_place)?;
        // SAFETY: forwarded contract: both out-parameters are writable.
        unsafe {
            version_target.write(version);
            root_target.write(root.unwrap_or(0));
        }
        Ok(())
    })
}

/// Copies the graph in `slot` into the calling process's heap, frozen: writes its version to
/// `*out_version` and a handle to its root to `*out_root`, which the caller owns and releases with
/// `floe_ref_release`; an empty slot gives root 0 and its version (0 if never published, else the
/// version its last `floe_segment_unpublish` gave it). Types are matched by name and
/// fields (`FLOE_ERR_TYPE_MISMATCH` names the type and field); a damaged version is
/// `FLOE_ERR_CORRUPT`. Any thread; never waits for the writer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_read_copy(
    segment: *mut floe_segment,
    slot: u32,
    out_version: *mut i32,
    out_root: *mut floe_ref,
) -> Status {
    // SAFETY: forwarded contract.
    unsafe { read_into("floe_segment_read_copy", segment, slot, false, out_version, out_root) }
}

/// What one version in a slot holds (from `floe_segment_verify`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct floe_segment_version {
    /// Unique in the segment, assigned at publish; 0 for an empty slot.
    pub version_id: u64,
    /// The slot's version number (SharedData's version).
    pub version: i32,
    /// Objects in the version's block.
    pub objects: u32,
    /// The block's length in bytes.
    pub bytes: u64,
}

/// Checks every byte of the current version of `slot` (O(N): checksum, types, objects, values,
/// strings) and writes what it holds to `*out_version` (all zero for an empty slot). The first
/// problem found is `FLOE_ERR_CORRUPT`, naming the segment, slot, version and what is wrong. Any
/// thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_verify(
    segment: *mut floe_segment,
    slot: u32,
    out_version: *mut floe_segment_version,
) -> Status {
    let body = || {
        let seen = slot::verify_slot(&*lookup(segment)?, slot)?;
        Ok(seen.map_or_else(floe_segment_version::default, |seen| floe_segment_version {
            version_id: seen.version_id,
            version: seen.kn_version,
            objects: seen.objects,
            bytes: seen.bytes as u64,
        }))
    };
    // SAFETY: documented contract: `out_version` is NULL or writable.
    unsafe { returning("floe_segment_verify", out_version, "out_version", body) }
}

/// Copies text and its NUL into `buf` (`buf_len` bytes) and writes its length to `*out_len`; a
/// buffer too small is `FLOE_ERR_BUFFER_TOO_SMALL` (the message gives the size needed).
///
/// # Safety
/// `buf` is NULL or writable for `buf_len` bytes; `out_len` is NULL or writable.
unsafe fn text_out(
    function: &'static str,
    text: impl FnOnce() -> Result<String>,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let body = || {
        let buffer = out(buf, "buf")?;
        let text = text()?;
        // SAFETY: documented contract: `buf` is writable for `buf_len` bytes.
        unsafe { super::object::copy_c_string(&text, buffer, buf_len) }
    };
    // SAFETY: documented contract: `out_len` is NULL or writable.
    unsafe { returning(function, out_len, "out_len", body) }
}

/// Writes the segment's state as text into `buf` (`buf_len` bytes, NUL-terminated) and its length
/// to `*out_len`: the header, each slot (version, bytes), each reader (pid, start time, alive,
/// versions pinned) and the pages — what `floe segment inspect` prints. A snapshot taken without
/// the writer lock. `FLOE_ERR_BUFFER_TOO_SMALL` names the size needed. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_inspect(
    segment: *mut floe_segment,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let text = || lookup(segment)?.inspect().map(|i| slot::describe(&i));
    // SAFETY: forwarded contract.
    unsafe { text_out("floe_segment_inspect", text, buf, buf_len, out_len) }
}

/// Takes the writer lock and brings the segment back to a consistent state after a crashed writer
/// or reader (writers do this by themselves when they find the need), and writes what it found and
/// did as text into `buf`, as `floe_segment_inspect` does. Any thread; waits for another
/// process's publish to end.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_recover(
    segment: *mut floe_segment,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let text = || slot::recover(&*lookup(segment)?);
    // SAFETY: forwarded contract.
    unsafe { text_out("floe_segment_recover", text, buf, buf_len, out_len) }
}

/// Names the unnamed `slot` `name` (1 to 40 bytes of UTF-8, unique in the segment; set once), so
/// that other processes find it with `floe_segment_slot_by_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_name_slot(segment: *mut floe_segment, slot: u32, name: *const c_char) -> Status {
    boundary("floe_segment_name_slot", || {
        // SAFETY: documented contract: `name` is NULL or a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        let segment = lookup(segment)?;
        slot::this_process(&segment)?;
        segment.name_slot(slot, name)
    })
}

/// Writes the index of the slot named `name` to `*out_slot`; `FLOE_ERR_NOT_FOUND` if none is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_slot_by_name(
    segment: *mut floe_segment,
    name: *const c_char,
    out_slot: *mut u32,
) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is NULL or a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        lookup(segment)?.slot_by_name(name)
    };
    // SAFETY: documented contract: `out_slot` is NULL or writable.
    unsafe { returning("floe_segment_slot_by_name", out_slot, "out_slot", body) }
}

/// Waits until the change counter of one of `count` slots differs from the one seen for it
/// (`slots[i]` with `seen[i]`, from `floe_segment_change_count`), at most `timeout_ms`
/// milliseconds (negative: without limit), and writes the position `i` of the first that did to
/// `*out_index`; `FLOE_ERR_TIMEOUT` when none changed. 1 to 128 slots. Sleeps on all the counters
/// at once (`futex_waitv`, shared between processes; where the kernel lacks it, or elsewhere than
/// Linux, polls every millisecond). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_wait_any(
    segment: *mut floe_segment,
    slots: *const u32,
    seen: *const u32,
    count: usize,
    timeout_ms: i64,
    out_index: *mut usize,
) -> Status {
    let body = || {
        if slots.is_null() || seen.is_null() {
            return Err(super::null_argument(if slots.is_null() { "slots" } else { "seen" }));
        }
        if count == 0 || count > 128 {
            return Err(Error::new(Status::ErrInvalidArgument, format!("count is {count}: from 1 to 128 slots")));
        }
        // SAFETY: documented contract: `slots` and `seen` each hold `count` readable values
        // (not NULL, checked above).
        let pairs: Vec<(u32, u32)> = (0..count).map(|i| unsafe { (*slots.add(i), *seen.add(i)) }).collect();
        let segment = lookup(segment)?;
        slot::wait_any(&segment, &pairs, timeout(timeout_ms))
    };
    // SAFETY: documented contract: `out_index` is NULL or writable.
    unsafe { returning("floe_segment_wait_any", out_index, "out_index", body) }
}

/// Writes the change counter of `slot` (one more per publish) to `*out_count`, for
/// `floe_segment_wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_change_count(
    segment: *mut floe_segment,
    slot: u32,
    out_count: *mut u32,
) -> Status {
    let body = || lookup(segment)?.seq(slot);
    // SAFETY: documented contract: `out_count` is NULL or writable.
    unsafe { returning("floe_segment_change_count", out_count, "out_count", body) }
}

/// Waits until the change counter of `slot` differs from `seen` (from
/// `floe_segment_change_count`), at most `timeout_ms` milliseconds (negative: without limit), and
/// writes the new counter to `*out_count`; `FLOE_ERR_TIMEOUT` when nothing changed. Sleeps on a
/// futex shared between processes on Linux; elsewhere polls every millisecond. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_wait(
    segment: *mut floe_segment,
    slot: u32,
    seen: u32,
    timeout_ms: i64,
    out_count: *mut u32,
) -> Status {
    let body = || {
        let segment = lookup(segment)?;
        slot::wait(&segment, slot, seen, timeout(timeout_ms))
    };
    // SAFETY: documented contract: `out_count` is NULL or writable.
    unsafe { returning("floe_segment_wait", out_count, "out_count", body) }
}

/// Writes to `*out_data` the `floe_shared_data` of `slot`: a pointer into this process's mapping
/// of the segment (the slot's first 16 bytes, laid out as the struct on 64-bit targets) that
/// `floe_shared_data_publish` and `floe_shared_data_read` accept as they accept a struct in host
/// memory, so a C global `floe_shared_data *prices` can name a slot as Kotlin/Native's recipe names
/// a `SharedData` global. floe finds the slot by the pointer's address and changes it only
/// through the segment's publish protocol; write nothing through the pointer yourself. It stays
/// valid while the segment is mapped in this process — open, or closed with handles read from it
/// in place still live (they keep the mapping): once the mapping goes, the functions refuse it with
/// `FLOE_ERR_RELEASED_HANDLE` (floe keeps the addresses of a closed segment's slots reserved, so
/// the pointer never reaches other memory); a process that opens the segment again takes a new
/// pointer. `floe_shared_data_put` and `floe_shared_data_take` refuse a slot
/// (`FLOE_ERR_INVALID_ARGUMENT`): a mutable graph lives in one process's heap, and a slot holds
/// only published frozen graphs. `FLOE_ERR_OUT_OF_RANGE` for a slot past the end. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_segment_slot(
    segment: *mut floe_segment,
    slot: u32,
    out_data: *mut *mut crate::ffi::shared_data::SharedData,
) -> Status {
    let body = || slot::shared_data_of(&*lookup(segment)?, slot).map(|data| data.cast());
    // SAFETY: documented contract: `out_data` is NULL or writable.
    unsafe { returning("floe_segment_slot", out_data, "out_data", body) }
}
