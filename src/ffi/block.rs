//! `floe_block_*`: a frozen graph as a version block — the self-contained bytes a segment slot
//! holds — for files and networks.

use super::{floe_ref, out, returning};
use crate::core::base::error::{Error, Result, Status};
use crate::core::heap::handle;
use crate::core::shared::segment::block::{encode, plan, BlockView};

/// Writes to `*out_len` the size in bytes of the version block of the frozen graph of `root`: the
/// buffer `floe_block_encode` needs. `FLOE_ERR_NOT_FROZEN` names a mutable object. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_block_size(root: floe_ref, out_len: *mut usize) -> Status {
    let body = || plan(handle::resolve(root)?).map(|planned| planned.len());
    // SAFETY: documented contract: `out_len` is NULL or writable.
    unsafe { returning("floe_block_size", out_len, "out_len", body) }
}

/// Writes the version block of the frozen graph of `root` into `buf` (`buf_len` bytes) and its
/// length to `*out_len`: position-independent, little-endian bytes that carry their types, with
/// cycles and shared objects as they are — the bytes a segment slot holds. A buffer smaller than
/// `floe_block_size` says is `FLOE_ERR_BUFFER_TOO_SMALL` (nothing written). The caller keeps
/// `root`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_block_encode(
    root: floe_ref,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let body = || {
        let target = out(buf.cast::<std::ffi::c_char>(), "buf")?;
        let bytes = encode(handle::resolve(root)?, 0, 0)?;
        if bytes.len() > buf_len {
            return Err(Error::new(
                Status::ErrBufferTooSmall,
                format!("the version block needs {} bytes; the buffer has {buf_len}", bytes.len()),
            ));
        }
        // SAFETY: documented contract: `buf` is writable for `buf_len >= bytes.len()` bytes.
        unsafe { target.write_bytes(&bytes) };
        Ok(bytes.len())
    };
    // SAFETY: documented contract: `out_len` is NULL or writable.
    unsafe { returning("floe_block_encode", out_len, "out_len", body) }
}

/// Checks every byte of the `len` bytes at `bytes` as a version block (O(N): checksums, types,
/// objects, values, strings) and copies its graph into this process's heap, frozen: a handle to
/// its root goes to `*out_root`, the caller's. The first problem is `FLOE_ERR_CORRUPT`, naming
/// it; types are matched by name and fields (`FLOE_ERR_TYPE_MISMATCH`). The bytes are the
/// caller's and must not change during the call. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_block_decode(bytes: *const u8, len: usize, out_root: *mut floe_ref) -> Status {
    let body = || -> Result<u64> {
        if bytes.is_null() {
            return Err(super::null_argument("bytes"));
        }
        if len == 0 {
            return Err(Error::new(Status::ErrCorrupt, "the version block is empty"));
        }
        // SAFETY: documented contract: `bytes` is readable for `len` bytes, unchanged during the
        // call.
        let view = unsafe { BlockView::open(bytes, len, None) }?;
        view.verify()?;
        view.import()
    };
    // SAFETY: documented contract: `out_root` is NULL or writable.
    unsafe { returning("floe_block_decode", out_root, "out_root", body) }
}
