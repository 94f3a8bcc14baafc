//! `floe_list_*`: the built-in growable list. Elements are read and written with the
//! `floe_object_get_*` / `floe_object_set_*` functions, by index; an element may hold any kind.

use super::{boundary, c_str, floe_ref, optional_ref, returning};
use crate::core::base::error::{Result, Status};
use crate::core::graph::object as heap_object;
use crate::core::heap::value::Value;
use crate::core::shared::access as object;
use std::ffi::c_char;

/// Creates an empty list owned by the calling thread and writes a handle to it to `*out_list`.
///
/// The caller owns the returned handle and must release it with `floe_ref_release`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_list_new(out_list: *mut floe_ref) -> Status {
    // SAFETY: documented contract: `out_list` is NULL or writable.
    unsafe { returning("floe_list_new", out_list, "out_list", heap_object::new_list) }
}

fn push(function: &'static str, list: floe_ref, value: impl FnOnce() -> Result<Value>) -> Status {
    boundary(function, || object::push(list, value()?))
}

/// Appends an int. Owner thread only; `FLOE_ERR_NOT_A_LIST` if `list` is not a list.
#[unsafe(no_mangle)]
pub extern "C" fn floe_list_push_int(list: floe_ref, value: i64) -> Status {
    push("floe_list_push_int", list, || Ok(Value::Int(value)))
}

/// Appends a double. Owner thread only.
#[unsafe(no_mangle)]
pub extern "C" fn floe_list_push_double(list: floe_ref, value: f64) -> Status {
    push("floe_list_push_double", list, || Ok(Value::Double(value)))
}

/// Appends a bool. Owner thread only.
#[unsafe(no_mangle)]
pub extern "C" fn floe_list_push_bool(list: floe_ref, value: bool) -> Status {
    push("floe_list_push_bool", list, || Ok(Value::Bool(value)))
}

/// Appends a copy of `value` (NUL-terminated UTF-8). Owner thread only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_list_push_string(list: floe_ref, value: *const c_char) -> Status {
    // SAFETY: documented contract: `value` is a NUL-terminated string.
    push("floe_list_push_string", list, || Ok(Value::Str(unsafe { c_str(value, "value") }?.into())))
}

/// Appends a reference to the object of `target`, or a NULL reference when `target` is 0. The
/// target must be owned by the list's thread or frozen; the caller still owns `target`.
#[unsafe(no_mangle)]
pub extern "C" fn floe_list_push_ref(list: floe_ref, target: floe_ref) -> Status {
    boundary("floe_list_push_ref", || object::push_ref(list, optional_ref(target)))
}
