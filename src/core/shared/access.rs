//! Objects by handle, whichever kind the handle is: a heap object (`graph::object`,
//! `graph::atomic`) or an object read in place from a segment (`segment::inplace`). The Rust API
//! and the C ABI call these; each tells the two apart by one bit of the handle, so a heap
//! object's path costs a test and a jump more. Objects read in place are frozen: every change is
//! refused with a message naming the segment, slot and version.

use super::segment::inplace::{self, is_in_place};
use crate::core::base::error::Result;
use crate::core::graph::{atomic, object};
use crate::core::heap::value::{Kind, Value};

/// Refuses a change to an object read in place; `Ok` for any other handle.
#[inline(always)]
fn writable(handle: u64, verb: impl FnOnce() -> String) -> Result<()> {
    if is_in_place(handle) {
        return Err(inplace::refuse_write(handle, &verb()));
    }
    Ok(())
}

/// Reads slot `slot`, which must hold a value of `kind` (not a reference).
#[inline]
pub(crate) fn read<R>(handle: u64, slot: usize, kind: Kind, f: impl FnOnce(&Value) -> R) -> Result<R> {
    if is_in_place(handle) {
        return inplace::read(handle, slot, kind).map(|value| f(&value));
    }
    object::read(handle, slot, kind, f)
}

pub(crate) fn get_ref(handle: u64, slot: usize) -> Result<Option<u64>> {
    if is_in_place(handle) {
        return inplace::get_ref(handle, slot, false);
    }
    object::get_ref(handle, slot)
}

pub(crate) fn kind_at(handle: u64, slot: usize) -> Result<Kind> {
    if is_in_place(handle) {
        return inplace::kind_at(handle, slot);
    }
    object::kind_at(handle, slot)
}

pub(crate) fn len(handle: u64) -> Result<usize> {
    if is_in_place(handle) {
        return inplace::len(handle);
    }
    object::len(handle)
}

pub(crate) fn type_of(handle: u64) -> Result<u32> {
    if is_in_place(handle) {
        return inplace::type_of(handle);
    }
    object::type_of(handle)
}

pub(crate) fn id_of(handle: u64) -> Result<u32> {
    if is_in_place(handle) {
        return inplace::id_of(handle);
    }
    object::id_of(handle)
}

pub(crate) fn retain(handle: u64) -> Result<u64> {
    if is_in_place(handle) {
        return inplace::retain(handle);
    }
    object::retain(handle)
}

pub(crate) fn release(handle: u64) -> Result<()> {
    if is_in_place(handle) {
        return inplace::release(handle);
    }
    object::release(handle)
}

/// Freezing an object read in place does nothing: it is frozen.
pub(crate) fn freeze(handle: u64, label: Option<&str>) -> Result<()> {
    if is_in_place(handle) {
        return inplace::check(handle);
    }
    object::freeze(handle, label)
}

pub(crate) fn is_frozen(handle: u64) -> Result<bool> {
    if is_in_place(handle) {
        return inplace::check(handle).map(|()| true);
    }
    object::is_frozen(handle)
}

pub(crate) fn ensure_never_frozen(handle: u64) -> Result<()> {
    writable(handle, || "mark never-frozen".into())?;
    object::ensure_never_frozen(handle)
}

pub(crate) fn reachable_count(handle: u64) -> Result<usize> {
    if is_in_place(handle) {
        return inplace::reachable_count(handle);
    }
    object::reachable_count(handle)
}

pub(crate) fn set(handle: u64, slot: usize, value: Value) -> Result<()> {
    writable(handle, || format!("set slot {slot} of"))?;
    object::set(handle, slot, value)
}

pub(crate) fn set_ref(handle: u64, slot: usize, target: Option<u64>) -> Result<()> {
    writable(handle, || format!("set slot {slot} of"))?;
    object::set_ref(handle, slot, target)
}

pub(crate) fn push(handle: u64, value: Value) -> Result<()> {
    writable(handle, || "push onto".into())?;
    object::push(handle, value)
}

pub(crate) fn push_ref(handle: u64, target: Option<u64>) -> Result<()> {
    writable(handle, || "push onto".into())?;
    object::push_ref(handle, target)
}

/// An atomic's value; an object read in place gives the snapshot its publisher wrote.
pub(crate) fn atomic_get(handle: u64, slot: usize) -> Result<i64> {
    if is_in_place(handle) {
        return inplace::atomic_get(handle, slot);
    }
    atomic::get(handle, slot)
}

pub(crate) fn atomic_get_ref(handle: u64, slot: usize) -> Result<Option<u64>> {
    if is_in_place(handle) {
        return inplace::get_ref(handle, slot, true);
    }
    atomic::get_ref(handle, slot)
}

pub(crate) fn atomic_set(handle: u64, slot: usize, new: i64) -> Result<()> {
    writable(handle, || format!("set atomic {slot} of"))?;
    atomic::set(handle, slot, new)
}

pub(crate) fn atomic_add(handle: u64, slot: usize, delta: i64) -> Result<i64> {
    writable(handle, || format!("add to atomic {slot} of"))?;
    atomic::add(handle, slot, delta)
}

pub(crate) fn atomic_compare_and_set(handle: u64, slot: usize, expected: i64, new: i64) -> Result<bool> {
    writable(handle, || format!("compare-and-set atomic {slot} of"))?;
    atomic::compare_and_set(handle, slot, expected, new)
}

pub(crate) fn atomic_set_ref(handle: u64, slot: usize, target: Option<u64>) -> Result<()> {
    writable(handle, || format!("set atomic reference {slot} of"))?;
    atomic::set_ref(handle, slot, target)
}

pub(crate) fn atomic_compare_and_set_ref(
    handle: u64,
    slot: usize,
    expected: Option<u64>,
    new: Option<u64>,
) -> Result<bool> {
    writable(handle, || format!("compare-and-set atomic reference {slot} of"))?;
    atomic::compare_and_set_ref(handle, slot, expected, new)
}
