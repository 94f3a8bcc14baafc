//! Buffers a thread keeps from one graph walk to the next (freeze's, transfer's): sized by the
//! largest graph the thread walked, so that a walk over a large graph does not fault megabytes in
//! and give them back each time, and a walk over a small one allocates nothing.
//!
//! The buffers are lent in place, not taken out and put back: a walk's buffers are a few hundred
//! bytes of vector headers, and copying them out and in twice was a tenth of a small walk.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Calls `f` with the calling thread's buffers in `key`; with fresh ones if they are lent already
/// (a walk that started another) or gone (the thread is being torn down).
pub(crate) fn with<S: Default + 'static, R>(key: &'static LocalKey<RefCell<S>>, f: impl FnOnce(&mut S) -> R) -> R {
    let mut f = Some(f);
    let lent = key.try_with(|buffers| {
        let mut buffers = buffers.try_borrow_mut().ok()?;
        f.take().map(|f| f(&mut buffers))
    });
    match (lent, f) {
        (Ok(Some(result)), _) => result,
        (_, f) => f.expect("`f` is taken only when the buffers are lent")(&mut S::default()),
    }
}
