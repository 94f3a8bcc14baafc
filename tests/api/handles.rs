//! Handle misuse: NULL, made-up, released and double-released handles, each with its own status.

use crate::harness::assert_error;
use floe::{Object, Runtime, Status};

crate::tests![
    released_handles_are_reported_not_dereferenced,
    double_release_is_reported_and_harmless,
    null_and_made_up_handles_are_invalid,
    random_64_bit_handles_never_crash,
    each_retain_is_one_reference,
    the_largest_generations_are_refused_not_overflowed,
];

/// Made-up handles at the top of the generation range, heap and in-place alike: releasing one
/// computes the next generation, which wraps instead of overflowing (a panic in a debug build).
fn the_largest_generations_are_refused_not_overflowed() {
    for low in [0u64, 5, 1 << 31, (1 << 31) | 5] {
        for generation in [u64::from(u32::MAX), u64::from(u32::MAX - 2)] {
            let made_up = generation << 32 | low;
            assert_error(Object::from_raw(made_up).release(), Status::ErrInvalidHandle, &["not a handle"]);
            assert_error(Object::borrowed(made_up).get_int(0), Status::ErrInvalidHandle, &[]);
        }
    }
}

fn released_handles_are_reported_not_dereferenced() {
    let list = Object::new_list().unwrap();
    let handle = list.handle();
    drop(list);
    let stale = Object::borrowed(handle);
    assert_error(stale.get_int(0), Status::ErrReleasedHandle, &["was released"]);
    assert_error(stale.push_int(1), Status::ErrReleasedHandle, &[]);
    // The slot is reused by a new handle; the stale one still fails, by generation.
    let fresh = Object::new_list().unwrap();
    assert_error(stale.len(), Status::ErrReleasedHandle, &[]);
    assert_eq!(fresh.len().unwrap(), 0);
}

fn double_release_is_reported_and_harmless() {
    let list = Object::new_list().unwrap();
    let handle = list.handle();
    drop(list);
    assert_error(Object::from_raw(handle).release(), Status::ErrDoubleRelease, &["already released"]);
    assert_eq!(Runtime::stats().live_handles, 0);
}

fn null_and_made_up_handles_are_invalid() {
    assert_error(Object::borrowed(0).len(), Status::ErrNull, &["NULL"]);
    assert_error(
        Object::borrowed(0xdead_beef_dead_beef).len(),
        Status::ErrInvalidHandle,
        &["not a handle this runtime issued"],
    );
    let list = Object::new_list().unwrap();
    // Right slot, a generation never issued (even = free, or beyond the slot's current one).
    assert_error(Object::borrowed(list.handle() + (1 << 32)).len(), Status::ErrInvalidHandle, &[]);
    assert_error(Object::borrowed(list.handle() + (2 << 32)).len(), Status::ErrInvalidHandle, &[]);
}

fn random_64_bit_handles_never_crash() {
    let live: Vec<Object> = (0..64).map(|_| Object::new_list().unwrap()).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..100_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let result = Object::borrowed(state).len();
        if live.iter().all(|o| o.handle() != state) {
            let status = result.expect_err("a random value is not a live handle").status();
            assert!(
                matches!(status, Status::ErrInvalidHandle | Status::ErrReleasedHandle | Status::ErrNull),
                "{status:?}"
            );
        }
    }
}

fn each_retain_is_one_reference() {
    let list = Object::new_list().unwrap();
    let second = list.try_clone().unwrap();
    assert_ne!(second.handle(), list.handle());
    assert_eq!(Runtime::stats().live_handles, 2);
    drop(list);
    second.push_int(5).unwrap();
    assert_eq!(second.get_int(0).unwrap(), 5);
    assert_eq!(Runtime::stats().live_objects, 1);
}
