//! The access check and the messages it gives.
//!
//! Reading needs the object owned by the calling thread or frozen; writing needs it owned by the
//! calling thread. The check is one Acquire load of the owner word and a compare with the caller's
//! token; messages are built only on failure.

use crate::core::base::error::{Error, Result, Status};
use crate::core::heap::header::{FROZEN, TRANSIT};
use crate::core::heap::provenance;
use crate::core::heap::slots::{FROZEN_FREES, HEAP};
use crate::core::heap::thread;
use crate::core::heap::types::{self, LIST_TYPE};
use crate::core::heap::value::ObjIndex;
use std::collections::{HashMap, VecDeque};

/// `Type#index`, the name messages give an object.
pub(crate) fn name(index: ObjIndex) -> String {
    name_of_stored(HEAP.slot(index).stored_type(), index)
}

/// `Type#id` of the root of a freeze.
fn root_name(record: &provenance::Provenance) -> String {
    name_of_stored(record.root_type, record.root)
}

/// `name` of object `index` whose header numbers its type `stored_type`.
fn name_of_stored(stored_type: u32, index: ObjIndex) -> String {
    let type_name = types::of_stored(stored_type).map_or_else(|| format!("type{stored_type}"), |t| t.name.to_string());
    format!("{type_name}#{index}")
}

/// `.field` or `[i]`: how a path names slot `slot` of `index`.
pub(crate) fn step_name(index: ObjIndex, slot: usize) -> String {
    let stored_type = HEAP.slot(index).stored_type();
    match types::of_stored(stored_type) {
        Some(def) if stored_type != LIST_TYPE => {
            def.fields.get(slot).map_or_else(|| format!("[{slot}]"), |f| format!(".{}", f.0))
        }
        _ => format!("[{slot}]"),
    }
}

/// The type name alone, the first element of a path.
pub(crate) fn type_name(index: ObjIndex) -> String {
    types::of_stored(HEAP.slot(index).stored_type()).map_or_else(|| "?".into(), |t| t.name.to_string())
}

/// Checks that the calling thread may read `index`. `what` describes the operation for messages.
#[inline(always)]
pub(crate) fn check_read(index: ObjIndex, what: impl FnOnce() -> String) -> Result<()> {
    let owner = HEAP.slot(index).owner();
    if may_read(owner, thread::current()) {
        Ok(())
    } else {
        Err(wrong_thread(index, owner, what()))
    }
}

/// Whether thread `me` may read an object with owner word `owner`: its own, or frozen.
#[inline(always)]
pub(crate) fn may_read(owner: u32, me: u32) -> bool {
    owner == me || owner & FROZEN != 0
}

/// Checks that the calling thread may write `index`.
#[inline(always)]
pub(crate) fn check_write(index: ObjIndex, what: impl FnOnce() -> String) -> Result<()> {
    let owner = HEAP.slot(index).owner();
    if owner == thread::current() {
        Ok(())
    } else if owner & FROZEN != 0 {
        Err(frozen(index, owner & !FROZEN, what()))
    } else {
        Err(wrong_thread(index, owner, what()))
    }
}

#[cold]
pub(crate) fn wrong_thread(index: ObjIndex, owner: u32, what: String) -> Error {
    if owner == TRANSIT {
        return Error::new(
            Status::ErrWrongThread,
            format!(
                "cannot {what}: {obj} is in transit (detached, or travelling in a job or a future) and owned by no \
                 thread until it is attached; the calling thread is {me}",
                obj = name(index),
                me = thread::current_name(),
            ),
        );
    }
    Error::new(
        Status::ErrWrongThread,
        format!(
            "cannot {what}: {obj} is mutable and owned by thread {owner}, but the calling thread is {me}; \
             only frozen objects may be shared — freeze it, or let {owner} do this",
            obj = name(index),
            owner = thread::name_of(owner),
            me = thread::current_name(),
        ),
    )
}

#[cold]
fn frozen(index: ObjIndex, provenance_id: u32, what: String) -> Error {
    Error::new(
        Status::ErrFrozen,
        format!(
            "cannot {what}: {obj} is frozen — {by} (calling thread: {me}); frozen objects never change: \
             copy it into a new object, or keep it out of the freeze with ensure_never_frozen",
            obj = name(index),
            by = frozen_by(index, provenance_id),
            me = thread::current_name(),
        ),
    )
}

/// "frozen by freeze(Scope#7, "launch") on thread main, reached via Scope.job".
pub(crate) fn frozen_by(index: ObjIndex, provenance_id: u32) -> String {
    let Some(record) = provenance::lookup(provenance_id) else {
        return "frozen by an unknown freeze".into();
    };
    let label = record.label.as_deref().map(|l| format!(", {l:?}")).unwrap_or_default();
    let place = if record.root == index {
        "as the root".to_string()
    } else {
        match path_within_freeze(record.root, index, FROZEN | provenance_id) {
            Some(path) => format!("reached via {path}"),
            None => format!("reached from {} (no longer reachable from it)", root_name(&record)),
        }
    };
    format!("frozen by freeze({}{label}) on thread {}, {place}", root_name(&record), record.thread_name())
}

/// The path from `root` to `target` through objects frozen by the same freeze (owner word `frozen`).
fn path_within_freeze(root: ObjIndex, target: ObjIndex, frozen: u32) -> Option<String> {
    let _no_frees = FROZEN_FREES.write();
    if HEAP.slot(root).owner() != frozen {
        return None;
    }
    path_within(root, target, |o| HEAP.slot(o).owner() == frozen)
}

/// The shortest path from `root` to `target` through objects for which `inside` holds, such as
/// `Scope.job.children[3]`. The caller guarantees those objects stay alive and readable.
pub(crate) fn path_within(root: ObjIndex, target: ObjIndex, inside: impl Fn(ObjIndex) -> bool) -> Option<String> {
    let mut parent: HashMap<ObjIndex, (ObjIndex, usize)> = HashMap::new();
    let mut queue = VecDeque::from([root]);
    while let Some(node) = queue.pop_front() {
        // SAFETY: `node` is `root` or passed `inside`, which the caller guarantees readable and alive.
        let values = unsafe { HEAP.slot(node).values() };
        for (slot, child) in values.iter().enumerate() {
            let Some(child) = child.as_ref_target() else {
                continue;
            };
            if child == root || parent.contains_key(&child) || !inside(child) {
                continue;
            }
            parent.insert(child, (node, slot));
            if child == target {
                return Some(render_path(root, target, &parent));
            }
            queue.push_back(child);
        }
    }
    None
}

fn render_path(root: ObjIndex, target: ObjIndex, parent: &HashMap<ObjIndex, (ObjIndex, usize)>) -> String {
    let mut steps = Vec::new();
    let mut node = target;
    while node != root {
        let step = parent[&node];
        steps.push(step);
        node = step.0;
    }
    render_steps(root, steps.into_iter().rev())
}

/// Renders a path given as (object, slot) steps from a root, as `Scope.job.children[3]`.
pub(crate) fn render_steps(root: ObjIndex, steps: impl Iterator<Item = (ObjIndex, usize)>) -> String {
    let mut path = type_name(root);
    for (node, slot) in steps {
        path.push_str(&step_name(node, slot));
    }
    path
}
