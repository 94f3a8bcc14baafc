pub(crate) mod future;
pub(crate) mod future_blocks;
pub(crate) mod mpsc;
pub(crate) mod pool;
pub(crate) mod worker;
