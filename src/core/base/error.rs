//! Statuses and errors.
//!
//! `Status` is the one list of outcomes, shared by the Rust API and the C ABI (where it is
//! `floe_status`, constants `FLOE_OK`, `FLOE_ERR_*`). Numbers are stable and never reused; a retired
//! status keeps its number in a comment.

use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::OnceLock;

/// The outcome of a floe operation. `FLOE_OK` is zero; every error is positive.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer argument, or the handle, was NULL / zero.
    ErrNull = 1,
    /// The handle was never issued by this runtime (garbage, or from another process).
    ErrInvalidHandle = 2,
    /// The handle was released; using it again is a use-after-release.
    ErrReleasedHandle = 3,
    /// The handle was already released; this is the second release.
    ErrDoubleRelease = 4,
    /// The object is mutable and owned by another thread (Kotlin's IncorrectDereferenceException).
    ErrWrongThread = 5,
    /// The object is frozen and cannot be changed (Kotlin's InvalidMutabilityException).
    ErrFrozen = 6,
    /// A freeze reached an object marked never-frozen; nothing was frozen.
    ErrFreezeBlocked = 7,
    /// The value's kind does not match the field's kind.
    ErrWrongKind = 8,
    /// A field or element index is out of range.
    ErrOutOfRange = 9,
    /// An argument is malformed (bad UTF-8, empty or duplicate name, unknown kind).
    ErrInvalidArgument = 10,
    /// The caller's buffer is too small; the message says how many bytes are needed.
    ErrBufferTooSmall = 11,
    /// The runtime was already initialised, by another thread that is now the main thread.
    ErrAlreadyInitialized = 12,
    /// The type has no field with that name.
    ErrUnknownField = 13,
    /// The type id was never returned by `floe_type_define`.
    ErrUnknownType = 14,
    /// A runtime limit was reached (objects, handles, types).
    ErrLimit = 15,
    /// The operation is a list operation and the object is not a list.
    ErrNotAList = 16,
    /// A SAFE transfer found references into the graph from outside it; nothing moved.
    ErrNotTransferable = 17,
    /// The job was cancelled: its worker terminated without processing it.
    ErrCancelled = 18,
    /// The future's result was already taken (each result is consumed once).
    ErrConsumed = 19,
    /// The wait timed out before the job finished.
    ErrTimeout = 20,
    /// No worker has that id.
    ErrUnknownWorker = 21,
    /// The worker was asked to terminate and takes no new jobs.
    ErrWorkerTerminated = 22,
    /// The detached graph was already attached (each is attached once).
    ErrAlreadyAttached = 23,
    /// The detached graph was disposed.
    ErrDisposed = 24,
    /// The value must be frozen (an AtomicReference's value, a delayed job's input).
    ErrNotFrozen = 25,
    /// A global's initialiser needs, directly or not, the global itself; the message names the cycle.
    ErrCyclicInit = 26,
    /// A host callback (job, producer, initialiser) failed for a reason of its own, not a floe
    /// status; the message is the host's (see `floe_last_error_set`).
    ErrHost = 27,
    /// The wait could never end: the job waits in the calling thread's own queue (a worker's, or
    /// the main queue on the main thread), which runs nothing while its thread waits.
    ErrWouldDeadlock = 28,
    /// Bytes floe reads from a segment or a version block are not what floe writes there (a bad
    /// checksum, an offset or index out of bounds, an impossible value); the message says which.
    ErrCorrupt = 29,
    /// A type in a segment or version block has the name of one of this process's types but other
    /// fields; the message names the type and the first field that differs.
    ErrTypeMismatch = 30,
    /// The segment belongs to another user or can be opened by other users than its owner; the
    /// message names the owner and the mode.
    ErrPermission = 31,
    /// The file is not a floe segment of a format this floe reads (another magic, a later format
    /// version); the message says what was found.
    ErrIncompatible = 32,
    /// A segment with that name already exists.
    ErrExists = 33,
    /// No segment has that name.
    ErrNotFound = 34,
    /// A system call failed; the message names the call, the path and the system's reason.
    ErrSystem = 35,
    /// floe panicked; the message holds the panic text. Nothing unwound into the caller.
    ErrPanic = 100,
}

impl Status {
    const ALL: [Status; 37] = [
        Status::Ok,
        Status::ErrNull,
        Status::ErrInvalidHandle,
        Status::ErrReleasedHandle,
        Status::ErrDoubleRelease,
        Status::ErrWrongThread,
        Status::ErrFrozen,
        Status::ErrFreezeBlocked,
        Status::ErrWrongKind,
        Status::ErrOutOfRange,
        Status::ErrInvalidArgument,
        Status::ErrBufferTooSmall,
        Status::ErrAlreadyInitialized,
        Status::ErrUnknownField,
        Status::ErrUnknownType,
        Status::ErrLimit,
        Status::ErrNotAList,
        Status::ErrNotTransferable,
        Status::ErrCancelled,
        Status::ErrConsumed,
        Status::ErrTimeout,
        Status::ErrUnknownWorker,
        Status::ErrWorkerTerminated,
        Status::ErrAlreadyAttached,
        Status::ErrDisposed,
        Status::ErrNotFrozen,
        Status::ErrCyclicInit,
        Status::ErrHost,
        Status::ErrWouldDeadlock,
        Status::ErrCorrupt,
        Status::ErrTypeMismatch,
        Status::ErrPermission,
        Status::ErrIncompatible,
        Status::ErrExists,
        Status::ErrNotFound,
        Status::ErrSystem,
        Status::ErrPanic,
    ];

    /// The status numbered `code`, if there is one.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| *s as i32 == code)
    }

    /// The constant's name as the C header spells it: `ErrWrongThread` is `FLOE_ERR_WRONG_THREAD`.
    pub fn c_name(self) -> &'static CStr {
        static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
        let names = NAMES.get_or_init(|| {
            Status::ALL.iter().map(|s| CString::new(screaming_name(&format!("{s:?}"))).expect("no NUL")).collect()
        });
        let position = Status::ALL.iter().position(|s| *s == self).expect("ALL lists every status");
        &names[position]
    }

    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII")
    }
}

/// `ErrWrongThread` → `FLOE_ERR_WRONG_THREAD`.
fn screaming_name(variant: &str) -> String {
    let mut name = String::from("FLOE");
    for c in variant.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// A failed operation: its status and a message naming the operation, the object, its owner and the
/// calling thread. One pointer wide, so that a `Result` on a hot path (a future, a handle, a value)
/// is moved in registers rather than through memory.
///
/// ```
/// use floe::{Object, Status};
/// let list = Object::new_list()?;
/// let error = list.get_int(3).unwrap_err();
/// assert_eq!(error.status(), Status::ErrOutOfRange);
/// println!("{error}"); // the status's name, then what was wrong, with which object
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Failure>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    status: Status,
    message: String,
}

impl Error {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Error {
        Error(Box::new(Failure { status, message: message.into() }))
    }

    /// The same error with `what` said first: `the target handle: handle 0x… was released`.
    pub(crate) fn context(self, what: &str) -> Error {
        Error::new(self.status(), format!("{what}: {}", self.message()))
    }

    /// The error for a caught panic: `ErrPanic` with the panic's text.
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Error {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Error::new(Status::ErrPanic, format!("panicked: {text}"))
    }

    /// An error of the host's own, `ErrHost`: what a job, an initialiser or a callback returns for a
    /// failure that is not floe's. Its future (or global) keeps the message.
    pub fn host(message: impl Into<String>) -> Error {
        Error::new(Status::ErrHost, message)
    }

    /// The status, never `Status::Ok`.
    pub fn status(&self) -> Status {
        self.0.status
    }

    /// The readable message.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status().name(), self.message())
    }
}

impl std::error::Error for Error {}

/// Result of a floe operation.
pub type Result<T> = std::result::Result<T, Error>;
