//! What floe's benchmarks share: the report (`src/main.rs`, the `floe-bench` binary, which also
//! writes BENCHMARKS.md) and the criterion benches (`benches/`) build the same graphs, run the same
//! jobs against the same baselines and pin threads the same way.
//!
//! 1. `graph` — the three graph shapes and their builder.
//! 2. `jobs` — the worker jobs (Rust and C), streams of them, round trips, pinning a worker.
//! 3. `channels` — the crossbeam-channel and `std::sync::mpsc` baselines.
//! 4. `shared_data` — the SharedData and arc-swap writers.
//! 5. `measure` — timing, best / median / paired ratios, pinning the calling thread.

pub mod channels;
pub mod graph;
pub mod jobs;
pub mod measure;
pub mod shared_data;
