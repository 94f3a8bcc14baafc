//! `floe_shared_data_*`: Kotlin/Native's versioned SharedData, in any C memory (a global, the heap)
//! or in a slot of a segment (`floe_segment_slot`), memory shared between processes.
//! A zeroed `floe_shared_data` is valid and empty; a corrupt one is reported, never dereferenced.
//! Do not write the struct yourself while floe functions may use it.
//!
//! Each function first asks whether the pointer falls in a segment this process maps or has
//! mapped (`slot::shared_data_at`: one relaxed load and a compare while no segment is open, two
//! while any is): a slot's struct is changed only by the segment's own publish protocol, never
//! written here as a struct; anything else is host memory, for `core::shared::shared_data`.

use super::{boundary, floe_ref, optional_ref, out, returning, transfer_mode};
use crate::core::base::error::Status;
use crate::core::shared::segment::slot;
use crate::core::shared::shared_data;
pub use crate::core::shared::shared_data::SharedData;

const SIZE: usize = std::mem::size_of::<SharedData>();

/// Publishes the frozen object of `root` in `*data` (or empties it when `root` is 0) and bumps its
/// version. Readers that hold the previous value keep it; it is freed once none does. The caller
/// keeps `root`. A mutable `root` gives `FLOE_ERR_NOT_FROZEN`.
///
/// `data` may be a slot's `floe_shared_data` (from `floe_segment_slot`): the graph is then written
/// into the segment as the slot's next version (its current one plus one), as
/// `floe_segment_publish` does, and a `root` of 0 empties the slot as `floe_segment_unpublish`
/// does (an empty slot stays as it is). A pointer inside a segment but not at a slot's start is
/// `FLOE_ERR_INVALID_ARGUMENT`; a slot of a segment this process has closed,
/// `FLOE_ERR_RELEASED_HANDLE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_publish(data: *mut SharedData, root: floe_ref) -> Status {
    boundary("floe_shared_data_publish", || match slot::shared_data_at(data.addr(), SIZE)? {
        Some((segment, index)) => slot::publish_shared(&segment, index, optional_ref(root)),
        // SAFETY: documented contract: `data` is NULL or a floe_shared_data only floe writes meanwhile.
        None => unsafe { shared_data::publish(data, optional_ref(root)) },
    })
}

/// Reads `*data` from any thread: writes its version to `*out_version` and a new handle to the
/// published frozen root (0 when empty) to `*out_root`, which the caller owns. The pair is never
/// torn. While a frozen value is published, a read takes no lock: readers never wait for each other
/// or for a writer. A struct holding a graph put for one taker gives `FLOE_ERR_INVALID_ARGUMENT`.
///
/// On a slot's `floe_shared_data` (from `floe_segment_slot`), in any process that has the segment
/// open: the slot's version and a handle to its graph, copied into this process's heap (frozen),
/// as `floe_segment_read_copy` gives them; an empty slot gives root 0 and its version. Never waits
/// for the writer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_read(
    data: *mut SharedData,
    out_version: *mut i32,
    out_root: *mut floe_ref,
) -> Status {
    boundary("floe_shared_data_read", || {
        let (version_target, root_target) = (out(out_version, "out_version")?, out(out_root, "out_root")?);
        let (version, root) = match slot::shared_data_at(data.addr(), SIZE)? {
            Some((segment, index)) => slot::read_shared(&segment, index)?,
            // SAFETY: documented contract, as for floe_shared_data_publish.
            None => unsafe { shared_data::read(data) }?,
        };
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
///
/// A slot's `floe_shared_data` (from `floe_segment_slot`) is refused with
/// `FLOE_ERR_INVALID_ARGUMENT`: a detached mutable graph lives in this process's heap, and only a
/// thread of this process could take it, so memory other processes read cannot hold it. Freeze
/// the graph and publish it instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_put(data: *mut SharedData, root: floe_ref, mode: u32) -> Status {
    boundary("floe_shared_data_put", || {
        let mode = transfer_mode(mode)?;
        match slot::shared_data_at(data.addr(), SIZE)? {
            Some((segment, index)) => Err(slot::refuse_put(&segment, index)),
            // SAFETY: documented contract, as for floe_shared_data_publish.
            None => unsafe { shared_data::put(data, root, mode) },
        }
    })
}

/// Takes the graph parked in `*data`: the calling thread owns it, and a handle to its root is
/// written to `*out_root` (owned by the caller). Exactly one taker wins; the others get
/// `FLOE_ERR_CONSUMED`. A slot's `floe_shared_data` holds no graph to take:
/// `FLOE_ERR_INVALID_ARGUMENT` (read it with `floe_shared_data_read`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_shared_data_take(data: *mut SharedData, out_root: *mut floe_ref) -> Status {
    let body = || match slot::shared_data_at(data.addr(), SIZE)? {
        Some((segment, index)) => Err(slot::refuse_take(&segment, index)),
        // SAFETY: documented contract, as for floe_shared_data_publish.
        None => unsafe { shared_data::take(data) },
    };
    // SAFETY: documented contract: `out_root` is NULL or writable.
    unsafe { returning("floe_shared_data_take", out_root, "out_root", body) }
}
