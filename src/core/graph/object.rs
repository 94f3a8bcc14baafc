//! Operations on objects through handles: the one implementation behind both the Rust API and the
//! C ABI. Each validates the handle, checks ownership, then touches the object.

use crate::core::base::error::{Error, Result, Status};
use crate::core::graph::freeze;
use crate::core::graph::ownership::{self, check_read, check_write, name, step_name};
use crate::core::heap::foreign;
use crate::core::heap::handle;
use crate::core::heap::header::{FROZEN, MAY_REFER, NEVER_FREEZE};
use crate::core::heap::slots::{Slot, HEAP};
use crate::core::heap::thread;
use crate::core::heap::types::{self, LIST_TYPE};
use crate::core::heap::value::{Kind, ObjIndex, Value};

fn allocated(stored_type: u32, values: Vec<Value>, has_atomic_ref: bool) -> Result<u64> {
    let index = HEAP
        .alloc(stored_type, values, has_atomic_ref)
        .ok_or_else(|| Error::new(Status::ErrLimit, "cannot allocate an object: the heap is full"))?;
    HEAP.retain(index);
    handle::issue(index)
}

/// A new object of `type_id`, fields at their kind's zero value, owned by the calling thread.
pub(crate) fn new_object(type_id: u32) -> Result<u64> {
    let (stored_type, def) = types::lookup(type_id)?;
    if stored_type == LIST_TYPE {
        return new_list();
    }
    allocated(stored_type, def.fields.iter().map(|(_, kind)| kind.default_value()).collect(), def.has_atomic_ref)
}

/// A new empty list owned by the calling thread.
pub(crate) fn new_list() -> Result<u64> {
    allocated(LIST_TYPE, Vec::new(), false)
}

/// A second handle to the same object (one more reference).
pub(crate) fn retain(handle: u64) -> Result<u64> {
    let index = handle::resolve(handle)?;
    check_read(index, || format!("retain {}", name(index)))?;
    HEAP.retain(index);
    handle::issue(index)
}

/// Ends a handle and drops its reference, on any thread: a reference to another thread's mutable
/// object is handed to that thread, which drops it at its next drain (see `foreign`).
pub(crate) fn release(handle: u64) -> Result<()> {
    let index = handle::release(handle)?;
    HEAP.release(index);
    foreign::drain();
    Ok(())
}

/// `what` for messages: `set Job#12.state`.
pub(crate) fn describe_slot(verb: &str, index: ObjIndex, slot: usize) -> String {
    format!("{verb} {}{}", name(index), step_name(index, slot))
}

#[cold]
pub(crate) fn out_of_range(verb: &str, index: ObjIndex, slot: usize, len: usize) -> Error {
    let noun = if HEAP.slot(index).stored_type() == LIST_TYPE { "element" } else { "field" };
    let what = format!("{} has {len} {noun}{}", name(index), if len == 1 { "" } else { "s" });
    Error::new(Status::ErrOutOfRange, format!("cannot {verb} {}[{slot}]: index out of range; {what}", name(index)))
}

#[cold]
pub(crate) fn wrong_kind(verb: &str, index: ObjIndex, slot: usize, stored: Kind, wanted: Kind) -> Error {
    Error::new(
        Status::ErrWrongKind,
        format!(
            "cannot {}: it holds {}, not {}",
            describe_slot(verb, index, slot),
            stored.with_article(),
            wanted.with_article()
        ),
    )
}

/// The object of `handle` if it is live and its owner word passes `may`: the checks of `read` and
/// `set` as one predicate, with no error to build and no panic path. The accessors' common case
/// (`try_read`, `try_set`) then saves three registers where a C get or set saved six and set up a
/// frame for the error paths; a failure takes the checked path, which says what failed.
#[inline(always)]
fn permitted(handle: u64, may: impl FnOnce(u32, u32) -> bool) -> Option<&'static Slot> {
    let me = thread::known()?;
    let object = HEAP.try_slot(handle::lookup(handle)?)?;
    may(object.owner(), me).then_some(object)
}

/// The value of `kind` in slot `slot` of the object of `handle`, if the calling thread may read
/// it. For the callers below, which use it at once: the object stays readable by this thread
/// until the thread itself gives it up.
#[inline(always)]
fn readable(handle: u64, slot: usize, kind: Kind) -> Option<&'static Value> {
    let object = permitted(handle, ownership::may_read)?;
    // SAFETY: the calling thread owns the object or it is frozen (checked just above).
    unsafe { object.values() }.get(slot).filter(|value| value.kind() == kind)
}

/// `read` when every check passes; `None` when any fails (`read` then says which).
#[inline(always)]
pub(crate) fn try_read<R>(handle: u64, slot: usize, kind: Kind, f: impl FnOnce(&Value) -> R) -> Option<R> {
    readable(handle, slot, kind).map(f)
}

/// Reads slot `slot` of the object, which must hold a value of `kind`.
#[inline(always)]
pub(crate) fn read<R>(handle: u64, slot: usize, kind: Kind, f: impl FnOnce(&Value) -> R) -> Result<R> {
    match readable(handle, slot, kind) {
        Some(value) => Ok(f(value)),
        None => read_checked(handle, slot, kind, f),
    }
}

/// `read`, saying what failed.
#[cold]
#[inline(never)]
fn read_checked<R>(handle: u64, slot: usize, kind: Kind, f: impl FnOnce(&Value) -> R) -> Result<R> {
    let index = handle::resolve(handle)?;
    check_read(index, || describe_slot("get", index, slot))?;
    // SAFETY: the calling thread owns the object or it is frozen (checked just above).
    let values = unsafe { HEAP.slot(index).values() };
    let value = values.get(slot).ok_or_else(|| out_of_range("get", index, slot, values.len()))?;
    if value.kind() != kind {
        return Err(wrong_kind("get", index, slot, value.kind(), kind));
    }
    Ok(f(value))
}

/// The kind of the value in slot `slot`.
pub(crate) fn kind_at(handle: u64, slot: usize) -> Result<Kind> {
    let index = handle::resolve(handle)?;
    check_read(index, || describe_slot("inspect", index, slot))?;
    // SAFETY: the calling thread owns the object or it is frozen (checked just above).
    let values = unsafe { HEAP.slot(index).values() };
    values.get(slot).map(Value::kind).ok_or_else(|| out_of_range("inspect", index, slot, values.len()))
}

/// A new handle to the object that slot `slot` refers to, or `None` for a null reference.
pub(crate) fn get_ref(handle: u64, slot: usize) -> Result<Option<u64>> {
    let Some(target) = read(handle, slot, Kind::Ref, Value::as_ref_target)? else {
        return Ok(None);
    };
    HEAP.retain(target);
    handle::issue(target).map(Some)
}

/// Resolves the handle a reference is to be set to, checking that the container may refer to it.
fn ref_value(what: impl FnOnce(ObjIndex) -> String, target: Option<u64>) -> Result<Value> {
    let Some(target) = target else {
        return Ok(Value::Ref(None));
    };
    let target = handle::resolve(target).map_err(|e| e.context("the target handle"))?;
    let owner = HEAP.slot(target).owner();
    if owner != thread::current() && owner & FROZEN == 0 {
        return Err(ownership::wrong_thread(target, owner, what(target)));
    }
    Ok(Value::Ref(Some(target)))
}

/// Stores `value` in slot `slot`. Struct fields keep their kind; list elements take any kind.
// Always inlined: passed by pointer, a freshly built `Value` is written as two words and read back
// as one 16-byte load, a store-forwarding stall that doubled the cost of a checked set.
#[inline(always)]
pub(crate) fn set(handle: u64, slot: usize, value: Value) -> Result<()> {
    try_set(handle, slot, value).or_else(|value| set_checked(handle, slot, value))
}

/// `set` of a value with no reference to count, in a slot of its kind, when every check passes;
/// otherwise the value back (`set` then stores it or says why not).
#[inline(always)]
pub(crate) fn try_set(handle: u64, slot: usize, value: Value) -> std::result::Result<(), Value> {
    if matches!(value, Value::Ref(_) | Value::AtomicRef(_)) {
        return Err(value);
    }
    let Some(object) = permitted(handle, |owner, me| owner == me) else {
        return Err(value);
    };
    // SAFETY: the calling thread owns this mutable object (checked just above); no other borrow.
    match unsafe { object.values_mut() }.get_mut(slot) {
        Some(stored) if std::mem::discriminant(stored) == std::mem::discriminant(&value) => {
            *stored = value;
            Ok(())
        }
        _ => Err(value),
    }
}

/// `set`, saying what failed, and counting references.
#[cold]
#[inline(never)]
fn set_checked(handle: u64, slot: usize, value: Value) -> Result<()> {
    let index = handle::resolve(handle)?;
    check_write(index, || describe_slot("set", index, slot))?;
    // SAFETY: the calling thread owns this mutable object (checked just above); no other borrow.
    let values = unsafe { HEAP.slot(index).values_mut() };
    let len = values.len();
    let stored = values.get_mut(slot).ok_or_else(|| out_of_range("set", index, slot, len))?;
    if std::mem::discriminant(stored) != std::mem::discriminant(&value) && HEAP.slot(index).stored_type() != LIST_TYPE {
        return Err(wrong_kind("set", index, slot, stored.kind(), value.kind()));
    }
    if let Value::Ref(Some(target)) = value {
        HEAP.retain(target);
        HEAP.slot(index).set_flags(MAY_REFER, 0);
    }
    // Atomics are never replaced: `set` cannot make one, and a field keeps its kind.
    if let Value::Ref(Some(old_target)) = std::mem::replace(stored, value) {
        HEAP.release(old_target);
    }
    Ok(())
}

/// Sets a reference slot to the object of `target` (`None` for null).
pub(crate) fn set_ref(handle: u64, slot: usize, target: Option<u64>) -> Result<()> {
    let index = handle::resolve(handle)?;
    let what = |t| format!("{} to {}", describe_slot("set", index, slot), name(t));
    set(handle, slot, ref_value(what, target)?)
}

fn list_index(handle: u64, verb: &str) -> Result<ObjIndex> {
    let index = handle::resolve(handle)?;
    if HEAP.slot(index).stored_type() != LIST_TYPE {
        return Err(Error::new(Status::ErrNotAList, format!("cannot {verb} {}: it is not a list", name(index))));
    }
    Ok(index)
}

/// Appends `value` to a list.
pub(crate) fn push(handle: u64, value: Value) -> Result<()> {
    let index = list_index(handle, "push onto")?;
    check_write(index, || format!("push onto {}", name(index)))?;
    if let Some(target) = value.as_ref_target() {
        HEAP.retain(target);
        HEAP.slot(index).set_flags(MAY_REFER, 0);
    }
    // SAFETY: the calling thread owns this mutable object (checked just above); no other borrow.
    unsafe { HEAP.slot(index).values_mut() }.push(value);
    Ok(())
}

/// Appends a reference to `target` (`None` for null) to a list.
pub(crate) fn push_ref(handle: u64, target: Option<u64>) -> Result<()> {
    let index = list_index(handle, "push onto")?;
    let what = |t| format!("push a reference to {} onto {}", name(t), name(index));
    push(handle, ref_value(what, target)?)
}

/// The number of fields, or of list elements.
pub(crate) fn len(handle: u64) -> Result<usize> {
    let index = handle::resolve(handle)?;
    check_read(index, || format!("get the length of {}", name(index)))?;
    // SAFETY: the calling thread owns the object or it is frozen (checked just above).
    Ok(unsafe { HEAP.slot(index).values() }.len())
}

/// The object's type id. Any thread may ask: a type never changes.
pub(crate) fn type_of(handle: u64) -> Result<u32> {
    Ok(types::id_of(HEAP.slot(handle::resolve(handle)?).stored_type()))
}

/// The object's slot index, the number in `Type#n` messages. Any thread may ask.
pub(crate) fn id_of(handle: u64) -> Result<u32> {
    handle::resolve(handle)
}

/// Freezes everything reachable from the object.
pub(crate) fn freeze(handle: u64, label: Option<&str>) -> Result<()> {
    freeze::freeze(handle::resolve(handle)?, label)
}

/// Whether the object is frozen. Any thread may ask.
pub(crate) fn is_frozen(handle: u64) -> Result<bool> {
    Ok(HEAP.slot(handle::resolve(handle)?).is_frozen())
}

/// Marks the object so that any freeze reaching it fails.
pub(crate) fn ensure_never_frozen(handle: u64) -> Result<()> {
    let index = handle::resolve(handle)?;
    check_write(index, || format!("mark {} never-frozen", name(index)))?;
    HEAP.slot(index).set_flags(NEVER_FREEZE, 0);
    Ok(())
}

/// How many distinct objects are reachable from the object, itself included: a plain iterative
/// depth-first traversal (a bitmap of visited slots, an explicit stack). Every object reached must be readable
/// by the caller (owned by it, or frozen).
pub(crate) fn reachable_count(handle: u64) -> Result<usize> {
    let root = handle::resolve(handle)?;
    let mut visited = vec![0u64; (HEAP.capacity() as usize).div_ceil(64)];
    let mut stack = vec![root];
    let mut count = 0;
    while let Some(node) = stack.pop() {
        let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
        if visited[word] & bit != 0 {
            continue;
        }
        visited[word] |= bit;
        check_read(node, || format!("traverse the graph of {}", name(root)))?;
        count += 1;
        // SAFETY: the calling thread owns the object or it is frozen (checked just above).
        let values = unsafe { HEAP.slot(node).values() };
        // Marked when popped, children pushed last-first: a depth-first walk in field order, the
        // order freeze visits objects in.
        stack.extend(values.iter().rev().filter_map(Value::as_ref_target));
    }
    Ok(count)
}

/// Small scenarios over every `unsafe` path (slab, values, frozen sharing, frees, collector), sized
/// for Miri. They check their own objects only: other tests run in parallel in this process.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::heap::cycles;

    fn list_with(items: &[i64]) -> u64 {
        let list = new_list().unwrap();
        for &i in items {
            push(list, Value::Int(i)).unwrap();
        }
        list
    }

    #[test]
    fn frozen_cycles_are_shared_across_threads_and_freed_by_the_last_release() {
        let a = list_with(&[1]);
        let b = list_with(&[2]);
        push_ref(a, Some(b)).unwrap();
        push_ref(b, Some(a)).unwrap();
        push_ref(b, Some(b)).unwrap();
        release(b).unwrap();
        freeze(a, Some("miri")).unwrap();
        let a_index = handle::resolve(a).unwrap();
        let shared = retain(a).unwrap();
        let total = std::thread::spawn(move || {
            let b = get_ref(shared, 1).unwrap().unwrap();
            let sum =
                read(shared, 0, Kind::Int, Value::as_int).unwrap() + read(b, 0, Kind::Int, Value::as_int).unwrap();
            release(b).unwrap();
            release(shared).unwrap();
            sum
        })
        .join()
        .unwrap();
        assert_eq!(total, 3);
        assert!(HEAP.slot(a_index).is_frozen());
        release(a).unwrap();
        assert_eq!(HEAP.slot(a_index).owner(), 0, "the cycle was freed by counting");
    }

    #[test]
    fn mutable_cycles_are_collected_and_strings_freed() {
        let a = list_with(&[]);
        let b = list_with(&[]);
        push(a, Value::Str("owned text".into())).unwrap();
        push_ref(a, Some(b)).unwrap();
        push_ref(b, Some(a)).unwrap();
        let (ai, bi) = (handle::resolve(a).unwrap(), handle::resolve(b).unwrap());
        release(a).unwrap();
        release(b).unwrap();
        assert_ne!(HEAP.slot(ai).owner(), 0, "a cycle survives counting");
        assert!(cycles::collect() >= 2);
        assert_eq!((HEAP.slot(ai).owner(), HEAP.slot(bi).owner()), (0, 0));
    }

    #[test]
    fn a_blocked_freeze_leaves_no_marks() {
        let root = list_with(&[]);
        let blocker = list_with(&[]);
        push_ref(root, Some(blocker)).unwrap();
        ensure_never_frozen(blocker).unwrap();
        assert_eq!(freeze(root, None).unwrap_err().status(), Status::ErrFreezeBlocked);
        let slot = HEAP.slot(handle::resolve(root).unwrap());
        assert_eq!(slot.flags() & crate::core::heap::header::VISITED, 0);
        set(root, 0, Value::Ref(None)).unwrap();
        freeze(root, None).unwrap();
        release(root).unwrap();
        release(blocker).unwrap();
    }

    #[test]
    fn objects_of_an_exited_thread_are_orphans_any_thread_may_release() {
        let handle =
            std::thread::Builder::new().name("short-lived".into()).spawn(|| list_with(&[1])).unwrap().join().unwrap();
        let error = len(handle).unwrap_err();
        assert_eq!(error.status(), Status::ErrWrongThread);
        assert!(error.message().contains("owned by thread short-lived (exited)"), "{}", error.message());
        let index = handle::resolve(handle).unwrap();
        release(handle).expect("an orphan's reference can be dropped on any thread");
        assert_eq!(HEAP.slot(index).owner(), 0, "and the orphan is freed");
    }

    #[test]
    fn a_bad_target_handle_is_named_as_the_target() {
        let list = list_with(&[]);
        let error = push_ref(list, Some(0xdead_beef)).unwrap_err();
        assert_eq!(error.status(), Status::ErrInvalidHandle);
        assert!(error.message().starts_with("the target handle: "), "{}", error.message());
        release(list).unwrap();
    }
}
