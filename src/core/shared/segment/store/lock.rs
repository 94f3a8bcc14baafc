//! The kernel objects that make the protocols crash-safe: byte locks that die with their holder,
//! a futex shared between processes, and a process's identity.
//!
//! Locks are open-file-description locks (`F_OFD_SETLK`, `F_OFD_SETLKW`, `F_OFD_GETLK`) on one
//! byte each: the writer's byte and one byte per reader entry. The kernel releases them when the
//! last descriptor of the open file description closes, which a process's death does; unlike
//! classic `fcntl` locks they do not vanish when some other descriptor of the same file is closed,
//! and they conflict between two opens in one process. A `fork` child shares the parent's
//! description (and so its locks): a child that wants the segment opens it again.
//!
//! Not Linux: macOS has no OFD locks; there classic process-owned `fcntl` locks stand in (two
//! opens of one segment in one process then share their locks, and closing either drops both),
//! the futex is replaced by polling with backoff, and start times are 0. Only Linux is tested.

use crate::core::base::error::Result;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::map::system_error;

#[cfg(target_os = "linux")]
const SET: libc::c_int = libc::F_OFD_SETLK;
#[cfg(target_os = "linux")]
const SET_WAIT: libc::c_int = libc::F_OFD_SETLKW;
#[cfg(target_os = "linux")]
const GET: libc::c_int = libc::F_OFD_GETLK;
#[cfg(not(target_os = "linux"))]
const SET: libc::c_int = libc::F_SETLK;
#[cfg(not(target_os = "linux"))]
const SET_WAIT: libc::c_int = libc::F_SETLKW;
#[cfg(not(target_os = "linux"))]
const GET: libc::c_int = libc::F_GETLK;

fn flock(kind: libc::c_int, offset: u64) -> libc::flock {
    // SAFETY: `flock` is plain data; zero is a valid start (and l_pid must be 0 for OFD locks).
    let mut f: libc::flock = unsafe { std::mem::zeroed() };
    f.l_type = kind as _;
    f.l_whence = libc::SEEK_SET as _;
    f.l_start = offset as libc::off_t;
    f.l_len = 1;
    f
}

fn fcntl_lock(fd: &OwnedFd, cmd: libc::c_int, f: &mut libc::flock) -> libc::c_int {
    // SAFETY: an open descriptor and a valid `flock`.
    unsafe { libc::fcntl(fd.as_raw_fd(), cmd, f as *mut libc::flock) }
}

/// Takes the write lock on the byte at `offset`, waiting for its holder to release it or die.
pub(crate) fn lock_wait(fd: &OwnedFd, offset: u64, shown: &str) -> Result<()> {
    loop {
        let mut f = flock(libc::F_WRLCK, offset);
        if fcntl_lock(fd, SET_WAIT, &mut f) == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(system_error("fcntl(F_OFD_SETLKW)", shown));
        }
    }
}

/// Takes the write lock on the byte at `offset` if nobody holds it; `false` if someone does.
pub(crate) fn try_lock(fd: &OwnedFd, offset: u64, shown: &str) -> Result<bool> {
    let mut f = flock(libc::F_WRLCK, offset);
    if fcntl_lock(fd, SET, &mut f) == 0 {
        return Ok(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(system_error("fcntl(F_OFD_SETLK)", shown)),
    }
}

pub(crate) fn unlock(fd: &OwnedFd, offset: u64) {
    let mut f = flock(libc::F_UNLCK, offset);
    // Unlocking a byte this description holds cannot fail.
    fcntl_lock(fd, SET, &mut f);
}

/// Whether another open file description holds a lock on the byte at `offset` (one's own locks
/// never conflict with oneself, so ask only about others' bytes).
pub(crate) fn is_locked(fd: &OwnedFd, offset: u64, shown: &str) -> Result<bool> {
    let mut f = flock(libc::F_WRLCK, offset);
    if fcntl_lock(fd, GET, &mut f) != 0 {
        return Err(system_error("fcntl(F_OFD_GETLK)", shown));
    }
    Ok(f.l_type as libc::c_int != libc::F_UNLCK)
}

/// Sleeps while `*word == expected`, at most `timeout`; returns on a wake, a change, a signal or
/// the timeout (the caller rechecks). Shared between processes: never `FUTEX_PRIVATE_FLAG`.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: `word` is a valid aligned u32 in shared memory; FUTEX_WAIT only reads it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, &ts as *const libc::timespec);
    }
}

/// Wakes every process sleeping on `word`.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid aligned u32; FUTEX_WAKE does not touch memory.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// Sleeps until one of `words` (each with its expected value) is woken or differs, at most
/// `timeout`, with `futex_waitv` (Linux 5.16 and later; 32-bit futexes shared between processes,
/// never the private flag). Returns `false` when the kernel lacks `futex_waitv`: the caller then
/// polls. At most 128 words.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wait_any(words: &[(&AtomicU32, u32)], timeout: Duration) -> bool {
    #[repr(C)]
    struct FutexWaitv {
        val: u64,
        uaddr: u64,
        flags: u32,
        reserved: u32,
    }
    const FUTEX2_SIZE_U32: u32 = 0x02;
    const SYS_FUTEX_WAITV: libc::c_long = 449;
    let waiters: Vec<FutexWaitv> = words
        .iter()
        .map(|(word, expected)| FutexWaitv {
            val: u64::from(*expected),
            uaddr: word.as_ptr().addr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        })
        .collect();
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes the current time into `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_nsec as u64 + u64::from(timeout.subsec_nanos());
    let deadline = libc::timespec {
        tv_sec: (now.tv_sec as u64)
            .saturating_add(timeout.as_secs())
            .saturating_add(nanos / 1_000_000_000)
            .min(i64::MAX as u64 / 2) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as _,
    };
    // SAFETY: `waiters` holds `words.len()` entries naming valid aligned u32s in shared memory,
    // which the call only reads; `deadline` is a valid absolute CLOCK_MONOTONIC time.
    let result = unsafe {
        libc::syscall(
            SYS_FUTEX_WAITV,
            waiters.as_ptr(),
            waiters.len() as libc::c_uint,
            0 as libc::c_uint,
            &deadline as *const libc::timespec,
            libc::CLOCK_MONOTONIC,
        )
    };
    !(result == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait_any(_words: &[(&AtomicU32, u32)], _timeout: Duration) -> bool {
    false
}

/// Elsewhere: a short sleep stands in for the futex (the caller polls with backoff).
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait(_word: &AtomicU32, _expected: u32, timeout: Duration) {
    std::thread::sleep(timeout.min(Duration::from_millis(1)));
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wake_all(_word: &AtomicU32) {}

/// This process's start time in clock ticks since boot (`/proc/self/stat` field 22), 0 if unknown.
pub(crate) fn process_start_time() -> u64 {
    #[cfg(target_os = "linux")]
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Field 2 (the command) is in parentheses and may hold spaces: count after its last ')'.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            // `rest` starts with field 3; field 22 is the 20th after it.
            if let Some(Ok(t)) = rest.split_whitespace().nth(19).map(str::parse) {
                return t;
            }
        }
    }
    0
}

/// A random 64-bit number, for owner nonces and the segment's creation nonce.
pub(crate) fn random_u64() -> u64 {
    let mut x = 0u64;
    #[cfg(target_os = "linux")]
    // SAFETY: writes at most 8 bytes into `x`.
    unsafe {
        libc::getrandom((&mut x as *mut u64).cast(), 8, 0);
    }
    if x == 0 {
        // No getrandom: time, pid and an address are different enough for a nonce.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        x = t ^ ((std::process::id() as u64) << 40) ^ (&x as *const u64 as u64).rotate_left(17) | 1;
    }
    x
}

/// This process's id, without a system call after the first: kept in `PID`, which a `fork`
/// child's handler (registered with the first call) resets, so that the child asks again.
pub(crate) fn pid() -> u32 {
    let known = PID.load(std::sync::atomic::Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    pid_slow()
}

static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cold]
fn pid_slow() -> u32 {
    static FORGET_IN_CHILD: std::sync::Once = std::sync::Once::new();
    FORGET_IN_CHILD.call_once(|| {
        extern "C" fn forget() {
            PID.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: registers a handler that only stores to an atomic (async-signal-safe), once.
        // Should registration fail, `PID` stays 0 and every call asks the kernel.
        if unsafe { libc::pthread_atfork(None, None, Some(forget)) } != 0 {
            return;
        }
        PID.store(std::process::id(), std::sync::atomic::Ordering::Relaxed);
    });
    let known = PID.load(std::sync::atomic::Ordering::Relaxed);
    if known != 0 {
        known
    } else {
        std::process::id()
    }
}
