//! The runtime in plain Rust: heap and handles, ownership, freeze, cycle collection.
//! `api` is the safe Rust surface; the C ABI in `crate::ffi` calls the same functions.

pub mod api;
pub(crate) mod atomic;
pub mod concurrency;
mod cycles;
pub mod error;
mod foreign;
mod freeze;
pub mod future;
mod future_blocks;
pub mod global;
mod handle;
mod heap;
mod id_ranges;
pub(crate) mod id_table;
mod mpsc;
pub(crate) mod object;
mod ownership;
pub mod pool;
mod provenance;
pub(crate) mod registry;
mod scc_merge;
mod scratch;
pub mod shared_data;
pub(crate) mod slab;
pub mod stats;
mod stripes;
mod sync;
pub mod thread;
pub mod transfer;
pub mod types;
pub mod value;
pub mod worker;
