//! Atomics inside objects: the way to change shared state (Kotlin/Native's "Two Rules").
//!
//! `AtomicInt` and `AtomicLong` fields change through shared references, so they stay changeable
//! in frozen objects, from any thread. An `AtomicRef` holds a counted reference to a frozen object;
//! its value must be frozen (`ErrNotFrozen` otherwise), because every thread may read it.
//!
//! Reading an atomic reference loads the index and retains the object; replacing it releases the
//! old one, which could free it. A striped lock orders the two, so a reader never retains an
//! object a writer has just freed. A reference to an object of the container's own frozen SCC is
//! not counted — the SCC dies as one — so a frozen object pointing at itself, or at its own frozen cycle,
//! through an AtomicReference does not keep itself alive; and a value that reaches the container
//! from another frozen graph merges the SCCs on the cycle into one first (`scc_merge`).

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::stripes;
use crate::core::graph::object::{describe_slot, out_of_range, wrong_kind};
use crate::core::graph::ownership::{check_read, name};
use crate::core::heap::handle;
use crate::core::heap::scc_merge;
use crate::core::heap::slots::HEAP;
use crate::core::heap::value::{Kind, ObjIndex, Value, NO_TARGET};
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `f` on slot `slot` of a readable object (owned by the caller, or frozen).
fn with_slot<R>(handle: u64, slot: usize, verb: &str, f: impl FnOnce(ObjIndex, &Value) -> Result<R>) -> Result<R> {
    let index = handle::resolve(handle)?;
    check_read(index, || describe_slot(verb, index, slot))?;
    // SAFETY: the calling thread owns the object or it is frozen (checked just above); atomics
    // change only through shared references.
    let values = unsafe { HEAP.slot(index).values() };
    let value = values.get(slot).ok_or_else(|| out_of_range(verb, index, slot, values.len()))?;
    f(index, value)
}

#[cold]
fn not_an_atomic_integer(verb: &str, index: ObjIndex, slot: usize, value: &Value) -> Error {
    Error::new(
        Status::ErrWrongKind,
        format!(
            "cannot {}: it holds {}, not an atomic int or long",
            describe_slot(verb, index, slot),
            value.kind().with_article()
        ),
    )
}

fn as_int(verb: &str, index: ObjIndex, slot: usize, value: i64) -> Result<i32> {
    i32::try_from(value).map_err(|_| {
        Error::new(
            Status::ErrInvalidArgument,
            format!("cannot {}: {value} does not fit an atomic int (32 bits)", describe_slot(verb, index, slot)),
        )
    })
}

/// The value of an atomic int or long.
pub(crate) fn get(handle: u64, slot: usize) -> Result<i64> {
    with_slot(handle, slot, "get", |index, value| match value {
        Value::AtomicInt(v) => Ok(i64::from(v.load(Ordering::SeqCst))),
        Value::AtomicLong(v) => Ok(v.load(Ordering::SeqCst)),
        other => Err(not_an_atomic_integer("get", index, slot, other)),
    })
}

/// Sets an atomic int or long.
pub(crate) fn set(handle: u64, slot: usize, new: i64) -> Result<()> {
    with_slot(handle, slot, "set", |index, value| match value {
        Value::AtomicInt(v) => {
            v.store(as_int("set", index, slot, new)?, Ordering::SeqCst);
            Ok(())
        }
        Value::AtomicLong(v) => {
            v.store(new, Ordering::SeqCst);
            Ok(())
        }
        other => Err(not_an_atomic_integer("set", index, slot, other)),
    })
}

/// Adds `delta` (wrapping) and returns the new value.
pub(crate) fn add(handle: u64, slot: usize, delta: i64) -> Result<i64> {
    with_slot(handle, slot, "add to", |index, value| match value {
        Value::AtomicInt(v) => {
            let delta = as_int("add to", index, slot, delta)?;
            Ok(i64::from(v.fetch_add(delta, Ordering::SeqCst).wrapping_add(delta)))
        }
        Value::AtomicLong(v) => Ok(v.fetch_add(delta, Ordering::SeqCst).wrapping_add(delta)),
        other => Err(not_an_atomic_integer("add to", index, slot, other)),
    })
}

/// Sets the value to `new` if it is `expected`; returns whether it did.
pub(crate) fn compare_and_set(handle: u64, slot: usize, expected: i64, new: i64) -> Result<bool> {
    let verb = "compare-and-set";
    with_slot(handle, slot, verb, |index, value| match value {
        Value::AtomicInt(v) => {
            let (expected, new) = (as_int(verb, index, slot, expected)?, as_int(verb, index, slot, new)?);
            Ok(v.compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst).is_ok())
        }
        Value::AtomicLong(v) => Ok(v.compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst).is_ok()),
        other => Err(not_an_atomic_integer(verb, index, slot, other)),
    })
}

/// Whether a reference from `container` to `target` holds a count: not when both are in the same
/// frozen SCC.
fn counted(container: ObjIndex, target: ObjIndex) -> bool {
    HEAP.leader(container) != HEAP.leader(target)
}

/// Runs `f` on an atomic reference slot, under its stripe's lock.
fn with_atomic_ref<R>(
    handle: u64,
    slot: usize,
    verb: &str,
    f: impl FnOnce(ObjIndex, &AtomicU32) -> Result<R>,
) -> Result<R> {
    with_slot(handle, slot, verb, |index, value| match value {
        Value::AtomicRef(cell) => {
            let _ordered = stripes::lock(stripe_key(index, slot));
            f(index, cell)
        }
        other => Err(wrong_kind(verb, index, slot, other.kind(), Kind::AtomicRef)),
    })
}

/// The key of the stripe that orders reads and replacements of atomic reference `slot` of `index`.
fn stripe_key(index: ObjIndex, slot: usize) -> usize {
    (index as usize) << 16 ^ slot
}

/// The target of `cell`, the value of atomic reference `slot` of `container`, with a reference
/// counted for the caller (who drops it with `HEAP.release`); `None` when it is empty. The caller
/// has checked that it may read `container`.
pub(crate) fn load_retained(container: ObjIndex, slot: usize, cell: &AtomicU32) -> Option<ObjIndex> {
    let _ordered = stripes::lock(stripe_key(container, slot));
    let target = cell.load(Ordering::Acquire);
    if target != NO_TARGET {
        HEAP.retain(target);
    }
    Some(target).filter(|&t| t != NO_TARGET)
}

/// A new handle to the object an atomic reference points to, or `None`.
pub(crate) fn get_ref(handle: u64, slot: usize) -> Result<Option<u64>> {
    let target = with_slot(handle, slot, "get", |index, value| match value {
        Value::AtomicRef(cell) => Ok(load_retained(index, slot, cell)),
        other => Err(wrong_kind("get", index, slot, other.kind(), Kind::AtomicRef)),
    })?;
    target.map(handle::issue).transpose()
}

/// The index of a value for an atomic reference: frozen, or none.
fn frozen_target(verb: &str, container: u64, slot: usize, target: Option<u64>) -> Result<u32> {
    let Some(target) = target else {
        return Ok(NO_TARGET);
    };
    let target = handle::resolve(target).map_err(|e| e.context("the value handle"))?;
    if !HEAP.slot(target).is_frozen() {
        let container = handle::resolve(container)?;
        return Err(Error::new(
            Status::ErrNotFrozen,
            format!(
                "cannot {}: {} is not frozen; an atomic reference is shared by every thread, so its value must be frozen",
                describe_slot(verb, container, slot),
                name(target)
            ),
        ));
    }
    Ok(target)
}

/// Replaces `cell`'s value by `new` if it holds `expected` (any value when `None`); returns whether
/// it did. Counts: the new value is retained before it is published, the old one released after.
fn exchange(container: ObjIndex, cell: &AtomicU32, expected: Option<u32>, new: u32) -> (bool, u32) {
    let old = cell.load(Ordering::Acquire);
    if expected.is_some_and(|e| e != old) {
        return (false, NO_TARGET);
    }
    // A value that reaches the container closes a cycle: their SCCs merge, and the reference,
    // now inside one SCC, is not counted.
    if new != NO_TARGET && counted(container, new) && !scc_merge::close_cycle(container, new) {
        HEAP.retain(new);
    }
    cell.store(new, Ordering::Release);
    let released = if old != NO_TARGET && counted(container, old) { old } else { NO_TARGET };
    (true, released)
}

fn release_outside_the_lock(released: u32) {
    if released != NO_TARGET {
        HEAP.release(released);
    }
}

/// Points an atomic reference at the frozen object of `target`, or at nothing.
pub(crate) fn set_ref(handle: u64, slot: usize, target: Option<u64>) -> Result<()> {
    let new = frozen_target("set", handle, slot, target)?;
    let topology = scc_merge::TOPOLOGY.lock();
    let (_, released) = with_atomic_ref(handle, slot, "set", |index, cell| Ok(exchange(index, cell, None, new)))?;
    drop(topology);
    release_outside_the_lock(released);
    Ok(())
}

/// Points an atomic reference at `new` if it points at `expected` (objects compared by identity,
/// `None` for nothing); returns whether it did.
pub(crate) fn compare_and_set_ref(handle: u64, slot: usize, expected: Option<u64>, new: Option<u64>) -> Result<bool> {
    let verb = "compare-and-set";
    let expected = match expected {
        Some(e) => handle::resolve(e).map_err(|e| e.context("the expected handle"))?,
        None => NO_TARGET,
    };
    let new = frozen_target(verb, handle, slot, new)?;
    let topology = scc_merge::TOPOLOGY.lock();
    let (swapped, released) =
        with_atomic_ref(handle, slot, verb, |index, cell| Ok(exchange(index, cell, Some(expected), new)))?;
    drop(topology);
    release_outside_the_lock(released);
    Ok(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::graph::freeze;
    use crate::core::graph::object;
    use crate::core::heap::types;

    #[test]
    fn an_atomic_reference_is_replaced_while_another_thread_reads_it() {
        let ty = types::define("Box", &[("value", Kind::AtomicRef)]).unwrap();
        let holder = object::new_object(ty).unwrap();
        object::freeze(holder, None).unwrap();
        let frozen_list = |n: i64| {
            let list = object::new_list().unwrap();
            object::push(list, Value::Int(n)).unwrap();
            freeze::freeze(handle::resolve(list).unwrap(), None).unwrap();
            list
        };
        let reader_handle = object::retain(holder).unwrap();
        let reader = std::thread::spawn(move || {
            for _ in 0..20 {
                if let Some(value) = get_ref(reader_handle, 0).unwrap() {
                    object::read(value, 0, Kind::Int, Value::as_int).unwrap();
                    object::release(value).unwrap();
                }
            }
            object::release(reader_handle).unwrap();
        });
        for n in 0..20 {
            let value = frozen_list(n);
            set_ref(holder, 0, Some(value)).unwrap();
            object::release(value).unwrap();
        }
        reader.join().unwrap();
        set_ref(holder, 0, None).unwrap();
        object::release(holder).unwrap();
    }
}
