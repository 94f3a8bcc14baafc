pub(crate) mod atomic;
pub(crate) mod freeze;
pub(crate) mod object;
pub(crate) mod ownership;
pub(crate) mod transfer;
