//! Striped locks: a small fixed set of mutexes, each with a condition variable, shared by keys
//! (addresses, slots) that need mutual exclusion or a place to sleep rarely and briefly, with no
//! memory per key. Waiters on a stripe's condition variable re-check their own condition: a
//! notification may be for another key of the stripe. Under loom the stripes are loom's.

use crate::core::base::sync::{Condvar, Mutex, MutexGuard};

const STRIPE_COUNT: usize = 64;

pub(crate) struct Stripe {
    pub(crate) lock: Mutex<()>,
    /// Used with `lock` only.
    pub(crate) wake: Condvar,
}

#[cfg(not(floe_loom))]
static STRIPES: [Stripe; STRIPE_COUNT] =
    [const { Stripe { lock: Mutex::new(()), wake: Condvar::new() } }; STRIPE_COUNT];
#[cfg(floe_loom)]
loom::lazy_static! {
    static ref STRIPES: Vec<Stripe> =
        (0..STRIPE_COUNT).map(|_| Stripe { lock: Mutex::new(()), wake: Condvar::new() }).collect();
}

/// The stripe of `key`. Hold no other stripe's lock while holding one.
pub(crate) fn stripe(key: usize) -> &'static Stripe {
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    &STRIPES[mixed % STRIPE_COUNT]
}

/// Locks the stripe of `key`.
pub(crate) fn lock(key: usize) -> MutexGuard<'static, ()> {
    stripe(key).lock.lock()
}
