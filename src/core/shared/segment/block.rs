//! The version block (see `mod.rs`).
