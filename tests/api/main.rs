//! API tests of the safe Rust surface, each run on the main thread and on a background thread.

mod atomics;
mod callbacks;
mod cycles;
mod freeze;
mod globals;
mod handles;
mod harness;
mod lifecycle;
mod made_up_ids;
mod memory_races;
mod objects;
mod ownership;
mod pools;
mod properties;
mod scheduling;
mod segment_reads;
mod segment_shared_data;
mod segments;
mod shared_data;
mod stress;
mod transfer;
mod workers;

fn main() {
    let tests: Vec<harness::Test> = [
        objects::TESTS,
        handles::TESTS,
        ownership::TESTS,
        freeze::TESTS,
        cycles::TESTS,
        properties::TESTS,
        transfer::TESTS,
        workers::TESTS,
        atomics::TESTS,
        globals::TESTS,
        shared_data::TESTS,
        stress::TESTS,
        pools::TESTS,
        made_up_ids::TESTS,
        memory_races::TESTS,
        callbacks::TESTS,
        scheduling::TESTS,
        lifecycle::TESTS,
        segments::TESTS,
        segment_reads::TESTS,
        segment_shared_data::TESTS,
    ]
    .concat();
    harness::main(&tests);
}
