//! Detached object graphs: `floe_object_detach`, `floe_graph_attach`, `floe_graph_dispose`.
//!
//! A detached graph travels as a `void *` that C code may store anywhere. The pointer is an opaque
//! id, never dereferenced: floe looks it up (slot and generation) before anything else, so a
//! garbage pointer, a second attach and a disposed graph each get their own status (and one that
//! ended longer ago than its slot remembers, `FLOE_ERR_RELEASED_HANDLE`).

use super::{boundary, floe_ref, returning, transfer_mode};
use crate::core::base::error::{Error, Status};
use crate::core::base::ids::registry::{id_of_pointer, pointer_of_id, Registry};
use crate::core::base::ids::IdKind;
use crate::core::graph::transfer::{self, Transit};
use std::ffi::c_void;

static GRAPHS: Registry<Transit> = Registry::new(IdKind::Graph);

fn take(graph: *mut c_void, status: Status, how: &'static str) -> Result<Transit, Error> {
    GRAPHS.remove(id_of_pointer(graph), status, how)
}

/// Detaches the graph of `object` from the calling thread and writes an opaque pointer to it to
/// `*out_graph`, to be stored anywhere and attached once, on any thread, with `floe_graph_attach`.
///
/// `mode` is `FLOE_TRANSFER_MODE_SAFE` (refuse with `FLOE_ERR_NOT_TRANSFERABLE`, moving nothing,
/// when anything outside the graph refers into it; the message names the first such object and its
/// path) or `FLOE_TRANSFER_MODE_UNSAFE` (skip that check: unlike Kotlin/Native, references left
/// behind stay memory-safe and fail with `FLOE_ERR_WRONG_THREAD` when used). On success the handle
/// `object` is consumed: do not release it. A frozen object is shared, not moved. A graph never
/// attached is counted in `floe_stats.detached_graphs`; dispose of it with `floe_graph_dispose`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_detach(object: floe_ref, mode: u32, out_graph: *mut *mut c_void) -> Status {
    let body = || {
        let transit = transfer::detach(object, transfer_mode(mode)?)?;
        let id = GRAPHS.insert(transit)?;
        Ok(pointer_of_id(id))
    };
    // SAFETY: documented contract: `out_graph` is NULL or writable.
    unsafe { returning("floe_object_detach", out_graph, "out_graph", body) }
}

/// Attaches a detached graph to the calling thread, which then owns it, and writes a handle to its
/// root to `*out_root`; the caller owns that handle and releases it with `floe_ref_release`.
///
/// Each graph is attached once: a second attach gives `FLOE_ERR_ALREADY_ATTACHED` (the first
/// owner's graph stays valid), a disposed graph `FLOE_ERR_DISPOSED`, and a pointer floe never
/// issued `FLOE_ERR_INVALID_HANDLE`. Each of floe's slots for graphs remembers how its last eight
/// graphs ended; a pointer that ended before those (its slot reused more than eight times since)
/// gives `FLOE_ERR_RELEASED_HANDLE`: ended, how forgotten. The pointer is never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_graph_attach(graph: *mut c_void, out_root: *mut floe_ref) -> Status {
    let body = || take(graph, Status::ErrAlreadyAttached, "attached")?.attach();
    // SAFETY: documented contract: `out_root` is NULL or writable.
    unsafe { returning("floe_graph_attach", out_root, "out_root", body) }
}

/// Frees a detached graph without attaching it (on the calling thread). Disposing twice gives
/// `FLOE_ERR_DISPOSED`; disposing an attached graph `FLOE_ERR_ALREADY_ATTACHED`; one that ended
/// long ago `FLOE_ERR_RELEASED_HANDLE` (see `floe_graph_attach`).
#[unsafe(no_mangle)]
pub extern "C" fn floe_graph_dispose(graph: *mut c_void) -> Status {
    boundary("floe_graph_dispose", || take(graph, Status::ErrDisposed, "disposed").map(drop))
}

/// The `void *` for `transit`, as `floe_object_detach` gives it (for `DetachedGraph::into_raw`).
pub(crate) fn graph_pointer(transit: Transit) -> Result<*mut c_void, Error> {
    GRAPHS.insert(transit).map(pointer_of_id)
}

/// The detached graph behind `graph`, taken once, as `floe_graph_attach` takes it (for
/// `DetachedGraph::from_raw`).
pub(crate) fn graph_of_pointer(graph: *mut c_void) -> Result<Transit, Error> {
    take(graph, Status::ErrAlreadyAttached, "attached")
}
