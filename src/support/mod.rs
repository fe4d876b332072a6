//! Small helpers any room may use; none of them knows about herald's rooms.
//!
//! - [`config_error`]: the config error type every room's settings return.
//! - [`error_chain`]: one line for an error and its causes (logs, messages).
//! - [`rate_log`]: a log line that cannot flood (first, then a count per interval).
//! - [`plain_lock`]: locking a mutex over plain data, poisoning ignored.
//! - [`limits`]: the open-files limit raised at start-up, connection caps.
//! - [`shutdown`]: cancelling a token on SIGINT or SIGTERM.
//! - [`mask`]: a URL's password replaced by `***`, for logs and `check-config`.
//! - [`timestamp`]: RFC 3339 UTC timestamps with milliseconds.

pub mod config_error;
pub mod error_chain;
pub mod limits;
pub mod mask;
pub mod plain_lock;
pub mod rate_log;
pub mod shutdown;
pub mod timestamp;
