//! The segment file (see `mod.rs`).
