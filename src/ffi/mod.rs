//! The C ABI: a thin layer over `crate::core`, one module per C noun.
//!
//! Every exported function is written out literally (so cbindgen sees it) and wraps its body in
//! `boundary`, which catches panics (`FLOE_ERR_PANIC`), records the failure's message for
//! `floe_last_error_message`, prefixed with the function's name, and maps the result to a status.
//! Pointer arguments go through `c_str` and `out`, the only places that dereference them.
//! Out-parameters are written only on success.
//!
//! One safety contract covers every `unsafe extern "C"` function here, stated once in the header's
//! preamble rather than on each function: each pointer argument is NULL (reported as
//! `FLOE_ERR_NULL`, except where NULL is documented as meaningful) or valid for the access its
//! documentation states, for the duration of the call.
#![allow(clippy::missing_safety_doc)]

pub mod atomic;
pub mod block;
pub mod error;
pub mod future;
pub mod global;
pub mod graph;
pub mod list;
pub mod object;
pub mod pool;
pub mod reference;
pub mod runtime;
pub mod segment;
pub mod shared_data;
pub mod types;
pub mod version;
pub mod worker;

use crate::core::base::error::{Error, Result, Status};
use crate::core::graph::transfer::TransferMode;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A handle to an object: an opaque 64-bit value, validated on every use; 0 is NULL. Handles,
/// futures, detached graphs and shared-data values never share a value: one given where another
/// is expected is `FLOE_ERR_INVALID_HANDLE`, and the message says which kind it looks like.
#[allow(non_camel_case_types)]
pub type floe_ref = u64;

/// A future, as returned by `floe_worker_execute`: an opaque 64-bit id, validated on every use,
/// and never equal to an object handle (see `floe_ref`).
#[allow(non_camel_case_types)]
pub type floe_future = u64;

/// An object type id, as returned by `floe_type_define`: from 2^29, a range no worker, global or
/// pool id uses, so that one given for another is refused. `FLOE_TYPE_LIST` is 1.
#[allow(non_camel_case_types)]
pub type floe_type = u32;

/// A host pointer handed back to a host callback on another thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: floe never dereferences it; the host, which registered it together with the callback,
// promises (as documented on each function) that the callback may use it from the thread it runs on.
unsafe impl Send for UserData {}
// SAFETY: as above; floe only copies the pointer.
unsafe impl Sync for UserData {}

thread_local! {
    /// The calling thread's last failure: its status and message (`None` for none, or cleared).
    static LAST_ERROR: RefCell<(Status, Option<CString>)> = const { RefCell::new((Status::Ok, None)) };
}

/// Runs an exported function's body: no panic crosses into C; a failure is recorded for
/// `floe_last_error_message` with the function's name in front.
#[inline(always)]
pub(crate) fn boundary(function: &'static str, body: impl FnOnce() -> Result<()>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok,
        failed => fail(function, failed.map(|r| r.expect_err("only failures reach here"))),
    }
}

/// `boundary` for a function whose one result goes to an out-parameter: the pointer is checked
/// before `body` runs, and written only when it succeeds.
///
/// # Safety
/// `out_ptr` is NULL or valid for writing a `T`.
#[inline(always)]
pub(crate) unsafe fn returning<T>(
    function: &'static str,
    out_ptr: *mut T,
    name: &str,
    body: impl FnOnce() -> Result<T>,
) -> Status {
    boundary(function, || {
        let target = out(out_ptr, name)?;
        let value = body()?;
        // SAFETY: forwarded contract.
        unsafe { target.write(value) };
        Ok(())
    })
}

#[cold]
#[inline(never)]
fn fail(function: &'static str, failed: std::thread::Result<Error>) -> Status {
    let error = failed.unwrap_or_else(|payload| {
        let panic = Error::from_panic(payload);
        Error::new(Status::ErrPanic, format!("floe {}; the call was abandoned", panic.message()))
    });
    record_failure(function, &error)
}

/// Records `error` as the calling thread's last failure, in `function`; returns its status.
pub(crate) fn record_failure(function: &str, error: &Error) -> Status {
    record_message(error.status(), &format!("{function}: {}", error.message()))
}

/// Stores `status` and `message` as the calling thread's last failure, as they are; returns `status`.
pub(crate) fn record_message(status: Status, message: &str) -> Status {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // A thread being torn down has no last-error slot left; the status still reaches the caller.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = (status, Some(text)));
    status
}

/// The last failure's status on this thread (`ErrPanic` once the thread's storage is torn down:
/// whatever failed then could not be recorded).
pub(crate) fn last_status() -> Status {
    LAST_ERROR.try_with(|last| last.borrow().0).unwrap_or(Status::ErrPanic)
}

/// The last failure's message on this thread; valid until the next failure on this thread. A host
/// may ask from a thread-exit destructor, after the thread's storage is gone: that gets a static
/// explanation rather than a panic, which could not unwind out of an `extern "C"` function.
pub(crate) fn last_message() -> *const c_char {
    LAST_ERROR.try_with(|last| last.borrow().1.as_deref().unwrap_or_default().as_ptr()).unwrap_or_else(|_| {
        c"floe cannot report this failure: the calling thread is exiting and its floe state is gone".as_ptr()
    })
}

/// Runs host code — a job, a producer, an initialiser, an outcome callback — with the calling
/// thread's last error cleared, so that whatever explains its failure was set by it (with
/// `floe_last_error_set`, or by a floe call of its own that failed), never by an earlier job on the
/// same thread. When the host code records nothing, the earlier last error is put back as it was:
/// a producer or an initialiser runs inside a call that may succeed, and a message pointer the
/// host holds stays valid until a call fails.
pub(crate) fn with_last_error_cleared<T>(host: impl FnOnce() -> T) -> T {
    let earlier = LAST_ERROR.try_with(|last| last.replace((Status::Ok, None))).ok();
    let value = host();
    if let Some(earlier) = earlier.filter(|(status, _)| *status != Status::Ok) {
        let _ = LAST_ERROR.try_with(|last| {
            let mut last = last.borrow_mut();
            if last.0 == Status::Ok {
                *last = earlier;
            }
        });
    }
    value
}

/// Calls a host callback that writes a handle to an out-parameter (a job's result, a producer's
/// root, a global's value) and returns a status — an `int32_t` in C, so that any number it returns
/// is defined behaviour — with the thread's last error cleared (`with_last_error_cleared`).
///
/// `FLOE_OK` gives the handle (`None` for 0). An error status fails with the message the callback
/// set, or one saying it set none; a number that is no status is `FLOE_ERR_HOST`, naming it. On
/// failure a handle the callback wrote is released: floe owned it once written.
pub(crate) fn call_host(callback: impl FnOnce(&mut floe_ref) -> i32) -> Result<Option<u64>> {
    let mut made: floe_ref = 0;
    let outcome = with_last_error_cleared(|| host_status(callback(&mut made)));
    match outcome {
        Ok(()) if crate::core::shared::segment::inplace::is_live(made) => {
            // What floe takes from a callback becomes a job's result, a graph's root or a global's
            // value: heap objects only. The handle was floe's once written, so it goes.
            let _ = crate::core::shared::access::release(made);
            Err(Error::new(
                Status::ErrInvalidArgument,
                format!(
                    "the callback returned handle {made:#x}, an object read in place from a segment: floe takes \
                     heap objects here (floe_segment_read_copy gives one); the handle is released"
                ),
            ))
        }
        Ok(()) => Ok(optional_ref(made)),
        Err(error) => {
            if made != 0 {
                // Whatever the handle is (a made-up one fails its release), nothing else will free it.
                let _ = crate::core::shared::access::release(made);
            }
            Err(error)
        }
    }
}

/// What a host callback's return value means; called before its thread's last error is restored,
/// so only a message the callback set is used.
fn host_status(code: i32) -> Result<()> {
    match Status::from_code(code) {
        Some(Status::Ok) => Ok(()),
        Some(status) => Err(host_failure(status)),
        None => Err(not_a_status(code)),
    }
}

#[cold]
fn host_failure(status: Status) -> Error {
    let message = match last_set_message() {
        Some((set, message)) if set == status => message,
        _ => format!("it returned {} without a message (floe_last_error_set gives one)", status.name()),
    };
    Error::new(status, message)
}

#[cold]
fn not_a_status(code: i32) -> Error {
    let set = last_set_message().map(|(status, message)| format!("; it had set {}: {message}", status.name()));
    Error::new(Status::ErrHost, format!("it returned {code}, which is no floe_status{}", set.unwrap_or_default()))
}

/// The failure recorded on this thread since its last error was cleared, if any.
fn last_set_message() -> Option<(Status, String)> {
    let last = LAST_ERROR.try_with(|last| {
        let last = last.borrow();
        (last.0 != Status::Ok).then(|| (last.0, last.1.as_deref().unwrap_or_default().to_string_lossy().into_owned()))
    });
    last.ok().flatten()
}

pub(crate) fn null_argument(name: &str) -> Error {
    Error::new(Status::ErrNull, format!("argument `{name}` is NULL"))
}

/// A host function pointer argument that must not be NULL.
pub(crate) fn required<F>(function: Option<F>, name: &str) -> Result<F> {
    function.ok_or_else(|| null_argument(name))
}

/// A C timeout in milliseconds: negative means none (wait forever).
pub(crate) fn timeout(ms: i64) -> Option<std::time::Duration> {
    u64::try_from(ms).ok().map(std::time::Duration::from_millis)
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string valid for the call.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map_err(|e| Error::new(Status::ErrInvalidArgument, format!("argument `{name}` is not valid UTF-8: {e}")))
}

/// Like [`c_str`], with NULL meaning "absent".
///
/// # Safety
/// As for [`c_str`].
pub(crate) unsafe fn optional_c_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    // SAFETY: forwarded contract.
    (!ptr.is_null()).then(|| unsafe { c_str(ptr, name) }).transpose()
}

/// An out-parameter checked to be non-NULL before the operation runs, written on success.
pub(crate) struct Out<T>(*mut T);

/// Checks an out-parameter.
pub(crate) fn out<T>(ptr: *mut T, name: &str) -> Result<Out<T>> {
    if ptr.is_null() {
        Err(null_argument(name))
    } else {
        Ok(Out(ptr))
    }
}

impl<T> Out<T> {
    /// Writes the result.
    ///
    /// # Safety
    /// The caller of the exported function promised that the pointer is valid for writing a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-null (checked in `out`) and writable (the function's documented contract).
        unsafe { self.0.write(value) }
    }
}

impl Out<c_char> {
    /// Writes bytes to a character buffer.
    ///
    /// # Safety
    /// The buffer is writable for `bytes.len()` bytes.
    pub(crate) unsafe fn write_bytes(self, bytes: &[u8]) {
        // SAFETY: forwarded contract; `u8` and `c_char` have the same layout.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.0.cast::<u8>(), bytes.len()) }
    }
}

/// A `FLOE_TRANSFER_MODE_*` argument. Inlined, its error cold: a stream of jobs from C checks one
/// per `floe_worker_execute`.
#[inline]
fn transfer_mode(code: u32) -> Result<TransferMode> {
    TransferMode::from_code(code).ok_or_else(|| invalid_transfer_mode(code))
}

#[cold]
fn invalid_transfer_mode(code: u32) -> Error {
    Error::new(Status::ErrInvalidArgument, format!("mode {code} is no FLOE_TRANSFER_MODE_*"))
}

/// A handle argument that may be 0 for "null reference".
fn optional_ref(handle: floe_ref) -> Option<u64> {
    (handle != 0).then_some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = boundary("floe_test", || panic!("boom"));
        assert_eq!(status, Status::ErrPanic);
        assert_eq!(last_status(), Status::ErrPanic);
        // SAFETY: the message pointer is valid until the next failure on this thread.
        let message = unsafe { CStr::from_ptr(last_message()) }.to_str().unwrap();
        assert!(message.starts_with("floe_test: floe panicked: boom"), "{message}");
    }

    /// A host destructor running at thread exit (a Swift `deinit`, a C++ thread_local) may fail a
    /// floe call and ask why after floe's own thread state is gone: an answer, not an abort.
    #[test]
    fn last_error_is_readable_after_thread_teardown() {
        struct AtExit(std::sync::mpsc::Sender<(Status, String)>);
        impl Drop for AtExit {
            fn drop(&mut self) {
                let status = boundary("floe_test", || Err(Error::new(Status::ErrNull, "late")));
                // SAFETY: last_message always returns a valid NUL-terminated string.
                let message = unsafe { CStr::from_ptr(last_message()) }.to_string_lossy().into_owned();
                let _ = self.0.send((status, message));
            }
        }
        thread_local! { static GUARD: RefCell<Option<AtExit>> = const { RefCell::new(None) }; }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Registered before LAST_ERROR, so destroyed after it (destructors run in reverse).
            GUARD.with(|guard| *guard.borrow_mut() = Some(AtExit(sender)));
            let _ = boundary("floe_test", || Err(Error::new(Status::ErrFrozen, "early")));
        })
        .join()
        .expect("the thread exits cleanly");
        let (status, message) = receiver.recv().expect("the destructor ran");
        assert_eq!(status, Status::ErrNull);
        assert!(message.contains("exiting"), "{message}");
    }

    #[test]
    fn c_constants_match_the_core() {
        assert_eq!(worker::FLOE_WORKER_MAIN, crate::core::exec::worker::MAIN_WORKER);
        assert_eq!(types::FLOE_TYPE_LIST, crate::core::heap::types::LIST_TYPE);
    }

    #[test]
    fn null_arguments_are_reported_by_name() {
        // SAFETY: NULL is an allowed input.
        let error = unsafe { c_str(std::ptr::null(), "label") }.unwrap_err();
        assert_eq!(error.status(), Status::ErrNull);
        assert!(error.message().contains("`label`"));
        assert!(out::<u64>(std::ptr::null_mut(), "out_len").is_err());
    }
}
