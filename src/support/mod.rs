//! Small helpers any room may use; none of them knows about herald's rooms.
//!
//! - [`mask`]: a URL's password replaced by `***`, for logs and `check-config`.
//! - [`timestamp`]: RFC 3339 UTC timestamps with milliseconds.

pub mod mask;
pub mod timestamp;
