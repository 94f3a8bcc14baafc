//! The model's rules, applied to objects and whole graphs.
//!
//! 1. `ownership` — the access check (one load of the owner word, one compare) and the messages it
//!    gives: the object, its owner, the calling thread, and which freeze froze it, by which path.
//! 2. `object` — every operation on a handle: new, get, set, retain, release; the one
//!    implementation behind both the Rust API and the C ABI.
//! 3. `freeze` — deep, one way, all or nothing, O(N), no recursion.
//! 4. `transfer` — a mutable graph leaves its thread whole after an O(N) check that nothing outside
//!    refers into it, travels in transit, and is attached once, anywhere.
//! 5. `atomic` — atomic fields inside frozen objects; references they hold must be frozen.
//!
//! May import: `heap`, `base`.

pub(crate) mod atomic;
pub(crate) mod freeze;
pub(crate) mod object;
pub(crate) mod ownership;
pub(crate) mod transfer;
