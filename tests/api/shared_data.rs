//! SharedData: versioned publication of frozen graphs, and one-taker hand-over of mutable ones.

use crate::harness::assert_error;
use floe::ffi::shared_data::SharedData;
use floe::{Object, Runtime, SharedCell, Status, TransferMode};

crate::tests![
    a_zeroed_cell_is_empty,
    readers_never_see_a_torn_pair_while_a_writer_publishes,
    only_frozen_graphs_are_published,
    exactly_one_taker_wins_a_parked_graph,
    a_corrupt_struct_is_an_error_not_a_crash,
    a_copy_of_a_struct_reads_as_corrupt_once_the_original_changes,
    readers_racing_puts_and_takes_see_a_whole_value_nothing_or_the_parked_error,
];

fn a_zeroed_cell_is_empty() {
    let cell = SharedCell::new();
    let (version, root) = cell.read().unwrap();
    assert_eq!((version, root.is_none()), (0, true));
    assert_error(cell.take(), Status::ErrConsumed, &["nothing to take"]);
}

fn versioned(version: i64) -> Object {
    let value = Object::new_list().unwrap();
    value.push_int(version).unwrap();
    value.freeze(Some("config")).unwrap();
    value
}

fn readers_never_see_a_torn_pair_while_a_writer_publishes() {
    static CELL: SharedCell = SharedCell::new();
    // The cell is static: a second run starts from the version the first one left.
    let base = i64::from(CELL.read().unwrap().0);
    CELL.publish(Some(&versioned(base + 1))).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for v in base + 2..=base + 300 {
                CELL.publish(Some(&versioned(v))).unwrap();
            }
        });
        for _ in 0..3 {
            s.spawn(|| {
                let mut last = 0;
                for _ in 0..2000 {
                    let (version, root) = CELL.read().unwrap();
                    let root = root.expect("always a value");
                    assert_eq!(root.get_int(0).unwrap(), i64::from(version), "version and value belong together");
                    assert!(version >= last, "versions never go back");
                    last = version;
                }
            });
        }
    });
    assert_eq!(i64::from(CELL.read().unwrap().0), base + 300);
    CELL.publish(None).unwrap();
    assert_eq!(Runtime::stats().live_objects, 0, "every replaced value was freed");
}

fn only_frozen_graphs_are_published() {
    let cell = SharedCell::new();
    let draft = Object::new_list().unwrap();
    assert_error(cell.publish(Some(&draft)), Status::ErrNotFrozen, &["must be frozen"]);
    cell.put(draft, TransferMode::Safe).unwrap();
    assert_error(cell.read(), Status::ErrInvalidArgument, &["for one taker"]);
    assert_error(cell.publish(None), Status::ErrInvalidArgument, &["take it before publishing"]);
    cell.take().unwrap().push_int(1).unwrap();
}

fn exactly_one_taker_wins_a_parked_graph() {
    static CELL: SharedCell = SharedCell::new();
    let job = Object::new_list().unwrap();
    job.push_string("work item").unwrap();
    CELL.put(job, TransferMode::Safe).unwrap();
    let winners: usize = std::thread::scope(|s| {
        let takers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| match CELL.take() {
                    Ok(item) => {
                        item.push_string("taken").unwrap();
                        1
                    }
                    Err(e) => {
                        assert_eq!(e.status(), Status::ErrConsumed);
                        0
                    }
                })
            })
            .collect();
        takers.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
}

fn a_corrupt_struct_is_an_error_not_a_crash() {
    let mut corrupt = SharedData { version: 7, object: 0xdead_beef_usize as *mut std::ffi::c_void };
    let (mut version, mut root) = (0, 0);
    // SAFETY: the struct is valid memory; its contents are garbage on purpose.
    let status = unsafe { floe::ffi::shared_data::floe_shared_data_read(&mut corrupt, &mut version, &mut root) };
    assert_eq!(status, Status::ErrInvalidHandle);
    assert_eq!((version, root), (0, 0), "nothing written on failure");
}

fn a_copy_of_a_struct_reads_as_corrupt_once_the_original_changes() {
    use floe::ffi::error::floe_last_error_message;
    use floe::ffi::shared_data::{floe_shared_data_publish, floe_shared_data_read};
    // The C calls; a failure comes back as its status and this thread's last message.
    let failure = |status: Status| {
        // SAFETY: floe keeps the message, NUL-terminated, until this thread's next failure.
        let message = unsafe { std::ffi::CStr::from_ptr(floe_last_error_message()) };
        (status, message.to_string_lossy().into_owned())
    };
    // SAFETY (every call below): both structs are valid, aligned and used by this thread alone.
    let publish = |data: &mut SharedData, root: Option<&Object>| match unsafe {
        floe_shared_data_publish(data, root.map_or(0, Object::handle))
    } {
        Status::Ok => Ok(()),
        status => Err(failure(status)),
    };
    let read = |data: &mut SharedData| {
        let (mut version, mut root) = (0, 0);
        match unsafe { floe_shared_data_read(data, &mut version, &mut root) } {
            Status::Ok => Ok((version, (root != 0).then(|| Object::from_raw(root)))),
            status => Err(failure(status)),
        }
    };
    fn corrupt<T>(result: Result<T, (Status, String)>) {
        let Err((status, message)) = result else { panic!("a stale copy is refused") };
        assert_eq!(status, Status::ErrInvalidHandle, "{message}");
        assert!(message.contains("corrupt floe_shared_data"), "{message}");
    }
    let mut original = SharedData { version: 0, object: std::ptr::null_mut() };
    publish(&mut original, Some(&versioned(1))).unwrap();
    let mut copy = SharedData { version: original.version, object: original.object };
    let (version, root) = read(&mut copy).unwrap();
    assert_eq!(version, 1, "the copy names the same value until either changes");
    drop(root.unwrap());
    publish(&mut original, Some(&versioned(2))).unwrap();
    corrupt(read(&mut copy));
    corrupt(publish(&mut copy, None));
    let (version, root) = read(&mut original).unwrap();
    assert_eq!((version, root.unwrap().get_int(0).unwrap()), (2, 2));
    publish(&mut original, None).unwrap();
}

/// The writer goes through every kind of content (published, empty, parked) while readers read:
/// each read is a whole pair, an empty struct, or the parked graph's error — the lock-free reads
/// and the ones under the lock meet every state.
fn readers_racing_puts_and_takes_see_a_whole_value_nothing_or_the_parked_error() {
    static CELL: SharedCell = SharedCell::new();
    let base = i64::from(CELL.read().unwrap().0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..100 {
                // Publish (version +1), empty (+1), put (+1), take (+1).
                let version = base + 4 * round + 1;
                CELL.publish(Some(&versioned(version))).unwrap();
                CELL.publish(None).unwrap();
                let work = Object::new_list().unwrap();
                work.push_int(version).unwrap();
                CELL.put(work, TransferMode::Safe).unwrap();
                assert_eq!(CELL.take().unwrap().get_int(0).unwrap(), version);
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..3000 {
                    match CELL.read() {
                        Ok((version, Some(root))) => {
                            assert_eq!(root.get_int(0).unwrap(), i64::from(version), "a whole pair")
                        }
                        Ok((version, None)) => {
                            let step = (i64::from(version) - base) % 4;
                            assert!(step == 0 || step == 2, "version {version} is an empty one's (base {base})")
                        }
                        Err(error) => assert_eq!(error.status(), Status::ErrInvalidArgument, "{}", error.message()),
                    }
                }
            });
        }
    });
    assert_eq!(i64::from(CELL.read().unwrap().0), base + 400);
    assert!(CELL.read().unwrap().1.is_none(), "the last take left it empty");
}
