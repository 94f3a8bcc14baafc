pub(crate) mod error;
pub(crate) mod ids;
pub(crate) mod scratch;
pub(crate) mod slab;
pub(crate) mod stats;
pub(crate) mod stripes;
pub(crate) mod sync;
