//! `floe_type_*`: defining object types.

use super::{c_str, floe_type, returning};
use crate::core::base::error::{Error, Status};
use crate::core::heap::types;
use crate::core::heap::value::Kind;
use std::ffi::c_char;

/// The built-in growable list type: objects made by `floe_list_new`.
pub const FLOE_TYPE_LIST: floe_type = 1;

/// One field of a type being defined.
#[repr(C)]
pub struct floe_field_def {
    /// The field's name: NUL-terminated UTF-8, non-empty, distinct within the type. Copied.
    pub name: *const c_char,
    /// One of the `FLOE_KIND_*` constants.
    pub kind: u32,
}

/// Defines an object type named `name` with `field_count` fields described by `fields`, and writes
/// its id to `*out_type`.
///
/// Names are copied; the type lives as long as the process. `fields` may be NULL when
/// `field_count` is 0. Fails with `FLOE_ERR_INVALID_ARGUMENT` for an empty or duplicate name or an
/// unknown kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_type_define(
    name: *const c_char,
    fields: *const floe_field_def,
    field_count: usize,
    out_type: *mut floe_type,
) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        let defs: &[floe_field_def] = match (fields.is_null(), field_count) {
            (_, 0) => &[],
            (true, _) => {
                return Err(Error::new(Status::ErrNull, "argument `fields` is NULL but `field_count` is not 0"))
            }
            // SAFETY: documented contract: `fields` points to `field_count` readable entries.
            (false, n) => unsafe { std::slice::from_raw_parts(fields, n) },
        };
        let mut parsed = Vec::with_capacity(defs.len());
        for (i, def) in defs.iter().enumerate() {
            // SAFETY: documented contract: each entry's name is a NUL-terminated string.
            let field = unsafe { c_str(def.name, &format!("fields[{i}].name")) }?;
            let kind = Kind::from_code(def.kind).ok_or_else(|| {
                Error::new(
                    Status::ErrInvalidArgument,
                    format!("fields[{i}] ({field}) has kind {}, which is no FLOE_KIND_*", def.kind),
                )
            })?;
            parsed.push((field, kind));
        }
        types::define(name, &parsed)
    };
    // SAFETY: documented contract: `out_type` is NULL or writable.
    unsafe { returning("floe_type_define", out_type, "out_type", body) }
}

/// Writes the index of the field called `name` of type `ty` to `*out_index`, for use with the
/// `floe_object_get_*` / `floe_object_set_*` functions. `FLOE_ERR_UNKNOWN_FIELD` if there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_type_field_index(ty: floe_type, name: *const c_char, out_index: *mut usize) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        types::field(ty, name)
    };
    // SAFETY: documented contract: `out_index` is NULL or writable.
    unsafe { returning("floe_type_field_index", out_index, "out_index", body) }
}
