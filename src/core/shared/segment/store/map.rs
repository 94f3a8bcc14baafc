//! The segment's file and its mapping: names and where they live, creation and opening with the
//! owner and mode checks, and raw access to the mapped bytes.
//!
//! The mapping is `MAP_SHARED` of the whole file, never resized. No Rust reference to its bytes is
//! handed out: words that processes share are reached as atomics (`AtomicU64::from_ptr` on
//! aligned words that every process only touches atomically), other bytes are copied in and out
//! through raw pointers. Every offset is checked against the mapping's length in integers before a
//! pointer is formed.

use crate::core::base::error::{Error, Result, Status};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Where a segment's file lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// POSIX shared memory, as `/floe.<name>` (on Linux, a file in `/dev/shm`).
    SharedMemory,
    /// A file `floe.<name>` in this directory (its owner should be the only one who can enter it).
    Directory(PathBuf),
}

/// The longest name: `/floe.` + name within Linux's NAME_MAX (255); macOS's shm names are
/// limited to 31 bytes, so there the shm name is at most 25 bytes.
#[cfg(target_os = "linux")]
const NAME_MAX: usize = 200;
#[cfg(not(target_os = "linux"))]
const NAME_MAX: usize = 25;

/// Checks a segment name: 1 to `NAME_MAX` bytes of ASCII letters, digits, `.`, `_`, `-`, not
/// starting with `.`.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > NAME_MAX || name.starts_with('.') || !name.chars().all(allowed) {
        return Err(Error::new(
            Status::ErrInvalidArgument,
            format!(
                "segment name {name:?} is not allowed: use 1 to {NAME_MAX} ASCII letters, digits, '.', '_' or '-', not starting with '.'"
            ),
        ));
    }
    Ok(())
}

/// The segment's file as messages show it (`/floe.prices`, `/run/app/floe.prices`) and as the
/// system call takes it.
pub(crate) fn path_of(name: &str, location: &Location) -> Result<(String, CString)> {
    validate_name(name)?;
    let shown = match location {
        Location::SharedMemory => format!("/floe.{name}"),
        Location::Directory(dir) => dir.join(format!("floe.{name}")).to_string_lossy().into_owned(),
    };
    let c = CString::new(shown.clone())
        .map_err(|_| Error::new(Status::ErrInvalidArgument, format!("segment path {shown:?} contains a NUL byte")))?;
    Ok((shown, c))
}

/// `ErrSystem` naming the call, the path and the system's reason for the current `errno`.
pub(crate) fn system_error(call: &str, path: &str) -> Error {
    let err = std::io::Error::last_os_error();
    Error::new(Status::ErrSystem, format!("{call} {path}: {err}"))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Creates the file exclusively, mode 0600 whatever the umask.
pub(crate) fn create_file(shown: &str, path: &CString, location: &Location) -> Result<OwnedFd> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        match location {
            Location::SharedMemory => libc::shm_open(path.as_ptr(), flags, 0o600 as libc::mode_t),
            Location::Directory(_) => libc::open(path.as_ptr(), flags | libc::O_NOFOLLOW, 0o600 as libc::c_uint),
        }
    };
    if fd < 0 {
        if errno() == libc::EEXIST {
            return Err(Error::new(Status::ErrExists, format!("segment {shown} already exists")));
        }
        return Err(system_error(if *location == Location::SharedMemory { "shm_open" } else { "open" }, shown));
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a plain system call on an open descriptor.
    if unsafe { libc::fchmod(fd.as_raw_fd(), 0o600) } != 0 {
        let e = system_error("fchmod", shown);
        let _ = remove_file(shown, path, location);
        return Err(e);
    }
    Ok(fd)
}

/// Opens an existing file read-write.
pub(crate) fn open_file(shown: &str, path: &CString, location: &Location) -> Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_CLOEXEC;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        match location {
            Location::SharedMemory => libc::shm_open(path.as_ptr(), flags, 0),
            Location::Directory(_) => libc::open(path.as_ptr(), flags | libc::O_NOFOLLOW),
        }
    };
    if fd < 0 {
        return Err(match errno() {
            libc::ENOENT => Error::new(Status::ErrNotFound, format!("no segment {shown}")),
            libc::EACCES => Error::new(
                Status::ErrPermission,
                format!(
                    "segment {shown} cannot be opened for reading and writing: {}",
                    std::io::Error::last_os_error()
                ),
            ),
            _ => system_error(if *location == Location::SharedMemory { "shm_open" } else { "open" }, shown),
        });
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Removes the name; processes that have the segment open keep using it.
pub(crate) fn remove_file(shown: &str, path: &CString, location: &Location) -> Result<()> {
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let rc = unsafe {
        match location {
            Location::SharedMemory => libc::shm_unlink(path.as_ptr()),
            Location::Directory(_) => libc::unlink(path.as_ptr()),
        }
    };
    if rc != 0 {
        if errno() == libc::ENOENT {
            return Err(Error::new(Status::ErrNotFound, format!("no segment {shown}")));
        }
        return Err(system_error(if *location == Location::SharedMemory { "shm_unlink" } else { "unlink" }, shown));
    }
    Ok(())
}

/// The checks on the open file before any byte is read: a regular file, owned by this process's
/// effective uid, with no permission bits for group or others. Returns its length.
pub(crate) fn check_file(fd: &OwnedFd, shown: &str) -> Result<u64> {
    // SAFETY: `stat` is plain data; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: an open descriptor and a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(system_error("fstat", shown));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Error::new(Status::ErrIncompatible, format!("segment {shown} is not a regular file")));
    }
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if st.st_uid != me {
        return Err(Error::new(
            Status::ErrPermission,
            format!("segment {shown} is owned by uid {}, not {me}", st.st_uid),
        ));
    }
    let mode = st.st_mode as u32 & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            Status::ErrPermission,
            format!("segment {shown} has mode {mode:04o}: group and others must have no access (0600)"),
        ));
    }
    Ok(st.st_size as u64)
}

/// Sets the file's length once, at creation.
pub(crate) fn set_len(fd: &OwnedFd, len: u64, shown: &str) -> Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| Error::new(Status::ErrInvalidArgument, format!("segment size {len} is too large")))?;
    // SAFETY: a plain system call on an open descriptor.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(system_error("ftruncate", shown));
    }
    Ok(())
}

/// Copies `buf.len()` bytes at `offset` of the file (the header, before the file is mapped).
pub(crate) fn read_at(fd: &OwnedFd, offset: u64, buf: &mut [u8], shown: &str) -> Result<()> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset as libc::off_t) };
    if n < 0 {
        return Err(system_error("pread", shown));
    }
    if n as usize != buf.len() {
        return Err(Error::new(
            Status::ErrCorrupt,
            format!("segment {shown} ended at byte {} while reading its header", offset + n as u64),
        ));
    }
    Ok(())
}

/// The system's page size.
pub(crate) fn system_page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n <= 0 {
        4096
    } else {
        n as u32
    }
}

/// A shared mapping of a whole segment file; unmapped on drop.
pub(crate) struct Mapping {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is memory like any other; every access to it goes through atomics or raw
// copies whose races the protocols account for, never through references to non-atomic data.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    pub(crate) fn map(fd: &OwnedFd, len: u64, shown: &str) -> Result<Mapping> {
        let len = usize::try_from(len)
            .map_err(|_| Error::new(Status::ErrInvalidArgument, format!("segment {shown} is too large to map")))?;
        // SAFETY: a fresh mapping of an open file; the kernel picks the address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(system_error("mmap", shown));
        }
        Ok(Mapping { base: base.cast(), len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The mapping's first byte (for `mapped`, which finds segments by address).
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }

    /// The address of `offset`, checked in integers to leave room for `size` bytes.
    fn at(&self, offset: u64, size: usize) -> *mut u8 {
        let end = offset.checked_add(size as u64);
        assert!(end.is_some_and(|end| end <= self.len as u64), "segment access {offset}+{size} beyond {}", self.len);
        // SAFETY: `offset + size <= len`, inside the mapping.
        unsafe { self.base.add(offset as usize) }
    }

    pub(crate) fn u64_at(&self, offset: u64) -> &AtomicU64 {
        assert!(offset % 8 == 0, "unaligned shared word at {offset}");
        // SAFETY: in bounds and 8-aligned (the mapping is page-aligned); the word lives as long
        // as the mapping, and every process touches it only atomically.
        unsafe { AtomicU64::from_ptr(self.at(offset, 8).cast()) }
    }

    pub(crate) fn u32_at(&self, offset: u64) -> &AtomicU32 {
        assert!(offset % 4 == 0, "unaligned shared word at {offset}");
        // SAFETY: as for `u64_at`, with 4 bytes.
        unsafe { AtomicU32::from_ptr(self.at(offset, 4).cast()) }
    }

    pub(crate) fn i32_at(&self, offset: u64) -> &AtomicI32 {
        assert!(offset % 4 == 0, "unaligned shared word at {offset}");
        // SAFETY: as for `u64_at`, with 4 bytes.
        unsafe { AtomicI32::from_ptr(self.at(offset, 4).cast()) }
    }

    /// Copies bytes out (headers, records, slot names: a few dozen bytes). Another process — or
    /// another thread of this one — may be writing them, so each byte is a relaxed atomic load;
    /// the copy is checked, never trusted.
    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) {
        let src = self.at(offset, out.len());
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: `src` is valid for `out.len()` bytes of the mapping; an `AtomicU8` has a
            // byte's size and alignment, and this process reaches these bytes only atomically.
            *byte = unsafe { AtomicU8::from_ptr(src.add(i)) }.load(Ordering::Relaxed);
        }
    }

    /// Copies bytes in (the header, records, slot names), each a relaxed atomic store, as `read`
    /// loads them.
    pub(crate) fn write(&self, offset: u64, bytes: &[u8]) {
        let dst = self.at(offset, bytes.len());
        for (i, byte) in bytes.iter().enumerate() {
            // SAFETY: `dst` is valid for `bytes.len()` bytes and writable while the page is; as in
            // `read`.
            unsafe { AtomicU8::from_ptr(dst.add(i)) }.store(*byte, Ordering::Relaxed);
        }
    }

    /// A raw pointer to `len` bytes at `offset`, for the block's writer and readers.
    pub(crate) fn ptr(&self, offset: u64, len: usize) -> *mut u8 {
        self.at(offset, len)
    }

    /// Makes `[offset, offset + len)` (page-aligned) writable or read-only.
    pub(crate) fn protect(&self, offset: u64, len: usize, writable: bool, shown: &str) -> Result<()> {
        let p = self.at(offset, len);
        let prot = if writable { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
        // SAFETY: a page-aligned range inside this mapping.
        if unsafe { libc::mprotect(p.cast(), len, prot) } != 0 {
            return Err(system_error("mprotect", shown));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Unmapped, except for a registered segment's slot section, which stays reserved (see
        // `mapped`); nothing uses the mapping after its drop.
        super::mapped::unmap(self.base, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["prices", "a", "a.b-c_d", "X9"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "é", &"x".repeat(NAME_MAX + 1)] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.status(), Status::ErrInvalidArgument);
            assert!(e.message().contains("ASCII letters"), "{e}");
        }
    }
}
