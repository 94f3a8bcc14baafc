//! floe: Kotlin/Native's legacy concurrency model — one owner thread or frozen, never shared and
//! mutable — checked at run time for C, Swift and Rust hosts.
//!
//! Layers: [`core`] is the runtime with a safe Rust API (re-exported here); `ffi` is the C ABI
//! over the same functions, described by the generated `include/floe.h`.

pub mod core;
pub mod ffi;

pub use crate::core::api::{Object, ObjectType, Runtime};
pub use crate::core::concurrency::{
    DetachedGraph, Future, Global, Job, MainQueue, Pool, SharedCell, TransferError, Worker,
};
pub use crate::core::error::{Error, Result, Status};
pub use crate::core::future::FutureState;
pub use crate::core::global::GlobalMode;
pub use crate::core::stats::Stats;
pub use crate::core::transfer::TransferMode;
pub use crate::core::value::Kind;
