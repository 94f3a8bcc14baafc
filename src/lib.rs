//! floe: Kotlin/Native's legacy concurrency model — one owner thread or frozen, never shared and
//! mutable — checked at run time for C, Swift and Rust hosts.

mod api;
mod core;
pub mod ffi;

pub use crate::api::concurrency::{
    DetachedGraph, Future, Global, Job, MainQueue, Pool, SharedCell, ShutdownReport, TransferError, Worker,
};
pub use crate::api::object::{Object, ObjectType, Runtime};
pub use crate::core::base::error::{Error, Result, Status};
pub use crate::core::base::stats::Stats;
pub use crate::core::exec::future::FutureState;
pub use crate::core::graph::transfer::TransferMode;
pub use crate::core::heap::value::Kind;
pub use crate::core::shared::global::GlobalMode;
