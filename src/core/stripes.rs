//! Striped locks: a small fixed set of mutexes shared by keys (addresses, slots) that need mutual
//! exclusion rarely and briefly, with no memory per key. Under loom (the shared-data model) the
//! stripes are loom's.

use super::sync::{Mutex, MutexGuard};

const STRIPE_COUNT: usize = 64;

#[cfg(not(floe_loom))]
static STRIPES: [Mutex<()>; STRIPE_COUNT] = [const { Mutex::new(()) }; STRIPE_COUNT];
#[cfg(floe_loom)]
loom::lazy_static! {
    static ref STRIPES: Vec<Mutex<()>> = (0..STRIPE_COUNT).map(|_| Mutex::new(())).collect();
}

/// Locks the stripe of `key`. Hold no other stripe while holding one.
pub(crate) fn lock(key: usize) -> MutexGuard<'static, ()> {
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    STRIPES[mixed % STRIPE_COUNT].lock()
}
