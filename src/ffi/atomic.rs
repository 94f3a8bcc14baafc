//! `floe_object_atomic_*`: atomic fields (`FLOE_KIND_ATOMIC_INT`, `_LONG`, `_REF`), changeable in
//! frozen objects from any thread — the way to change shared state. In a mutable object they follow
//! the ownership rule like every field.

use super::{boundary, floe_ref, optional_ref, returning};
use crate::core::base::error::Status;
use crate::core::shared::access;

/// Writes the value of atomic int or long field `index` to `*out_value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_atomic_get(object: floe_ref, index: usize, out_value: *mut i64) -> Status {
    // SAFETY: documented contract: `out_value` is NULL or writable.
    unsafe { returning("floe_object_atomic_get", out_value, "out_value", || access::atomic_get(object, index)) }
}

/// Sets atomic int or long field `index` (an atomic int takes values that fit 32 bits).
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_atomic_set(object: floe_ref, index: usize, value: i64) -> Status {
    boundary("floe_object_atomic_set", || access::atomic_set(object, index, value))
}

/// Adds `delta` to atomic int or long field `index` (wrapping) and writes the new value to
/// `*out_value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_atomic_add(
    object: floe_ref,
    index: usize,
    delta: i64,
    out_value: *mut i64,
) -> Status {
    // SAFETY: documented contract: `out_value` is NULL or writable.
    unsafe { returning("floe_object_atomic_add", out_value, "out_value", || access::atomic_add(object, index, delta)) }
}

/// Sets atomic int or long field `index` to `new` if it holds `expected`; writes whether it did to
/// `*out_swapped`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_atomic_compare_and_set(
    object: floe_ref,
    index: usize,
    expected: i64,
    new_value: i64,
    out_swapped: *mut bool,
) -> Status {
    let body = || access::atomic_compare_and_set(object, index, expected, new_value);
    // SAFETY: documented contract: `out_swapped` is NULL or writable.
    unsafe { returning("floe_object_atomic_compare_and_set", out_swapped, "out_swapped", body) }
}

/// Writes a new handle to the object atomic reference field `index` points to (0 for none) to
/// `*out_ref`; the caller owns it and releases it with `floe_ref_release`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_atomic_ref_get(object: floe_ref, index: usize, out_ref: *mut floe_ref) -> Status {
    let body = || access::atomic_get_ref(object, index).map(|value| value.unwrap_or(0));
    // SAFETY: documented contract: `out_ref` is NULL or writable.
    unsafe { returning("floe_object_atomic_ref_get", out_ref, "out_ref", body) }
}

/// Points atomic reference field `index` at the object of `value` — which must be frozen
/// (`FLOE_ERR_NOT_FROZEN`): every thread may read it — or at nothing when `value` is 0. The field
/// takes its own reference; the caller keeps `value`. Cycles closed this way never leak (Kotlin/
/// Native's legacy collector leaked them): when `value` reaches `object`, the frozen graphs on the
/// cycle are merged into one unit, freed when nothing outside it refers to it — also if the cycle is
/// broken again later. Storing a value whose graph has no atomic reference field costs no search.
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_atomic_ref_set(object: floe_ref, index: usize, value: floe_ref) -> Status {
    boundary("floe_object_atomic_ref_set", || access::atomic_set_ref(object, index, optional_ref(value)))
}

/// Points atomic reference field `index` at `new_value` (frozen, or 0) if it points at the object
/// of `expected` (0: at nothing); writes whether it did to `*out_swapped`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_atomic_ref_compare_and_set(
    object: floe_ref,
    index: usize,
    expected: floe_ref,
    new_value: floe_ref,
    out_swapped: *mut bool,
) -> Status {
    let body = || access::atomic_compare_and_set_ref(object, index, optional_ref(expected), optional_ref(new_value));
    // SAFETY: documented contract: `out_swapped` is NULL or writable.
    unsafe { returning("floe_object_atomic_ref_compare_and_set", out_swapped, "out_swapped", body) }
}
