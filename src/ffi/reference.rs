//! `floe_ref_*`: handle lifetime.

use super::{boundary, floe_ref, returning};
use crate::core::base::error::Status;
use crate::core::shared::access as object;

/// Writes a new handle to the same object as `object` to `*out_ref`: one more reference.
///
/// The caller owns the new handle and must release it with `floe_ref_release`. A mutable object can
/// be retained only on its owner thread; a frozen one on any thread (this is how a thread gets its
/// own handle to a shared frozen graph).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_ref_retain(object: floe_ref, out_ref: *mut floe_ref) -> Status {
    // SAFETY: documented contract: `out_ref` is NULL or writable.
    unsafe { returning("floe_ref_retain", out_ref, "out_ref", || object::retain(object)) }
}

/// Releases a handle: its reference is dropped, and objects nothing refers to any more are freed
/// (cycles included).
///
/// After this call the handle is dead: using it gives `FLOE_ERR_RELEASED_HANDLE`, releasing it
/// again `FLOE_ERR_DOUBLE_RELEASE` — reported, never fatal. Any thread may release a handle, as a
/// C++ destructor or a Swift `deinit` runs wherever the last host reference went: a reference to
/// another thread's mutable object (or one in transit) is handed to its owner, which drops it at
/// its next release, collection, detach or attach, or when it exits — until then the object counts
/// as live. Once the owner thread has exited its objects are orphans, unusable by anyone, and the
/// release that drops an orphan's last reference frees it on the spot. Do not release a handle
/// while another thread is using that same handle value: give each thread its own handle
/// (`floe_ref_retain`).
#[unsafe(no_mangle)]
pub extern "C" fn floe_ref_release(object: floe_ref) -> Status {
    boundary("floe_ref_release", || object::release(object))
}
