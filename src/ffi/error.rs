//! `floe_last_error_*` and `floe_status_name`: what a failed call says, on the thread that made it.

use super::{boundary, c_str, last_message, last_status, record_message};
use crate::core::base::error::{Error, Status};
use std::ffi::c_char;

/// The message of the last failed floe call on the calling thread: the function, the operation,
/// the object (`Type#id`), its owner (thread, or frozen and by which freeze) and the calling thread.
///
/// The string is owned by floe and stays valid until the next failing floe call on this thread;
/// copy it to keep it. It is empty when no call has failed on this thread. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn floe_last_error_message() -> *const c_char {
    last_message()
}

/// The status of the last failed floe call on the calling thread (`FLOE_OK` if none failed).
#[unsafe(no_mangle)]
pub extern "C" fn floe_last_error_status() -> Status {
    last_status()
}

/// Records `status` and `message` (NUL-terminated UTF-8) as the calling thread's last error, so a
/// host callback — a job, producer or initialiser — can explain the failure it is about to return:
/// a job's future then fails with this status and this message. Returns `FLOE_OK`; a `status` that
/// is not an error gives `FLOE_ERR_INVALID_ARGUMENT` (and the last error describes that instead).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_last_error_set(status: i32, message: *const c_char) -> Status {
    let mut host_error = None;
    let outcome = boundary("floe_last_error_set", || {
        // SAFETY: documented contract: `message` is a NUL-terminated string.
        let text = unsafe { c_str(message, "message") }?;
        let status = Status::from_code(status).filter(|s| *s != Status::Ok).ok_or_else(|| {
            Error::new(Status::ErrInvalidArgument, format!("{status} is not an error status (FLOE_ERR_*)"))
        })?;
        host_error = Some(Error::new(status, text.to_owned()));
        Ok(())
    });
    if let Some(error) = host_error {
        record_message(error.status(), error.message());
    }
    outcome
}

/// The name of a status constant, such as `"FLOE_ERR_FROZEN"`; `"FLOE_UNKNOWN_STATUS"` for a
/// number that is not a status. The string is static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn floe_status_name(status: i32) -> *const c_char {
    let name = Status::from_code(status).map_or(c"FLOE_UNKNOWN_STATUS", Status::c_name);
    name.as_ptr()
}
