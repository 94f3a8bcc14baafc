//! `floe_shared_data_*`: Kotlin/Native's versioned SharedData, in any C memory (a global, the heap).
//! A zeroed `floe_shared_data` is valid and empty; a corrupt one is reported, never dereferenced.
//! Do not write the struct yourself while floe functions may use it.

use super::{boundary, floe_ref, optional_ref, out, returning, transfer_mode};
use crate::core::base::error::Status;
use crate::core::shared::shared_data;
pub use crate::core::shared::shared_data::SharedData;

/// Publishes the frozen object of `root` in `*data` (or empties it when `root` is 0) and bumps its
/// version. Readers that hold the previous value keep it; it is freed once none does. The caller
/// keeps `root`. A mutable `root` gives `FLOE_ERR_NOT_FROZEN`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_publish(data: *mut SharedData, root: floe_ref) -> Status {
    // SAFETY: documented contract: `data` is NULL or a floe_shared_data only floe writes meanwhile.
    boundary("floe_shared_data_publish", || unsafe { shared_data::publish(data, optional_ref(root)) })
}

/// Reads `*data` from any thread: writes its version to `*out_version` and a new handle to the
/// published frozen root (0 when empty) to `*out_root`, which the caller owns. The pair is never
/// torn. While a frozen value is published, a read takes no lock: readers never wait for each other
/// or for a writer. A struct holding a graph put for one taker gives `FLOE_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_read(
    data: *mut SharedData,
    out_version: *mut i32,
    out_root: *mut floe_ref,
) -> Status {
    boundary("floe_shared_data_read", || {
        let (version_target, root_target) = (out(out_version, "out_version")?, out(out_root, "out_root")?);
        // SAFETY: documented contract, as for floe_shared_data_publish.
        let (version, root) = unsafe { shared_data::read(data) }?;
        // SAFETY: documented contract: both out-parameters are writable.
        unsafe {
            version_target.write(version);
            root_target.write(root.unwrap_or(0));
        }
        Ok(())
    })
}

/// Detaches the mutable graph of `root` by `mode` (`FLOE_TRANSFER_MODE_*`) and parks it in the
/// empty `*data` for exactly one taker. The handle is consumed on success; on failure (not empty,
/// not transferable) it and its graph stay with the caller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_put(data: *mut SharedData, root: floe_ref, mode: u32) -> Status {
    boundary("floe_shared_data_put", || {
        let mode = transfer_mode(mode)?;
        // SAFETY: documented contract, as for floe_shared_data_publish.
        unsafe { shared_data::put(data, root, mode) }
    })
}

/// Takes the graph parked in `*data`: the calling thread owns it, and a handle to its root is
/// written to `*out_root` (owned by the caller). Exactly one taker wins; the others get
/// `FLOE_ERR_CONSUMED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_take(data: *mut SharedData, out_root: *mut floe_ref) -> Status {
    let body = || {
        // SAFETY: documented contract, as for floe_shared_data_publish.
        let root = unsafe { shared_data::take(data) }?;
        Ok(root)
    };
    // SAFETY: documented contract: `out_root` is NULL or writable.
    unsafe { returning("floe_shared_data_take", out_root, "out_root", body) }
}
