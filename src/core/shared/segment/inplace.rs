//! Objects read in place: handles to the objects of a pinned version, read straight from the
//! segment's bytes, without a copy. Attaching a slot's version is O(1) whatever the graph's size:
//! pin the version, check its block header, issue one handle to its root.
//!
//! An in-place handle is a `u64` like an object handle, `generation << 32 | IN_PLACE | index`,
//! checked against a table of its own (`VIEWS`) before use; the `IN_PLACE` bit lies above every
//! heap handle's index, so the heap's table never resolves one (and `heap::handle` names it in
//! its messages). Each handle counts one user of its `Version`, one read of a slot: the store's pin
//! of that version, its opened block and its types matched to this process's. The last handle
//! released unpins the version; the store reclaims it when no process pins it.
//!
//! Checks: when a handle is issued, its object is located and checked against the block's layout
//! (which `BlockView::open` copied and checked), and the handle keeps what it found: the address
//! of the object's first value, its value count, and, for a struct, its type's field kinds as this
//! process defines them (matched by name, field names and kinds when the version's types were
//! first needed). A read then checks the slot against that count, takes the kind from this
//! process's copy (a list's from its kind byte, read once), and reads one word, every byte of it
//! inside the block: nothing read from shared memory is trusted twice, nothing forms a pointer
//! out of range. Values are checked as they are read (a bool is 0 or 1, a reference names an
//! object of the block, a string lies in the strings section and is UTF-8 when copied out).
//!
//! Everything is frozen: writes are refused with a message naming the segment, slot and version.
//! Atomic fields are the snapshot the publisher wrote: readable, never writable.
//!
//! A handle stays valid after its segment is closed (the version holds the mapping), and a
//! version's memory is freed only with its last handle. As for heap handles, a handle is not
//! released by one thread while another uses that same handle value.

use super::block::LIST;
use super::block::{BlockView, HeapTypes};
use super::store::read::Pinned;
use super::store::segment::Segment;
use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::{split, IN_PLACE};
use crate::core::base::slab::{LocalFree, Slab};
use crate::core::base::stats::STATS;
use crate::core::heap::handle;
use crate::core::heap::types::{self, TypeDef};
use crate::core::heap::value::{Kind, Value};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Whether `handle` is an in-place handle (live or not).
#[inline(always)]
pub(crate) fn is_in_place(handle: u64) -> bool {
    handle as u32 & IN_PLACE != 0
}

/// One block type as this process knows it: its stored type and field kinds.
struct TypeInfo {
    stored: u32,
    kinds: Box<[Kind]>,
}

/// The field kinds of heap types lately matched (`BlockView::heap_types` hands out one `Arc` per
/// matched type section), so that attaching a version of known types allocates nothing for them.
static KINDS: Mutex<Vec<(HeapTypes, Arc<[TypeInfo]>)>> = Mutex::new(Vec::new());
const KINDS_KEPT: usize = 16;

/// One read of a slot: the store's pin, the opened block, the types once matched.
struct Version {
    segment: Arc<Segment>,
    pinned: Pinned,
    view: BlockView,
    types: OnceLock<std::result::Result<Arc<[TypeInfo]>, Error>>,
    /// Live handles into this version; the last one released frees it.
    handles: AtomicU64,
}

impl Version {
    /// The block's types matched to this process's (defined when missing), once.
    fn types(&self) -> Result<&[TypeInfo]> {
        let matched = self.types.get_or_init(|| {
            let heap = self.view.heap_types().map_err(|e| self.context(e))?;
            let mut known = KINDS.lock();
            if let Some((_, infos)) = known.iter().find(|(types, _)| Arc::ptr_eq(types, &heap)) {
                return Ok(infos.clone());
            }
            let infos: Arc<[TypeInfo]> = heap
                .iter()
                .map(|(stored, def): &(u32, Arc<TypeDef>)| TypeInfo {
                    stored: *stored,
                    kinds: def.fields.iter().map(|(_, kind)| *kind).collect(),
                })
                .collect();
            if known.len() == KINDS_KEPT {
                known.remove(0);
            }
            known.push((heap, infos.clone()));
            Ok(infos)
        });
        matched.as_deref().map_err(Clone::clone)
    }

    /// "segment /floe.prices, slot 0, version 7".
    fn place(&self) -> String {
        format!("segment {}, slot {}, version {}", self.segment.shown, self.pinned.slot, self.pinned.version_id)
    }

    #[cold]
    fn context(&self, e: Error) -> Error {
        Error::new(e.status(), format!("{}: {}", self.place(), e.message()))
    }
}

#[derive(Default)]
struct ViewSlot {
    generation: AtomicU32,
    version: AtomicPtr<Version>,
    /// The object's index in the block.
    object: AtomicU32,
    /// The address of the object's first value (inside the block: checked at issue).
    values: AtomicUsize,
    count: AtomicU32,
    /// A struct's field kinds (this process's copy, `count` of them); null for a list.
    kinds: AtomicPtr<Kind>,
}

static VIEWS: Slab<ViewSlot> = Slab::new();
thread_local! {
    static FREE_VIEWS: LocalFree = const { LocalFree::new(VIEWS.shared_free()) };
}

/// Attaches the slot's current version in O(1): its K/N version and an in-place handle to its
/// root (the caller's); `None` when the slot is empty.
pub(crate) fn attach(segment: &Arc<Segment>, slot: u32) -> Result<Option<(i32, u64)>> {
    segment.this_process()?;
    handle::IN_PLACE_LIVE.get_or_init(|| |handle| live(handle).is_some());
    let Some(pinned) = segment.read(slot)? else { return Ok(None) };
    // SAFETY: the pinned block's `len` bytes stay mapped (the version holds the segment) and
    // unreclaimed (it holds the pin) for the version's life; every access checks what it reads.
    let view = match unsafe { BlockView::open(pinned.base, pinned.len, Some(pinned.version_id)) } {
        Ok(view) => view,
        Err(e) => {
            let e = Error::new(
                e.status(),
                format!("segment {}, slot {slot}, version {}: {}", segment.shown, pinned.version_id, e.message()),
            );
            let _ = segment.unpin(&pinned);
            return Err(e);
        }
    };
    let kn_version = pinned.kn_version;
    let root = view.root();
    let version = Box::into_raw(Box::new(Version {
        segment: segment.clone(),
        pinned,
        view,
        types: OnceLock::new(),
        handles: AtomicU64::new(1),
    }));
    // SAFETY: just made; this call holds its one count until `issue` takes another.
    let result = unsafe { issue(version, root) };
    // SAFETY: the count this call took at creation; the handle (if issued) holds its own.
    unsafe { let_go(version) };
    result.map(|root| Some((kn_version, root)))
}

/// Issues a handle to object `index` of `version`, which the caller holds a count of.
///
/// # Safety
/// `version` is live (the caller holds one of its counts) for the call.
unsafe fn issue(version: *mut Version, index: u32) -> Result<u64> {
    // SAFETY: the caller's count keeps the version.
    let v = unsafe { &*version };
    let (at, ty, count) = v.view.locate(index).map_err(|e| v.context(e))?;
    let kinds: *mut Kind = if ty == LIST {
        std::ptr::null_mut()
    } else {
        let info = v.types()?.get(ty as usize).ok_or_else(|| v.context(corrupt_type(ty)))?;
        if info.kinds.len() != count as usize {
            return Err(v.context(Error::new(
                Status::ErrCorrupt,
                format!("object {index} has {count} values, but its type has {} fields", info.kinds.len()),
            )));
        }
        info.kinds.as_ptr().cast_mut()
    };
    let Some(slot_index) = VIEWS.alloc_local(&FREE_VIEWS) else {
        return Err(Error::new(Status::ErrLimit, "cannot issue a handle: the in-place handle table is full"));
    };
    v.handles.fetch_add(1, Ordering::Relaxed);
    let slot = VIEWS.at(slot_index);
    slot.version.store(version, Ordering::Relaxed);
    slot.object.store(index, Ordering::Relaxed);
    // `locate` checked `at + 8 + count * 8` (and a list's kind bytes) within the block.
    slot.values.store(v.view.base().addr() + at as usize + 8, Ordering::Relaxed);
    slot.count.store(count, Ordering::Relaxed);
    slot.kinds.store(kinds, Ordering::Relaxed);
    let generation = slot.generation.load(Ordering::Relaxed) + 1;
    slot.generation.store(generation, Ordering::Release);
    STATS.handles.add(1);
    Ok(u64::from(generation) << 32 | u64::from(slot_index | IN_PLACE))
}

#[cold]
fn corrupt_type(ty: u32) -> Error {
    Error::new(Status::ErrCorrupt, format!("an object has type {ty}, which the block does not have"))
}

/// Drops one count of `version`; the last one unpins it and frees it.
///
/// # Safety
/// The caller holds the count it drops, and does not use `version` after.
unsafe fn let_go(version: *mut Version) {
    // SAFETY: the caller's count keeps the version until this decrement.
    if unsafe { &*version }.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
        // SAFETY: that was the last count: nothing else reaches the version (handles are gone).
        let version = unsafe { Box::from_raw(version) };
        let _ = version.segment.unpin(&version.pinned);
    }
}

/// Whether `handle` is a live in-place handle.
pub(crate) fn is_live(handle: u64) -> bool {
    live(handle).is_some()
}

/// The live slot of an in-place handle.
#[inline(always)]
fn live(handle: u64) -> Option<&'static ViewSlot> {
    let (generation, low) = split(handle);
    if low & IN_PLACE == 0 || generation & 1 == 0 {
        return None;
    }
    let slot = VIEWS.get(low & !IN_PLACE)?;
    (slot.generation.load(Ordering::Acquire) == generation).then_some(slot)
}

/// The version and object index of a live handle, or why not.
fn resolve(handle: u64) -> Result<(&'static Version, u32)> {
    let slot = live(handle).ok_or_else(|| invalid(handle, false))?;
    // SAFETY: a live handle holds a count of its version (contract: not released meanwhile).
    let version = unsafe { &*slot.version.load(Ordering::Relaxed) };
    Ok((version, slot.object.load(Ordering::Relaxed)))
}

#[cold]
fn invalid(handle: u64, releasing: bool) -> Error {
    let (generation, low) = split(handle);
    let current = VIEWS.get(low & !IN_PLACE).map(|slot| slot.generation.load(Ordering::Acquire));
    match current {
        Some(current) if generation & 1 == 1 && generation < current => {
            if releasing {
                Error::new(
                    Status::ErrDoubleRelease,
                    format!("handle {handle:#x} (an object read in place from a segment) was already released; this is a second release"),
                )
            } else {
                Error::new(
                    Status::ErrReleasedHandle,
                    format!("handle {handle:#x} (an object read in place from a segment) was released and cannot be used any more"),
                )
            }
        }
        _ => Error::new(Status::ErrInvalidHandle, format!("{handle:#x} is not a handle this runtime issued")),
    }
}

/// A scalar (int, double, bool) in slot `slot`, when every check passes; `None` when any fails
/// (`read` then says which). No lock, no allocation, one read of the segment's bytes for a struct
/// (two for a list).
#[inline(always)]
pub(crate) fn try_scalar(handle: u64, slot: usize, kind: Kind) -> Option<Value> {
    let view = live(handle)?;
    let count = view.count.load(Ordering::Relaxed) as usize;
    if slot >= count {
        return None;
    }
    let values = view.values.load(Ordering::Relaxed);
    let kinds = view.kinds.load(Ordering::Relaxed);
    let stored = if kinds.is_null() {
        // SAFETY: a list's `count` kind bytes follow its values, inside the block (checked at
        // issue); `slot < count`. One byte copied out of memory other processes may write.
        let code = unsafe { std::ptr::read_volatile((values + count * 8 + slot) as *const u8) };
        Kind::from_code(u32::from(code))?
    } else {
        // SAFETY: `kinds` is the version's private copy of this type's `count` kinds, alive while
        // the handle is; `slot < count`.
        unsafe { *kinds.add(slot) }
    };
    if stored != kind {
        return None;
    }
    // SAFETY: the value word `slot < count` lies inside the block (checked at issue) and is
    // 8-byte aligned (blocks start 8-aligned; objects sit on 8-byte units); copied out once.
    let word = u64::from_le(unsafe { std::ptr::read_volatile((values + slot * 8) as *const u64) });
    match kind {
        Kind::Int => Some(Value::Int(word as i64)),
        Kind::Double => Some(Value::Double(f64::from_bits(word))),
        Kind::Bool if word <= 1 => Some(Value::Bool(word == 1)),
        _ => None,
    }
}

/// Slot `slot` of the object, which must hold a value of `kind` (not a reference: `get_ref`), as
/// a `Value`: strings copied out and checked to be UTF-8, atomics as their snapshot.
pub(crate) fn read(handle: u64, slot: usize, kind: Kind) -> Result<Value> {
    if let Some(value) = try_scalar(handle, slot, kind) {
        return Ok(value);
    }
    let (v, index) = resolve(handle)?;
    let value = match kind {
        Kind::Int => v.view.get_int(index, slot).map(Value::Int),
        Kind::Double => v.view.get_double(index, slot).map(Value::Double),
        Kind::Bool => v.view.get_bool(index, slot).map(Value::Bool),
        Kind::String => v.view.get_string(index, slot).map(|s| Value::Str(s.into_boxed_str())),
        Kind::AtomicInt => v.view.get_atomic(index, slot).map(|n| Value::AtomicInt((n as i32).into())),
        Kind::AtomicLong => v.view.get_atomic(index, slot).map(|n| Value::AtomicLong(n.into())),
        Kind::Ref | Kind::AtomicRef => {
            return Err(Error::new(Status::ErrInvalidArgument, "references are read with get_ref"));
        }
    };
    value.map_err(|e| v.context(e))
}

/// An atomic int's or long's value as the publisher wrote it.
pub(crate) fn atomic_get(handle: u64, slot: usize) -> Result<i64> {
    let (v, index) = resolve(handle)?;
    v.view.get_atomic(index, slot).map_err(|e| v.context(e))
}

/// A new handle to the object a reference (or, with `atomic`, an atomic reference's snapshot)
/// refers to; `None` for null.
pub(crate) fn get_ref(handle: u64, slot: usize, atomic: bool) -> Result<Option<u64>> {
    let (v, index) = resolve(handle)?;
    let target = if atomic { v.view.get_atomic_ref(index, slot) } else { v.view.get_ref(index, slot) };
    match target.map_err(|e| v.context(e))? {
        None => Ok(None),
        // SAFETY: the live handle holds a count of the version for this call.
        Some(target) => unsafe { issue(version_ptr(handle)?, target) }.map(Some),
    }
}

fn version_ptr(handle: u64) -> Result<*mut Version> {
    live(handle).map(|slot| slot.version.load(Ordering::Relaxed)).ok_or_else(|| invalid(handle, false))
}

/// A second handle to the same object.
pub(crate) fn retain(handle: u64) -> Result<u64> {
    let (_, index) = resolve(handle)?;
    // SAFETY: the live handle holds a count of the version for this call.
    unsafe { issue(version_ptr(handle)?, index) }
}

/// Ends a handle; the last one of its version unpins the version.
pub(crate) fn release(handle: u64) -> Result<()> {
    let (generation, low) = split(handle);
    let slot = VIEWS
        .get(low & !IN_PLACE)
        .filter(|_| is_in_place(handle) && generation & 1 == 1)
        .ok_or_else(|| invalid(handle, true))?;
    // The exchange is the check: it ends the handle only if it is the slot's live one.
    slot.generation
        .compare_exchange(generation, generation.wrapping_add(1), Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| invalid(handle, true))?;
    let version = slot.version.swap(std::ptr::null_mut(), Ordering::Relaxed);
    slot.kinds.store(std::ptr::null_mut(), Ordering::Relaxed);
    VIEWS.free_local(&[low & !IN_PLACE], &FREE_VIEWS);
    STATS.handles.add(-1);
    // SAFETY: the handle held this count; it is ended, so nothing uses it after.
    unsafe { let_go(version) };
    Ok(())
}

/// The number of fields, or of list elements.
pub(crate) fn len(handle: u64) -> Result<usize> {
    let (v, index) = resolve(handle)?;
    v.view.len_of(index).map_err(|e| v.context(e))
}

/// The kind of slot `slot`.
pub(crate) fn kind_at(handle: u64, slot: usize) -> Result<Kind> {
    let (v, index) = resolve(handle)?;
    v.view.kind_at(index, slot).map_err(|e| v.context(e))
}

/// The object's type id in this process (the block's type matched by name and fields).
pub(crate) fn type_of(handle: u64) -> Result<u32> {
    let (v, index) = resolve(handle)?;
    let ty = v.view.type_of(index).map_err(|e| v.context(e))?;
    let info = v.types()?.get(ty as usize).ok_or_else(|| v.context(corrupt_type(ty)))?;
    Ok(types::id_of(info.stored))
}

/// The object's index in its version's block: the number in `Type#n` messages about it.
pub(crate) fn id_of(handle: u64) -> Result<u32> {
    resolve(handle).map(|(_, index)| index)
}

/// Whether the handle is live (objects read in place are always frozen).
pub(crate) fn check(handle: u64) -> Result<()> {
    resolve(handle).map(drop)
}

/// How many distinct objects are reachable from the object, itself included (a walk of the
/// block's references with a visited bitmap: cycles and shared objects count once).
pub(crate) fn reachable_count(handle: u64) -> Result<usize> {
    let (v, root) = resolve(handle)?;
    let objects = v.view.object_count() as usize;
    let mut visited = vec![0u64; objects.div_ceil(64)];
    let mut stack = vec![root];
    let mut count = 0;
    while let Some(node) = stack.pop() {
        let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
        if visited[word] & bit != 0 {
            continue;
        }
        visited[word] |= bit;
        count += 1;
        let n = v.view.len_of(node).map_err(|e| v.context(e))?;
        for slot in 0..n {
            let target = match v.view.field(node, slot).map_err(|e| v.context(e))? {
                super::block::Field::Ref(t) | super::block::Field::AtomicRef(t) => t,
                _ => None,
            };
            stack.extend(target);
        }
    }
    Ok(count)
}

/// The refusal of a change (`verb`: "set field 3 of") to an object read in place.
#[cold]
pub(crate) fn refuse_write(handle: u64, verb: &str) -> Error {
    match resolve(handle) {
        Err(e) => e,
        Ok((v, index)) => {
            let name = v.view.type_of(index).and_then(|ty| v.view.type_name(ty)).unwrap_or_else(|_| "object".into());
            Error::new(
                Status::ErrFrozen,
                format!(
                    "cannot {verb} {name}#{index}: it is frozen, read in place from {} (published objects \
                     are read-only; floe_segment_read_copy gives a copy in this process's heap)",
                    v.place()
                ),
            )
        }
    }
}

/// Handles into versions this process holds (for tests: every one released means no pin left).
#[cfg(test)]
pub(crate) fn live_views() -> usize {
    (0..VIEWS.len()).filter(|&i| VIEWS.at(i).generation.load(Ordering::Relaxed) & 1 == 1).count()
}
