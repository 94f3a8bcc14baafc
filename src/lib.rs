//! floe brings Kotlin/Native's original concurrency rule to Rust, C and Swift, checked at run time:
//! **an object is either owned by one thread, or frozen (deeply immutable) and shared — never
//! shared and mutable.** Touching another thread's object, writing a frozen one, or using a stale
//! handle is an [`Error`] with a [`Status`] and a message naming the object, its owner and the
//! calling thread — never a data race.
//!
//! ```
//! use floe::{Kind, Object, ObjectType, Runtime, SharedCell, Status, TransferMode, Worker};
//!
//! fn price(order: Option<Object>) -> floe::Result<Option<Object>> {
//!     let order = order.expect("the order travels with the job"); // owned by the worker now
//!     order.set_int(1, order.get_int(0)? * 250)?;
//!     Ok(Some(order)) // moves back to whoever takes the result
//! }
//!
//! static PRICE_LIST: SharedCell = SharedCell::new(); // a versioned shared value
//!
//! let order_type = ObjectType::define("Order", &[("quantity", Kind::Int), ("cents", Kind::Int)])?;
//! let order = Object::new(order_type)?; // owned by this thread
//! order.set_int(0, 4)?;
//! let pricing = Worker::start("pricing")?;
//! let input = order.detach(TransferMode::Safe)?; // checked: nothing else refers into it
//! let priced = pricing.execute(Some(input), TransferMode::Safe, price)?.result(None)?.unwrap();
//! assert_eq!(priced.get_int(1)?, 1000);
//! priced.freeze(Some("priced"))?; // deep and one way: now any thread may read it
//! assert_eq!(priced.set_int(1, 0).unwrap_err().status(), Status::ErrFrozen);
//! PRICE_LIST.publish(Some(&priced))?;
//! assert_eq!(PRICE_LIST.read()?.0, 1); // version 1, readable from every thread without a lock
//! # PRICE_LIST.publish(None)?;
//! # drop(priced);
//! # pricing.request_termination(true)?.result(None)?;
//! # assert_eq!(Runtime::stats(), floe::Stats::default());
//! # Ok::<(), floe::Error>(())
//! ```
//!
//! Where to go next: [`Object`] (fields, lists, freeze, atomics), [`Worker`] and [`Future`] (jobs and
//! their results), [`Pool`], [`DetachedGraph`] (transfer), [`Global`] and [`SharedCell`] (values
//! many threads reach), [`MainQueue`] (results delivered to the main thread), [`Runtime`]
//! (initialisation, leak counters, shutdown), [`Segment`] (frozen graphs published to other
//! processes through shared memory).
//!
//! The crate has three faces over one engine: this safe Rust API; [`ffi`], the C ABI that
//! `include/floe.h` declares (C, C++ and Swift hosts use it); and the `floe` command's demo. The
//! engine (`src/core`) is private; its layers are described in `src/core/mod.rs`.

mod api;
mod core;
pub mod ffi;

pub use crate::api::block::VersionBlock;
pub use crate::api::concurrency::{
    DetachedGraph, Future, Global, Job, MainQueue, Pool, SharedCell, TransferError, Worker,
};
pub use crate::api::object::{Object, ObjectType, Runtime};
pub use crate::api::segment::{Segment, SlotData, SlotVersion};
pub use crate::core::base::error::{Error, Result, Status};
pub use crate::core::base::stats::Stats;
pub use crate::core::exec::future::FutureState;
pub use crate::core::exec::shutdown::ShutdownReport;
pub use crate::core::graph::transfer::TransferMode;
pub use crate::core::heap::value::Kind;
pub use crate::core::shared::global::GlobalMode;

/// The README's Rust examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
