//! Freeze provenance: which freeze call froze an object (root, thread, label).
//!
//! Each freeze call gets an id, stored in the low 31 bits of its objects' owner word, and an entry
//! counting its live objects. The count is set once per freeze (not once per object) and dropped
//! as objects are freed; the entry is recycled when it reaches zero, so ids never outlive the
//! objects that name them.

use crate::core::base::slab::Slab;
use crate::core::heap::thread;
use crate::core::heap::value::ObjIndex;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// What a freeze call was. Names are made when a message needs them, not by every freeze: formatting
/// them was half of a small graph's freeze.
#[derive(Clone, Debug)]
pub(crate) struct Provenance {
    pub(crate) root: ObjIndex,
    /// The root's type as its header numbers it, kept for messages after the root is gone.
    pub(crate) root_type: u32,
    /// The freezing thread's token.
    pub(crate) thread: u32,
    pub(crate) label: Option<Box<str>>,
}

impl Provenance {
    /// The freezing thread's name (marked as exited, if it has).
    pub(crate) fn thread_name(&self) -> Arc<str> {
        thread::name_of(self.thread)
    }
}

#[derive(Default)]
struct Entry {
    live: AtomicU32,
    record: Mutex<Option<Provenance>>,
}

static TABLE: Slab<Entry> = Slab::new();

/// Registers a freeze that is about to freeze `objects` objects; returns its id.
pub(crate) fn register(record: Provenance, objects: u32) -> Option<u32> {
    let id = TABLE.alloc()?;
    let entry = TABLE.at(id);
    *entry.record.lock() = Some(record);
    entry.live.store(objects, Ordering::Release);
    Some(id)
}

/// Notes that `count` objects frozen by freeze `id` were freed.
pub(crate) fn release_objects(id: u32, count: u32) {
    let entry = TABLE.at(id);
    if entry.live.fetch_sub(count, Ordering::AcqRel) == count {
        entry.record.lock().take();
        TABLE.free(&[id]);
    }
}

/// The record of freeze `id`, while any object it froze lives (a copy: messages only).
pub(crate) fn lookup(id: u32) -> Option<Provenance> {
    TABLE.get(id)?.record.lock().clone()
}
