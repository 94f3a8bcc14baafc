pub(crate) mod concurrency;
pub(crate) mod object;
