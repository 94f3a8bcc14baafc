pub(crate) mod base;
pub(crate) mod exec;
pub(crate) mod graph;
pub(crate) mod heap;
pub(crate) mod shared;
