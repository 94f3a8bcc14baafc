//! Striped locks: a small fixed set of mutexes shared by keys (addresses, slots) that need mutual
//! exclusion rarely and briefly, with no memory per key.

use parking_lot::{Mutex, MutexGuard};

static STRIPES: [Mutex<()>; 64] = [const { Mutex::new(()) }; 64];

/// Locks the stripe of `key`. Hold no other stripe while holding one.
pub(crate) fn lock(key: usize) -> MutexGuard<'static, ()> {
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    STRIPES[mixed % STRIPES.len()].lock()
}
