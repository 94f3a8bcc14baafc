//! The ranges of the C ABI's 32-bit ids: workers from 2 (the main queue is 1), object types from
//! 2^29 (the built-in list is 1, fixed by the ABI as `FLOE_TYPE_LIST`), globals from 2^30, pools
//! and views from 2^31. Disjoint but for that 1, so that one kind's id given to another kind's call
//! names nothing there and is refused, rather than reaching whichever object has that number. Ids
//! are never reused.

use super::error::{Error, Result, Status};
use std::sync::atomic::{AtomicU32, Ordering};

/// The first defined object type's id; workers' ids are below it.
pub(crate) const FIRST_TYPE_ID: u32 = 1 << 29;
/// The first global's id; object types' ids are below it.
pub(crate) const FIRST_GLOBAL_ID: u32 = 1 << 30;
/// The first id of a pool or a view; globals' ids are below it.
pub(crate) const FIRST_POOL_ID: u32 = 1 << 31;

/// For a message about `id`, given where an id of another kind was expected: the kind whose range
/// holds it.
pub(crate) fn range_of(id: u32) -> &'static str {
    match id {
        FIRST_POOL_ID.. => "the pools' and views'",
        FIRST_GLOBAL_ID.. => "the globals'",
        FIRST_TYPE_ID.. => "the object types'",
        _ => "the workers'",
    }
}

/// The next id from `counter`, which stops below `end` (`what` names the ids in the error).
pub(crate) fn take_id(counter: &AtomicU32, end: u32, what: &str) -> Result<u32> {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| (id < end).then_some(id + 1))
        .map_err(|_| Error::new(Status::ErrLimit, format!("no ids are left for new {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_range_names_its_kind_from_its_first_id_to_the_next_ones() {
        let at = |ids: [u32; 2]| ids.map(range_of);
        assert_eq!(at([2, FIRST_TYPE_ID - 1]), ["the workers'"; 2]);
        assert_eq!(at([FIRST_TYPE_ID, FIRST_GLOBAL_ID - 1]), ["the object types'"; 2]);
        assert_eq!(at([FIRST_GLOBAL_ID, FIRST_POOL_ID - 1]), ["the globals'"; 2]);
        assert_eq!(at([FIRST_POOL_ID, u32::MAX]), ["the pools' and views'"; 2]);
    }

    #[test]
    fn ids_stop_below_the_end_of_their_range_and_are_never_reused() {
        let counter = AtomicU32::new(FIRST_POOL_ID - 2);
        let taken: Vec<_> =
            (0..4).map(|_| take_id(&counter, FIRST_POOL_ID, "workers").map_err(|e| e.status())).collect();
        assert_eq!(taken, [Ok(FIRST_POOL_ID - 2), Ok(FIRST_POOL_ID - 1), Err(Status::ErrLimit), Err(Status::ErrLimit)]);
    }
}
