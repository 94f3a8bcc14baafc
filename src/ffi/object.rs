//! `floe_object_*`: creating objects, reading and writing fields, freezing.
//!
//! Fields and list elements are addressed by index (`floe_type_field_index` turns a name into one).
//! Every call checks the handle, then ownership: a mutable object is usable only on its owner thread
//! (`FLOE_ERR_WRONG_THREAD`), a frozen one is readable anywhere and writable nowhere
//! (`FLOE_ERR_FROZEN`, with the freeze that froze it).

use super::{boundary, c_str, floe_ref, floe_type, optional_c_str, optional_ref, out, returning, Out};
use crate::core::base::error::{Error, Result, Status};
use crate::core::graph::object as heap_object;
use crate::core::heap::value::{Kind, Value};
use crate::core::shared::access as object;
use crate::core::shared::segment::inplace;
use std::ffi::c_char;

/// Creates an object of type `ty`, owned by the calling thread, with every field at zero, false,
/// the empty string or NULL, and writes a handle to it to `*out_object`.
///
/// The caller owns the returned handle and must release it with `floe_ref_release`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_new(ty: floe_type, out_object: *mut floe_ref) -> Status {
    // SAFETY: documented contract: `out_object` is NULL or writable.
    unsafe { returning("floe_object_new", out_object, "out_object", || heap_object::new_object(ty)) }
}

/// Reads a value of `kind` from slot `index` into `*out_value`.
///
/// # Safety
/// `out_value` is NULL or writable.
#[inline(always)]
unsafe fn get<T>(
    function: &'static str,
    handle: floe_ref,
    index: usize,
    kind: Kind,
    extract: impl FnOnce(&Value) -> T + Copy,
    out_value: *mut T,
) -> Status {
    // The common case needs no unwinding guard: `try_read` has no panic path.
    if !out_value.is_null() {
        if let Some(value) = heap_object::try_read(handle, index, kind, extract) {
            // SAFETY: forwarded contract; not NULL (checked just above).
            unsafe { out_value.write(value) };
            return Status::Ok;
        }
        if let Some(value) = inplace::try_scalar(handle, index, kind) {
            // SAFETY: as above.
            unsafe { out_value.write(extract(&value)) };
            return Status::Ok;
        }
    }
    // SAFETY: forwarded contract.
    unsafe { get_checked(function, handle, index, kind, extract, out_value) }
}

/// `get` through the boundary, saying what failed. A function of its own with `get`'s parameters
/// rather than a closure passed to a cold helper: a closure's captures were stored on the common
/// path before it knew it needed them (0.5 ns of a 4.2 ns get).
#[cold]
#[inline(never)]
unsafe fn get_checked<T>(
    function: &'static str,
    handle: floe_ref,
    index: usize,
    kind: Kind,
    extract: impl FnOnce(&Value) -> T + Copy,
    out_value: *mut T,
) -> Status {
    // SAFETY: forwarded contract.
    unsafe { returning(function, out_value, "out_value", || object::read(handle, index, kind, extract)) }
}

/// Writes `*out_value` with the int in field or element `index`. Owner thread, or frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_int(object: floe_ref, index: usize, out_value: *mut i64) -> Status {
    // SAFETY: documented contract: `out_value` points to a writable int64_t.
    unsafe { get("floe_object_get_int", object, index, Kind::Int, Value::as_int, out_value) }
}

/// Writes `*out_value` with the double in field or element `index`. Owner thread, or frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_double(object: floe_ref, index: usize, out_value: *mut f64) -> Status {
    // SAFETY: documented contract: `out_value` points to a writable double.
    unsafe { get("floe_object_get_double", object, index, Kind::Double, Value::as_double, out_value) }
}

/// Writes `*out_value` with the bool in field or element `index`. Owner thread, or frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_bool(object: floe_ref, index: usize, out_value: *mut bool) -> Status {
    // SAFETY: documented contract: `out_value` points to a writable bool.
    unsafe { get("floe_object_get_bool", object, index, Kind::Bool, Value::as_bool, out_value) }
}

/// Writes `*out_len` with the length in bytes (without the NUL) of the string in field or element
/// `index`. A buffer of `*out_len + 1` bytes holds it for `floe_object_get_string`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_string_len(object: floe_ref, index: usize, out_len: *mut usize) -> Status {
    // SAFETY: documented contract: `out_len` points to a writable size_t.
    unsafe { get("floe_object_get_string_len", object, index, Kind::String, |v| v.as_str().len(), out_len) }
}

/// Copies the string in field or element `index`, NUL-terminated, into `buf` (`buf_len` bytes), and
/// writes its length without the NUL to `*out_len`.
///
/// The string is UTF-8 and may itself contain NUL bytes; `*out_len` is authoritative. When `buf_len`
/// is too small nothing is written and the status is `FLOE_ERR_BUFFER_TOO_SMALL` (the message says
/// how many bytes are needed; `floe_object_get_string_len` tells it too).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_string(
    object: floe_ref,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let body = || {
        let buffer = out(buf, "buf")?;
        // SAFETY: documented contract: `buf` is writable for `buf_len` bytes.
        let copied =
            object::read(object, index, Kind::String, |v| unsafe { copy_c_string(v.as_str(), buffer, buf_len) })??;
        Ok(copied)
    };
    // SAFETY: documented contract: `out_len` is NULL or writable.
    unsafe { returning("floe_object_get_string", out_len, "out_len", body) }
}

/// Copies `text` and a NUL into `buffer`, returning the text's length.
///
/// # Safety
/// `buffer` is writable for `buf_len` bytes.
pub(super) unsafe fn copy_c_string(text: &str, buffer: Out<c_char>, buf_len: usize) -> Result<usize> {
    if text.len() >= buf_len {
        let needed = text.len() + 1;
        return Err(Error::new(
            Status::ErrBufferTooSmall,
            format!("the string needs {needed} bytes with its NUL; the buffer has {buf_len}"),
        ));
    }
    let bytes: Vec<u8> = text.bytes().chain([0]).collect();
    // SAFETY: `bytes.len() <= buf_len`, and the caller promises that many writable bytes.
    unsafe { buffer.write_bytes(&bytes) };
    Ok(text.len())
}

/// Writes `*out_ref` with a new handle to the object that reference field or element `index`
/// points to, or 0 when it is NULL.
///
/// The caller owns the returned handle (when not 0) and must release it with `floe_ref_release`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_get_ref(object: floe_ref, index: usize, out_ref: *mut floe_ref) -> Status {
    let body = || object::get_ref(object, index).map(|handle| handle.unwrap_or(0));
    // SAFETY: documented contract: `out_ref` is NULL or writable.
    unsafe { returning("floe_object_get_ref", out_ref, "out_ref", body) }
}

fn set(function: &'static str, object: floe_ref, index: usize, value: impl FnOnce() -> Result<Value>) -> Status {
    boundary(function, || object::set(object, index, value()?))
}

/// `set` of an int, double or bool: the common case needs no unwinding guard (`try_set` has no
/// panic path).
#[inline(always)]
fn set_scalar(function: &'static str, object: floe_ref, index: usize, value: Value) -> Status {
    match heap_object::try_set(object, index, value) {
        Ok(()) => Status::Ok,
        Err(value) => set_scalar_checked(function, object, index, value),
    }
}

/// `set_scalar` through the boundary, saying what failed.
#[cold]
#[inline(never)]
fn set_scalar_checked(function: &'static str, object: floe_ref, index: usize, value: Value) -> Status {
    set(function, object, index, || Ok(value))
}

/// Sets int field or element `index`. Owner thread only; the field must be an int (list elements
/// take any kind).
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_set_int(object: floe_ref, index: usize, value: i64) -> Status {
    set_scalar("floe_object_set_int", object, index, Value::Int(value))
}

/// Sets double field or element `index`. Owner thread only.
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_set_double(object: floe_ref, index: usize, value: f64) -> Status {
    set_scalar("floe_object_set_double", object, index, Value::Double(value))
}

/// Sets bool field or element `index`. Owner thread only.
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_set_bool(object: floe_ref, index: usize, value: bool) -> Status {
    set_scalar("floe_object_set_bool", object, index, Value::Bool(value))
}

/// Sets string field or element `index` to a copy of `value` (NUL-terminated UTF-8). Owner thread only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_set_string(object: floe_ref, index: usize, value: *const c_char) -> Status {
    // SAFETY: documented contract: `value` is a NUL-terminated string.
    set("floe_object_set_string", object, index, || Ok(Value::Str(unsafe { c_str(value, "value") }?.into())))
}

/// Points reference field or element `index` at the object of handle `target`, or at nothing when
/// `target` is 0. Owner thread only; the target must be owned by the same thread or be frozen.
/// The object takes its own reference: the caller still owns `target` and releases it as usual.
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_set_ref(object: floe_ref, index: usize, target: floe_ref) -> Status {
    boundary("floe_object_set_ref", || object::set_ref(object, index, optional_ref(target)))
}

/// Writes `*out_kind` with the `FLOE_KIND_*` of the value in field or element `index`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_kind_at(object: floe_ref, index: usize, out_kind: *mut u32) -> Status {
    let body = || object::kind_at(object, index).map(|kind| kind as u32);
    // SAFETY: documented contract: `out_kind` is NULL or writable.
    unsafe { returning("floe_object_kind_at", out_kind, "out_kind", body) }
}

/// Writes `*out_len` with the number of fields, or of elements for a list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_len(object: floe_ref, out_len: *mut usize) -> Status {
    // SAFETY: documented contract: `out_len` is NULL or writable.
    unsafe { returning("floe_object_len", out_len, "out_len", || object::len(object)) }
}

/// Writes `*out_type` with the object's type id. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_type(object: floe_ref, out_type: *mut floe_type) -> Status {
    // SAFETY: documented contract: `out_type` is NULL or writable.
    unsafe { returning("floe_object_type", out_type, "out_type", || object::type_of(object)) }
}

/// Writes `*out_id` with the object's id, the number messages show as `Type#id`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_id(object: floe_ref, out_id: *mut u32) -> Status {
    // SAFETY: documented contract: `out_id` is NULL or writable.
    unsafe { returning("floe_object_id", out_id, "out_id", || object::id_of(object)) }
}

/// Freezes every object reachable from `object`: deeply, one way, all or nothing.
///
/// Owner thread only (freezing a frozen object is a no-op). `label` (NUL-terminated, may be NULL)
/// is remembered: a later `FLOE_ERR_FROZEN` about any of these objects names this call, its thread
/// and label. If the graph reaches an object marked with `floe_object_ensure_never_frozen`, nothing
/// is frozen and the status is `FLOE_ERR_FREEZE_BLOCKED`, the message giving the path to it.
/// Frozen objects are readable from every thread; cycles among them are still reclaimed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_freeze(object: floe_ref, label: *const c_char) -> Status {
    boundary("floe_object_freeze", || {
        // SAFETY: documented contract: `label` is NULL or a NUL-terminated string.
        let label = unsafe { optional_c_str(label, "label") }?;
        object::freeze(object, label)
    })
}

/// Writes `*out_frozen` with whether the object is frozen. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_object_is_frozen(object: floe_ref, out_frozen: *mut bool) -> Status {
    // SAFETY: documented contract: `out_frozen` is NULL or writable.
    unsafe { returning("floe_object_is_frozen", out_frozen, "out_frozen", || object::is_frozen(object)) }
}

/// Marks the object so that any freeze reaching it fails with `FLOE_ERR_FREEZE_BLOCKED` and
/// freezes nothing. Owner thread only; an already frozen object gives `FLOE_ERR_FROZEN`.
#[unsafe(no_mangle)]
pub extern "C" fn floe_object_ensure_never_frozen(object: floe_ref) -> Status {
    boundary("floe_object_ensure_never_frozen", || object::ensure_never_frozen(object))
}
