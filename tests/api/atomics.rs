//! Atomic fields: changeable in frozen objects from any thread; AtomicReference values frozen.

use crate::harness::assert_error;
use crate::ownership::on_thread;
use floe::{Kind, Object, ObjectType, Runtime, Status};

crate::tests![
    atomics_in_a_frozen_object_change_from_every_thread,
    atomic_ints_are_32_bits,
    atomic_references_take_only_frozen_values,
    readers_and_writers_of_an_atomic_reference_race_safely,
    an_atomic_reference_closing_a_cycle_does_not_leak,
    an_atomic_reference_closing_a_cycle_across_frozen_graphs_does_not_leak,
    atomic_reference_cycles_under_concurrent_writers_are_reclaimed,
    atomics_of_a_mutable_object_follow_the_ownership_rule,
];

fn counter_type() -> ObjectType {
    ObjectType::define(
        "Counter",
        &[("hits", Kind::AtomicLong), ("small", Kind::AtomicInt), ("config", Kind::AtomicRef), ("next", Kind::Ref)],
    )
    .unwrap()
}

fn frozen_counter() -> Object {
    let counter = Object::new(counter_type()).unwrap();
    counter.freeze(Some("shared counter")).unwrap();
    counter
}

fn atomics_in_a_frozen_object_change_from_every_thread() {
    let counter = frozen_counter();
    assert_error(counter.get_int(0), Status::ErrWrongKind, &["holds an atomic long, not an int"]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let mine = counter.try_clone().unwrap();
            s.spawn(move || {
                for _ in 0..1000 {
                    mine.atomic_add(0, 1).unwrap();
                    mine.atomic_add(1, 2).unwrap();
                }
            });
        }
    });
    assert_eq!((counter.atomic_get(0).unwrap(), counter.atomic_get(1).unwrap()), (4000, 8000));
    assert!(!counter.atomic_compare_and_set(0, 1, 5).unwrap());
    assert!(counter.atomic_compare_and_set(0, 4000, 5).unwrap());
    assert_eq!(counter.atomic_get(0).unwrap(), 5);
}

fn atomic_ints_are_32_bits() {
    let counter = frozen_counter();
    assert_error(counter.atomic_set(1, 1 << 40), Status::ErrInvalidArgument, &["does not fit an atomic int"]);
    counter.atomic_set(1, i64::from(i32::MAX)).unwrap();
    assert_eq!(counter.atomic_add(1, 1).unwrap(), i64::from(i32::MIN), "wraps like Kotlin's AtomicInt");
    counter.atomic_set(0, i64::MAX).unwrap();
    assert_eq!(counter.atomic_add(0, 1).unwrap(), i64::MIN);
}

fn atomic_references_take_only_frozen_values() {
    let counter = frozen_counter();
    let config = Object::new_list().unwrap();
    config.push_string("v1").unwrap();
    assert_error(counter.atomic_ref_set(2, Some(&config)), Status::ErrNotFrozen, &["is not frozen", "must be frozen"]);
    config.freeze(None).unwrap();
    counter.atomic_ref_set(2, Some(&config)).unwrap();
    let seen = on_thread("config-reader", || counter.atomic_ref_get(2).unwrap().unwrap().get_string(0).unwrap());
    assert_eq!(seen, "v1");
    let other = Object::new_list().unwrap();
    other.freeze(None).unwrap();
    assert!(!counter.atomic_ref_compare_and_set(2, Some(&other), None).unwrap());
    assert!(counter.atomic_ref_compare_and_set(2, Some(&config), Some(&other)).unwrap());
    assert_eq!(counter.atomic_ref_get(2).unwrap().unwrap().id().unwrap(), other.id().unwrap());
    assert_error(counter.atomic_get(2), Status::ErrWrongKind, &[]);
}

fn readers_and_writers_of_an_atomic_reference_race_safely() {
    let counter = frozen_counter();
    std::thread::scope(|s| {
        for writer in 0..2 {
            let mine = counter.try_clone().unwrap();
            s.spawn(move || {
                for i in 0..500 {
                    let value = Object::new_list().unwrap();
                    value.push_int(writer * 1000 + i).unwrap();
                    value.freeze(None).unwrap();
                    mine.atomic_ref_set(2, Some(&value)).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let mine = counter.try_clone().unwrap();
            s.spawn(move || {
                for _ in 0..2000 {
                    if let Some(value) = mine.atomic_ref_get(2).unwrap() {
                        assert_eq!(value.len().unwrap(), 1);
                    }
                }
            });
        }
    });
    counter.atomic_ref_set(2, None).unwrap();
    drop(counter);
    assert_eq!(Runtime::stats().live_objects, 0, "every replaced value was freed");
}

fn an_atomic_reference_closing_a_cycle_does_not_leak() {
    let ty = counter_type();
    let alone = Object::new(ty).unwrap();
    alone.freeze(None).unwrap();
    alone.atomic_ref_set(2, Some(&alone)).unwrap();
    drop(alone);
    assert_eq!(Runtime::stats().live_objects, 0, "a frozen object pointing at itself");
    let (a, b) = (Object::new(ty).unwrap(), Object::new(ty).unwrap());
    a.set_ref(3, Some(&b)).unwrap();
    b.set_ref(3, Some(&a)).unwrap();
    a.freeze(None).unwrap();
    a.atomic_ref_set(2, Some(&b)).unwrap();
    b.atomic_ref_set(2, Some(&a)).unwrap();
    drop((a, b));
    assert_eq!(Runtime::stats().live_objects, 0, "a frozen cycle closed again through atomics");
}

/// Kotlin/Native's legacy collector leaked these: a cycle through atomic references between
/// graphs frozen separately. floe merges the SCCs on the cycle, so it dies by counting.
fn an_atomic_reference_closing_a_cycle_across_frozen_graphs_does_not_leak() {
    let ty = counter_type();
    let frozen = |next: Option<&Object>| {
        let o = Object::new(ty).unwrap();
        o.set_ref(3, next).unwrap();
        o.freeze(Some("link")).unwrap();
        o
    };
    // Two holders pointing at each other: the second store closes the cycle.
    let (a, b) = (frozen(None), frozen(None));
    a.atomic_ref_set(2, Some(&b)).unwrap();
    b.atomic_ref_set(2, Some(&a)).unwrap();
    drop((a, b));
    assert_eq!(Runtime::stats().live_objects, 0, "two holders pointing at each other");

    // A chain frozen in three steps, closed from its tail back to its head; handles only to the ends.
    let head = frozen(None);
    let middle = frozen(Some(&head));
    let tail = frozen(Some(&middle));
    drop(middle);
    head.atomic_ref_set(2, Some(&tail)).unwrap();
    assert_eq!(tail.atomic_ref_get(2).unwrap().map(|o| o.id().unwrap()), None);
    assert_eq!(head.atomic_ref_get(2).unwrap().unwrap().id().unwrap(), tail.id().unwrap());
    drop(head);
    assert_eq!(Runtime::stats().live_objects, 3, "the tail's handle keeps the whole cycle");
    drop(tail);
    assert_eq!(Runtime::stats().live_objects, 0, "a three-graph cycle through one atomic reference");

    // A merged cycle broken again, then the parts dropped one by one.
    let (a, b) = (frozen(None), frozen(None));
    a.atomic_ref_set(2, Some(&b)).unwrap();
    b.atomic_ref_set(2, Some(&a)).unwrap();
    a.atomic_ref_set(2, None).unwrap();
    drop(a);
    assert_eq!(Runtime::stats().live_objects, 2, "merged SCCs die as one");
    drop(b);
    assert_eq!(Runtime::stats().live_objects, 0);

    // A plain frozen value never searches: it reaches no atomic reference field.
    let holder = frozen(None);
    let data = Object::new_list().unwrap();
    data.push_int(1).unwrap();
    data.freeze(None).unwrap();
    holder.atomic_ref_set(2, Some(&data)).unwrap();
}

/// Threads close and break cycles between the same frozen holders while others read through them;
/// at the end every object is accounted for.
fn atomic_reference_cycles_under_concurrent_writers_are_reclaimed() {
    let ty = counter_type();
    let holders: Vec<Object> = (0..4)
        .map(|_| {
            let o = Object::new(ty).unwrap();
            o.freeze(None).unwrap();
            o
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let mine: Vec<Object> = holders.iter().map(|h| h.try_clone().unwrap()).collect();
            s.spawn(move || {
                for i in 0..500 {
                    let (from, to) = ((t + i) % 4, (t * 3 + i * 7 + 1) % 4);
                    mine[from].atomic_ref_set(2, Some(&mine[to])).unwrap();
                    if let Some(seen) = mine[to].atomic_ref_get(2).unwrap() {
                        assert!(seen.is_frozen().unwrap());
                    }
                    if i % 5 == 0 {
                        mine[to].atomic_ref_set(2, None).unwrap();
                    }
                }
            });
        }
    });
    drop(holders);
    assert_eq!(Runtime::stats().live_objects, 0, "every holder, merged or not, was freed");
}

fn atomics_of_a_mutable_object_follow_the_ownership_rule() {
    let counter = Object::new(counter_type()).unwrap();
    counter.atomic_add(0, 3).unwrap();
    let handle = counter.handle();
    on_thread("intruder", move || {
        let foreign = Object::borrowed(handle);
        assert_error(foreign.atomic_add(0, 1), Status::ErrWrongThread, &["owned by thread"]);
    });
    assert_eq!(counter.atomic_get(0).unwrap(), 3);
}
