pub(crate) mod global;
pub(crate) mod shared_data;
