//! `herald agent` against the real broker: in-process through the library
//! API, and as the built binary where process behaviour matters.

mod binary;
mod in_process;
mod restart_dedup;
pub(crate) mod support;
