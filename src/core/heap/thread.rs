//! Thread identity: tokens, readable names and the runtime's main thread.
//!
//! Invariants:
//! - Every thread that touches floe gets a token, a `u32` in `1..=MAX_TOKEN`, handed out once and never
//!   reused, so an owner recorded in an object can never be mistaken for a later thread.
//! - The token is cached in a const-initialised thread local: the ownership check on the hot path is
//!   one thread-local read and one compare.
//! - The main thread is the thread that initialised the runtime: the first caller of
//!   [`crate::Runtime::init`], or else the first thread to make any floe call.
//! - Names are fixed when a thread first meets floe: the Rust thread name, else the OS name when it
//!   differs from the process name (what a never-named pthread inherits), else `thread-<n>`.
//! - When a thread ends, its token is recorded as exited, last among floe's thread-locals. Its
//!   mutable objects are then orphans: nobody may use them, and any thread may drop references to
//!   them (nobody else can reach their values). A host destructor running on the thread after that
//!   gets a fresh token, so it follows the same rules.
//! - The main thread's exit, first of all, calls the hook `exec` registered (`on_main_exit`), which
//!   closes the main queue: no later thread becomes main.

use parking_lot::RwLock;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::core::heap::header::MAX_TOKEN;

static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);
static MAIN_TOKEN: AtomicU32 = AtomicU32::new(0);
static NAMES: OnceLock<RwLock<HashMap<u32, Arc<str>>>> = OnceLock::new();
static EXITED: OnceLock<RwLock<HashSet<u32>>> = OnceLock::new();
/// Whether any thread has exited yet: until then `has_exited` reads no lock.
static ANY_EXITED: AtomicBool = AtomicBool::new(false);
/// Set as the main thread exits, before `MAIN_EXIT_HOOK` is looked for.
static MAIN_EXITED: AtomicBool = AtomicBool::new(false);
/// What the main thread's exit calls, before the thread is recorded as exited: `exec`'s closing of
/// the main queue (a seam: this layer does not import `exec`).
static MAIN_EXIT_HOOK: OnceLock<fn()> = OnceLock::new();

thread_local! {
    static TOKEN: Cell<u32> = const { Cell::new(0) };
    static EXIT_MARK: ExitMark = const { ExitMark };
}

fn names() -> &'static RwLock<HashMap<u32, Arc<str>>> {
    NAMES.get_or_init(|| RwLock::new(HashMap::new()))
}

/// The calling thread's token if it has one: a path that must not register (and so call out) can
/// send an unregistered thread, which owns nothing, the long way.
#[inline(always)]
pub(crate) fn known() -> Option<u32> {
    Some(TOKEN.with(Cell::get)).filter(|&token| token != 0)
}

/// The calling thread's token, registering the thread on its first call.
#[inline]
pub fn current() -> u32 {
    known().unwrap_or_else(register)
}

#[cold]
fn register() -> u32 {
    let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    assert!(token <= MAX_TOKEN, "floe: more than {MAX_TOKEN} threads have used the runtime");
    // The first registered thread becomes main unless the runtime was initialised explicitly.
    let _ = MAIN_TOKEN.compare_exchange(0, token, Ordering::AcqRel, Ordering::Acquire);
    let name: Arc<str> = if MAIN_TOKEN.load(Ordering::Acquire) == token {
        Arc::from("main")
    } else {
        host_name().map_or_else(|| Arc::from(format!("thread-{token}")), Arc::from)
    };
    names().write().insert(token, name);
    TOKEN.with(|cell| cell.set(token));
    // A thread registering during its own teardown has no exit mark left to register.
    let _ = EXIT_MARK.try_with(|_| ());
    token
}

fn exited() -> &'static RwLock<HashSet<u32>> {
    EXITED.get_or_init(|| RwLock::new(HashSet::new()))
}

/// Whether the thread of `token` has exited, leaving its mutable objects orphans.
pub(crate) fn has_exited(token: u32) -> bool {
    ANY_EXITED.load(Ordering::Acquire) && exited().read().contains(&token)
}

/// When a thread ends: drops the references other threads parked for it, collects the garbage
/// cycles its last releases left (those that came after its candidate list was torn down), records
/// it as exited (its objects become orphans, and no reference is parked for it any more),
/// renames it "name (exited)" for messages about them, and drops any reference parked for it
/// since its first drain.
struct ExitMark;

impl Drop for ExitMark {
    fn drop(&mut self) {
        let token = TOKEN.try_with(Cell::get).unwrap_or(0);
        if token != 0 && token == MAIN_TOKEN.load(Ordering::Acquire) {
            // Paired with `on_main_exit`: either this finds the hook, or its caller finds the flag.
            MAIN_EXITED.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if let Some(hook) = MAIN_EXIT_HOOK.get() {
                hook();
            }
        }
        crate::core::heap::foreign::drain();
        crate::core::heap::cycles::collect_left_behind();
        crate::core::heap::foreign::while_parking_stopped(|| {
            exited().write().insert(token);
            ANY_EXITED.store(true, Ordering::Release);
        });
        if let Some(name) = names().write().get_mut(&token) {
            *name = Arc::from(format!("{name} (exited)"));
        }
        // Later floe calls on this thread (a host's thread-local destructor) come from a new token.
        let _ = TOKEN.try_with(|cell| cell.set(0));
        crate::core::heap::foreign::drain();
    }
}

/// The name a host gave the calling thread, if any.
fn host_name() -> Option<String> {
    if let Some(name) = std::thread::current().name() {
        if name != "main" {
            return Some(name.to_owned());
        }
    }
    let os = os_thread_name()?;
    let process = std::fs::read_to_string("/proc/self/comm").ok()?;
    (os != process.trim_end()).then_some(os)
}

#[cfg(target_os = "linux")]
fn os_thread_name() -> Option<String> {
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: `buf` is a writable buffer of the length passed; glibc NUL-terminates on success.
    let rc = unsafe { libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated string within its bounds.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(not(target_os = "linux"))]
fn os_thread_name() -> Option<String> {
    None
}

/// Makes the calling thread the main thread. Fails with the main thread's name when another thread
/// already holds that role.
pub fn claim_main() -> Result<(), Arc<str>> {
    let me = current();
    let main = MAIN_TOKEN.load(Ordering::Acquire);
    if main == me {
        Ok(())
    } else {
        Err(name_of(main))
    }
}

/// `claim_main`, failing with `ErrAlreadyInitialized` and a message naming the main thread.
pub(crate) fn init_main() -> crate::core::base::error::Result<()> {
    use crate::core::base::error::{Error, Status};
    claim_main().map_err(|main| {
        let me = current_name();
        let message = format!(
            "cannot make thread {me} the main thread: the runtime was initialised by thread {main}, which is main"
        );
        Error::new(Status::ErrAlreadyInitialized, message)
    })
}

/// Registers what the main thread's exit calls (one hook; a later one is ignored). The caller then
/// checks `main_has_exited`: an exit that came first did not find the hook.
pub(crate) fn on_main_exit(hook: fn()) {
    let _ = MAIN_EXIT_HOOK.set(hook);
    // The hook's store is no SeqCst access: the fences order it with the flag, both sides.
    fence(Ordering::SeqCst);
}

/// Whether the main thread has exited (or is exiting): it can no longer drain the main queue.
pub(crate) fn main_has_exited() -> bool {
    MAIN_EXITED.load(Ordering::SeqCst)
}

/// The main thread's token (0 before any thread has used floe).
pub fn main_token() -> u32 {
    MAIN_TOKEN.load(Ordering::Acquire)
}

/// Whether the calling thread is the runtime's main thread.
pub fn is_main() -> bool {
    current() == MAIN_TOKEN.load(Ordering::Acquire)
}

/// The readable name of a thread token.
pub fn name_of(token: u32) -> Arc<str> {
    names().read().get(&token).cloned().unwrap_or_else(|| Arc::from(format!("thread-{token}")))
}

/// The calling thread's readable name.
pub fn current_name() -> Arc<str> {
    name_of(current())
}
