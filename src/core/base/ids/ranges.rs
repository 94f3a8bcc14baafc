//! The ranges of the C ABI's 32-bit ids: workers from 2 (the main queue is 1), object types from
//! 2^29 (the built-in list is 1, fixed by the ABI as `FLOE_TYPE_LIST`), globals from 2^30, pools
//! and views from 2^31. Disjoint but for that 1, so that one kind's id given to another kind's call
//! names nothing there and is refused, rather than reaching whichever object has that number. Ids
//! are never reused.

use crate::core::base::error::{Error, Result, Status};
use std::sync::atomic::{AtomicU32, Ordering};

/// The first defined object type's id; workers' ids are below it.
pub(crate) const FIRST_TYPE_ID: u32 = 1 << 29;
/// The first global's id; object types' ids are below it.
pub(crate) const FIRST_GLOBAL_ID: u32 = 1 << 30;
/// The first id of a pool or a view; globals' ids are below it.
pub(crate) const FIRST_POOL_ID: u32 = 1 << 31;

/// The kind of id whose range holds a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdRange {
    Workers,
    Types,
    Globals,
    Pools,
}

impl IdRange {
    /// The range `id` is in; `None` for 0, which is no kind's id.
    pub(crate) fn of(id: u32) -> Option<IdRange> {
        match id {
            0 => None,
            FIRST_POOL_ID.. => Some(IdRange::Pools),
            FIRST_GLOBAL_ID.. => Some(IdRange::Globals),
            FIRST_TYPE_ID.. => Some(IdRange::Types),
            _ => Some(IdRange::Workers),
        }
    }

    fn owners(self) -> &'static str {
        match self {
            IdRange::Workers => "the workers'",
            IdRange::Types => "the object types'",
            IdRange::Globals => "the globals'",
            IdRange::Pools => "the pools' and views'",
        }
    }
}

/// For the message about `id`, given where an id of `expected`'s kind was and naming nothing: "it
/// is in the globals' range" (or whichever), when the id is another kind's.
pub(crate) fn elsewhere(id: u32, expected: IdRange) -> Option<String> {
    IdRange::of(id).filter(|&range| range != expected).map(|range| format!("it is in {} range", range.owners()))
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
        let at = |ids: [u32; 2]| ids.map(|id| elsewhere(id, IdRange::Pools).or(elsewhere(id, IdRange::Workers)));
        let says = |owners: &str| [(); 2].map(|()| Some(format!("it is in {owners} range")));
        assert_eq!(at([2, FIRST_TYPE_ID - 1]), says("the workers'"));
        assert_eq!(at([FIRST_TYPE_ID, FIRST_GLOBAL_ID - 1]), says("the object types'"));
        assert_eq!(at([FIRST_GLOBAL_ID, FIRST_POOL_ID - 1]), says("the globals'"));
        assert_eq!(at([FIRST_POOL_ID, u32::MAX]), says("the pools' and views'"));
    }

    #[test]
    fn ids_stop_below_the_end_of_their_range_and_are_never_reused() {
        let counter = AtomicU32::new(FIRST_POOL_ID - 2);
        let taken: Vec<_> =
            (0..4).map(|_| take_id(&counter, FIRST_POOL_ID, "workers").map_err(|e| e.status())).collect();
        assert_eq!(taken, [Ok(FIRST_POOL_ID - 2), Ok(FIRST_POOL_ID - 1), Err(Status::ErrLimit), Err(Status::ErrLimit)]);
    }
}
