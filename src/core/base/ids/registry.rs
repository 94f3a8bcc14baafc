//! A generation-checked table of ids for values taken once (detached graphs): the same `u64`
//! encoding as object handles, and a clear failure for an id never issued or already ended — with
//! the reason it ended (attached, disposed), each its own status. Not on any hot path: each entry
//! sits behind a small mutex. Values read many times (futures, shared-data values) have the
//! lock-free `id_table`.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::IdKind;
use crate::core::base::slab::Slab;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::ffi::c_void;

pub(crate) struct Registry<T> {
    kind: IdKind,
    slots: Slab<Mutex<Entry<T>>>,
}

struct Entry<T> {
    /// Odd while live, even while free (as for handles).
    generation: u32,
    value: Option<T>,
    /// How recent generations ended (generation, status for later uses, how), newest last: a
    /// reused slot still tells an old id why it ended.
    ended: VecDeque<(u32, Status, &'static str)>,
}

/// How many ended generations a slot remembers how they ended; an older ended id is still known
/// to have been issued (its generation is odd and below the slot's), and is reported as ended,
/// `ErrReleasedHandle`, without saying how.
const HISTORY: usize = 8;

/// How an ended id the slot no longer remembers ended, for its message.
const FORGOTTEN: &str = "attached or disposed, long ago (its slot has been reused since, and which is forgotten)";

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Entry { generation: 0, value: None, ended: VecDeque::new() }
    }
}

impl<T> Registry<T> {
    pub(crate) const fn new(kind: IdKind) -> Self {
        Registry { kind, slots: Slab::new() }
    }
}

/// The id that a C `void *` carries (a detached graph, a shared-data value): its address, which is
/// never dereferenced.
pub(crate) fn id_of_pointer(pointer: *mut c_void) -> u64 {
    pointer.addr() as u64
}

/// The C `void *` that carries `id`: an address without provenance, as nothing dereferences it.
pub(crate) fn pointer_of_id(id: u64) -> *mut c_void {
    std::ptr::without_provenance_mut(id as usize)
}

/// The error for a table of `noun`s with no free slot.
#[cold]
pub(crate) fn table_full(noun: &str) -> Error {
    Error::new(Status::ErrLimit, format!("cannot register a {noun}: the table is full"))
}

/// The error for an id of `kind` that is not live: NULL, ended (`ended`: the status of its later
/// uses, and how it ended), or never issued.
#[cold]
pub(crate) fn not_live(kind: IdKind, id: u64, ended: Option<(Status, &str)>) -> Error {
    let noun = kind.noun();
    match ended {
        _ if id == 0 => Error::new(Status::ErrNull, format!("the {noun} is NULL (0)")),
        Some((status, how)) => Error::new(status, format!("{noun} {id:#x} was already {how}; it cannot be used again")),
        None => Error::new(
            Status::ErrInvalidHandle,
            format!("{id:#x} is not a live {noun} this runtime issued{}", kind.mismatch(id)),
        ),
    }
}

impl<T> Registry<T> {
    /// Registers `value`; the returned id is live until `remove`.
    pub(crate) fn insert(&self, value: T) -> Result<u64> {
        let index = self.slots.alloc().ok_or_else(|| table_full(self.kind.noun()))?;
        let mut entry = self.slots.at(index).lock();
        entry.generation += 1;
        entry.value = Some(value);
        Ok(self.kind.id(entry.generation, index))
    }

    /// Ends a live id and returns its value. Later uses of the id fail with `status`, saying it was
    /// `how` ("released", "attached", "disposed").
    pub(crate) fn remove(&self, id: u64, status: Status, how: &'static str) -> Result<T> {
        let Some((generation, index)) = self.kind.split(id) else {
            return Err(self.invalid(id));
        };
        if let Some(slot) = self.slots.get(index) {
            let mut entry = slot.lock();
            if entry.generation == generation && entry.value.is_some() {
                if entry.ended.len() == HISTORY {
                    entry.ended.pop_front();
                }
                entry.ended.push_back((generation, status, how));
                entry.generation += 1;
                let value = entry.value.take().expect("checked just above");
                drop(entry);
                self.slots.free(&[index]);
                return Ok(value);
            }
        }
        Err(self.invalid(id))
    }

    #[cold]
    fn invalid(&self, id: u64) -> Error {
        let ended = self.kind.split(id).and_then(|(generation, index)| {
            let entry = self.slots.get(index)?.lock();
            let remembered = entry.ended.iter().find(|e| e.0 == generation).map(|&(_, status, how)| (status, how));
            let issued = generation & 1 == 1 && generation < entry.generation;
            remembered.or(issued.then_some((Status::ErrReleasedHandle, FORGOTTEN)))
        });
        not_live(self.kind, id, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_still_tells_an_old_id_how_it_ended() {
        static TABLE: Registry<u32> = Registry::new(IdKind::Graph);
        let first = TABLE.insert(1).unwrap();
        TABLE.remove(first, Status::ErrAlreadyAttached, "attached").unwrap();
        let second = TABLE.insert(2).unwrap();
        assert_eq!(second as u32, first as u32, "the slot is reused");
        TABLE.remove(second, Status::ErrDisposed, "disposed").unwrap();
        let again = |id| TABLE.remove(id, Status::ErrDisposed, "disposed").unwrap_err().status();
        assert_eq!(again(first), Status::ErrAlreadyAttached);
        assert_eq!(again(second), Status::ErrDisposed);
        assert_eq!(again(first + (64 << 32)), Status::ErrInvalidHandle);
        assert_eq!(again(0), Status::ErrNull);
    }

    /// A slot remembers how its last few ids ended; an id older than that was still issued here,
    /// and says it ended rather than that it never existed.
    #[test]
    fn an_id_ended_longer_ago_than_the_history_is_ended_not_unknown() {
        static TABLE: Registry<u32> = Registry::new(IdKind::Graph);
        let oldest = TABLE.insert(0).unwrap();
        TABLE.remove(oldest, Status::ErrDisposed, "disposed").unwrap();
        for value in 1..=HISTORY as u32 {
            let id = TABLE.insert(value).unwrap();
            assert_eq!(id as u32, oldest as u32, "the slot is reused");
            TABLE.remove(id, Status::ErrAlreadyAttached, "attached").unwrap();
        }
        let error = TABLE.remove(oldest, Status::ErrDisposed, "disposed").unwrap_err();
        assert_eq!(error.status(), Status::ErrReleasedHandle, "{}", error.message());
        assert!(error.message().contains("attached or disposed, long ago"), "{}", error.message());
        assert!(!error.message().contains("issued"), "{}", error.message());
        let unissued = oldest + ((2 * HISTORY as u64 + 8) << 32);
        let error = TABLE.remove(unissued, Status::ErrDisposed, "disposed").unwrap_err();
        assert_eq!(error.status(), Status::ErrInvalidHandle, "a generation the slot never reached");
    }
}
