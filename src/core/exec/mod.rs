//! Jobs on other threads: queues, workers, futures, pools.
//!
//! 1. `mpsc` — the lock-free job queue: many producers, one consumer (the worker's thread).
//! 2. `worker` — named threads with a queue, and the main thread's queue that the host drains.
//! 3. `future` — a job's outcome: a counted handle to a 32-byte cell, completed by one swap.
//! 4. `future_blocks` — where future cells live: carved from per-thread blocks.
//! 5. `pool` — N threads sharing one queue, and limited-parallelism views over a pool.
//! 6. `shutdown` — every worker asked to stop, waited for, and what is left reported.
//!
//! # The task/future protocol
//! A queued task *is* a future's cell: `worker::execute_on` makes the job's future, whose cell
//! holds the job's work (input graph in transit, body, result mode), and pushes a second handle to
//! that cell through the queue. The worker's thread takes the work out of the cell, attaches the
//! input, runs the body, detaches the result into the cell and completes it with one swap of its
//! state word; a consumer on any thread attaches the result. So `future` and `worker` import each
//! other, and `future_blocks` is `future`'s allocator: one protocol in three files, described in
//! full at the top of `future.rs` and `worker.rs`.
//!
//! May import: `graph`, `heap`, `base`; not `shared`.

pub(crate) mod future;
pub(crate) mod future_blocks;
pub(crate) mod mpsc;
pub(crate) mod pool;
pub(crate) mod shutdown;
pub(crate) mod worker;
