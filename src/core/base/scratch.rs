//! Buffers a thread keeps from one graph walk to the next (freeze's, transfer's): sized by the
//! largest graph the thread walked, so that a walk over a large graph does not fault megabytes in
//! and give them back each time, and a walk over a small one allocates nothing.
//!
//! The buffers are lent in place, not taken out and put back: a walk's buffers are a few hundred
//! bytes of vector headers, and copying them out and in twice was a tenth of a small walk. A walk
//! that panics part way leaves them empty, as taking them out did, so no later walk starts from
//! its state.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Calls `f` with the calling thread's buffers in `key`; with fresh ones if they are lent already
/// (a walk that started another) or gone (the thread is being torn down).
pub(crate) fn with<S: Default + 'static, R>(key: &'static LocalKey<RefCell<S>>, f: impl FnOnce(&mut S) -> R) -> R {
    let mut f = Some(f);
    let lent = key.try_with(|buffers| {
        let mut buffers = buffers.try_borrow_mut().ok()?;
        let reset = ResetIfUnwinding(&mut *buffers);
        f.take().map(|f| f(reset.0))
    });
    match (lent, f) {
        (Ok(Some(result)), _) => result,
        (_, f) => f.expect("`f` is taken only when the buffers are lent")(&mut S::default()),
    }
}

/// Empties the buffers it holds if dropped while the thread panics.
struct ResetIfUnwinding<'a, S: Default>(&'a mut S);

impl<S: Default> Drop for ResetIfUnwinding<'_, S> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0 = S::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static BUFFERS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    }

    #[test]
    fn buffers_are_kept_lent_once_at_a_time_and_emptied_by_a_panic() {
        with(&BUFFERS, |buffers| buffers.push(1));
        assert_eq!(BUFFERS.with_borrow(Vec::len), 1, "kept for the next walk");
        with(&BUFFERS, |outer| {
            outer.push(2);
            with(&BUFFERS, |inner| assert!(inner.is_empty(), "a walk inside a walk gets fresh buffers"));
        });
        assert_eq!(BUFFERS.with_borrow(Vec::clone), [1, 2]);
        let panicked = std::panic::catch_unwind(|| {
            with(&BUFFERS, |buffers| {
                buffers.push(3);
                panic!("a walk fails part way")
            })
        });
        assert!(panicked.is_err());
        assert!(BUFFERS.with_borrow(|buffers| buffers.is_empty() && buffers.capacity() == 0), "left empty");
    }
}
