//! Arbitrary bytes as a script of C ABI calls: each step picks a function and its arguments —
//! live, released, another thread's and made-up handles, made-up graph pointers, `floe_shared_data`
//! structs whose words the script overwrites, block bytes from the input. Every call must return a
//! named status (never `FLOE_ERR_PANIC`), and after the script everything it made is released and
//! the runtime's counters are back where they were: a leak is a finding.
#![no_main]

use floe::ffi::block::*;
use floe::ffi::graph::*;
use floe::ffi::list::*;
use floe::ffi::object::*;
use floe::ffi::reference::*;
use floe::ffi::runtime::*;
use floe::ffi::shared_data::*;
use floe::{Runtime, Stats, Status};
use libfuzzer_sys::fuzz_target;
use std::ffi::c_void;
use std::sync::OnceLock;

/// Handles owned by a thread that stays alive, parked: another thread's mutable object and list.
fn foreign() -> &'static [u64; 2] {
    static FOREIGN: OnceLock<[u64; 2]> = OnceLock::new();
    FOREIGN.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut list, mut object) = (0, 0);
            // SAFETY: out-pointers to locals.
            unsafe {
                floe_list_new(&mut list);
                floe_list_new(&mut object);
            }
            tx.send([list, object]).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap()
    })
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map(|(f, r)| (*f, r)).unwrap_or((0, &[]));
        self.0 = rest;
        first
    }
    fn word(&mut self) -> u64 {
        (0..8).fold(0, |w, _| w << 8 | u64::from(self.byte()))
    }
}

fn checked(status: Status) {
    if status == Status::ErrPanic {
        // SAFETY: floe's last error message is a NUL-terminated string of this thread's.
        let message = unsafe { std::ffi::CStr::from_ptr(floe::ffi::error::floe_last_error_message()) };
        panic!("floe panicked: {}", message.to_string_lossy());
    }
}

fuzz_target!(|data: &[u8]| {
    let foreign = *foreign();
    Runtime::collect_cycles();
    let mut before = Stats::default();
    // SAFETY: an out-pointer to a local.
    unsafe { floe_runtime_stats(&mut before) };
    let mut input = Input(data);
    let mut live: Vec<u64> = Vec::new();
    let mut released: Vec<u64> = Vec::new();
    let mut graphs: Vec<*mut c_void> = Vec::new();
    let mut shared: Vec<SharedData> = (0..3).map(|_| SharedData { version: 0, object: std::ptr::null_mut() }).collect();
    let mut steps = 0;
    while !input.0.is_empty() && steps < 200 {
        steps += 1;
        let op = input.byte();
        let pick = |input: &mut Input, live: &[u64], released: &[u64]| -> u64 {
            match input.byte() % 8 {
                0..=3 if !live.is_empty() => live[input.byte() as usize % live.len()],
                4 if !released.is_empty() => released[input.byte() as usize % released.len()],
                5 => foreign[input.byte() as usize % 2],
                6 => input.word(),
                _ => 0,
            }
        };
        let slot = (input.byte() % 6) as usize;
        // SAFETY: every pointer argument is NULL or points to a local or a vector element; the
        // handles and graph pointers may be anything: floe checks them.
        unsafe {
            let mut out = 0u64;
            match op % 18 {
                0 => {
                    checked(floe_list_new(&mut out));
                    live.extend((out != 0).then_some(out));
                }
                1 => checked(floe_list_push_int(pick(&mut input, &live, &released), input.word() as i64)),
                2 => checked(floe_list_push_ref(pick(&mut input, &live, &released), pick(&mut input, &live, &released))),
                3 => {
                    let mut v = 0i64;
                    checked(floe_object_get_int(pick(&mut input, &live, &released), slot, &mut v));
                }
                4 => checked(floe_object_set_int(pick(&mut input, &live, &released), slot, input.word() as i64)),
                5 => {
                    if floe_object_get_ref(pick(&mut input, &live, &released), slot, &mut out) == Status::Ok && out != 0 {
                        live.push(out);
                    }
                }
                6 => checked(floe_object_set_ref(pick(&mut input, &live, &released), slot, pick(&mut input, &live, &released))),
                7 => checked(floe_object_freeze(pick(&mut input, &live, &released), std::ptr::null())),
                8 => {
                    if floe_ref_retain(pick(&mut input, &live, &released), &mut out) == Status::Ok {
                        live.push(out);
                    }
                }
                9 if !live.is_empty() => {
                    let h = live.swap_remove(input.byte() as usize % live.len());
                    checked(floe_ref_release(h));
                    released.push(h);
                }
                9 => {
                    // A released or made-up handle. A made-up number can equal a live handle (the
                    // fuzzer guesses small ids), which a release would rightly end: the foreign
                    // thread's handles stay its own.
                    let h = pick(&mut input, &live, &released);
                    if !foreign.contains(&h) {
                        checked(floe_ref_release(h));
                        if let Some(i) = live.iter().position(|&l| l == h) {
                            released.push(live.swap_remove(i));
                        }
                    }
                }
                10 => {
                    let (h, mut graph) = (pick(&mut input, &live, &released), std::ptr::null_mut());
                    if floe_object_detach(h, u32::from(input.byte() % 3), &mut graph) == Status::Ok {
                        if let Some(i) = live.iter().position(|&l| l == h) {
                            released.push(live.swap_remove(i));
                        }
                        graphs.push(graph);
                    }
                }
                11 => {
                    let graph = match input.byte() % 3 {
                        0 if !graphs.is_empty() => graphs.swap_remove(input.byte() as usize % graphs.len()),
                        1 => input.word() as usize as *mut c_void,
                        _ => std::ptr::null_mut(),
                    };
                    if floe_graph_attach(graph, &mut out) == Status::Ok {
                        live.push(out);
                    }
                }
                12 => {
                    let graph = if graphs.is_empty() { input.word() as usize as *mut c_void } else { graphs.swap_remove(0) };
                    checked(floe_graph_dispose(graph));
                }
                13 => checked(floe_shared_data_publish(&mut shared[slot % 3], pick(&mut input, &live, &released))),
                14 => {
                    let mut version = 0;
                    if floe_shared_data_read(&mut shared[slot % 3], &mut version, &mut out) == Status::Ok && out != 0 {
                        live.push(out);
                    }
                }
                15 => {
                    let h = pick(&mut input, &live, &released);
                    if floe_shared_data_put(&mut shared[slot % 3], h, u32::from(input.byte() % 3)) == Status::Ok {
                        if let Some(i) = live.iter().position(|&l| l == h) {
                            released.push(live.swap_remove(i));
                        }
                    }
                    if floe_shared_data_take(&mut shared[slot % 3], &mut out) == Status::Ok && out != 0 {
                        live.push(out);
                    }
                }
                16 => {
                    // A corrupted struct: floe must refuse it, and the script forgets what it held.
                    let data = &mut shared[slot % 3];
                    if data.object.is_null() {
                        data.version = input.word() as i32;
                        data.object = input.word() as usize as *mut c_void;
                        let mut version = 0;
                        if floe_shared_data_read(data, &mut version, &mut out) == Status::Ok && out != 0 {
                            live.push(out);
                        }
                        *data = SharedData { version: 0, object: std::ptr::null_mut() };
                    }
                }
                _ => {
                    let len = (input.byte() as usize).min(input.0.len());
                    let (bytes, rest) = input.0.split_at(len);
                    input.0 = rest;
                    if floe_block_decode(bytes.as_ptr(), bytes.len(), &mut out) == Status::Ok {
                        live.push(out);
                    }
                }
            }
        }
    }
    // Everything the script holds goes: handles, graphs, shared values.
    // SAFETY: as above.
    unsafe {
        for data in &mut shared {
            let mut out = 0;
            if floe_shared_data_take(data, &mut out) == Status::Ok && out != 0 {
                live.push(out);
            }
            checked(floe_shared_data_publish(data, 0));
        }
        for h in live {
            assert_eq!(floe_ref_release(h), Status::Ok, "a live handle releases");
        }
        for graph in graphs {
            assert_eq!(floe_graph_dispose(graph), Status::Ok, "a detached graph disposes");
        }
    }
    Runtime::collect_cycles();
    let mut after = Stats::default();
    // SAFETY: an out-pointer to a local.
    unsafe { floe_runtime_stats(&mut after) };
    assert_eq!(after, before, "the script left something behind");
});
