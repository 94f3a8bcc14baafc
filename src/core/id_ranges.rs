//! The ranges of the C ABI's 32-bit ids: workers from 2 (the main queue is 1), globals from 2^30,
//! pools and views from 2^31. Disjoint, so that one kind's id given to another kind's call names
//! nothing there and is refused, rather than reaching whichever object has that number. Ids are
//! never reused.

use super::error::{Error, Result, Status};
use std::sync::atomic::{AtomicU32, Ordering};

/// The first global's id; workers' ids are below it.
pub(crate) const FIRST_GLOBAL_ID: u32 = 1 << 30;
/// The first id of a pool or a view; globals' ids are below it.
pub(crate) const FIRST_POOL_ID: u32 = 1 << 31;

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
    fn ids_stop_below_the_end_of_their_range_and_are_never_reused() {
        let counter = AtomicU32::new(FIRST_POOL_ID - 2);
        let taken: Vec<_> =
            (0..4).map(|_| take_id(&counter, FIRST_POOL_ID, "workers").map_err(|e| e.status())).collect();
        assert_eq!(taken, [Ok(FIRST_POOL_ID - 2), Ok(FIRST_POOL_ID - 1), Err(Status::ErrLimit), Err(Status::ErrLimit)]);
    }
}
