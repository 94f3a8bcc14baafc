//! What floe's benchmarks share: the report (`src/main.rs`, the `floe-bench` binary, which also
//! writes BENCHMARKS.md) and the criterion benches (`benches/`) build the same graphs, run the same
//! jobs against the same baselines and pin threads the same way.
//!
//! 1. `graph` — the three graph shapes and their builder.
//! 2. `jobs` — the worker jobs (Rust and C), streams of them, round trips, pinning a worker.
//! 3. `channels` — the crossbeam-channel and `std::sync::mpsc` baselines.
//! 4. `shared_data` — the SharedData and arc-swap writers.
//! 5. `measure` — timing, best / median / paired ratios, pinning the calling thread.
//! 6. `segments` — segments named per process, the reader's attach, the flip payload and its
//!    socket encoding, the graphs whose published size is reported.
//! 7. `flip` — publish → observed in another process, over a floe segment, iceoryx2 and a Unix
//!    socket: the writer, and the reader process (`floe-bench --peer flip`).

pub mod channels;
pub mod flip;
pub mod graph;
pub mod jobs;
pub mod measure;
pub mod segments;
pub mod shared_data;
