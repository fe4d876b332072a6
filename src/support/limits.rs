//! Process resource limits raised at start-up: the open-files soft limit
//! (`RLIMIT_NOFILE`) goes up to the hard limit, so that connections, broker
//! channels and database handles do not run out of descriptors at the common
//! 1,024 default. A failure is a warning: herald still runs at the limit it
//! was given. [`connection_cap`] sizes the accept loop's connection bound
//! from that limit.

use super::error_chain::error_chain;

/// Descriptors kept for everything but client connections: the listener,
/// broker connections, database handles, Keystone clients, stdio, epoll.
const RESERVED_FILES: u64 = 128;
/// The default connection bound never goes past this.
const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

/// The connection bound: `configured` when given (warning if the open-files
/// limit cannot hold it), else min(soft limit - reserve, 10,000), and at
/// least half the soft limit when that is small.
pub fn connection_cap(configured: Option<usize>) -> usize {
    let soft = rlimit::Resource::NOFILE
        .get()
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let room = soft.saturating_sub(RESERVED_FILES).max(soft / 2).max(1);
    match configured {
        Some(max) => {
            if max as u64 > room {
                tracing::warn!(
                    max_connections = max,
                    open_files = soft,
                    "http.max_connections is above what the open-files limit holds; accepts may fail with EMFILE"
                );
            }
            max
        }
        None => usize::try_from(room.min(DEFAULT_MAX_CONNECTIONS)).unwrap_or(1024),
    }
}

/// Raises the open-files soft limit to the hard limit, logging the limits
/// before and after at info (a failure to read or raise them at warn).
pub fn raise_open_files_limit() {
    let (soft, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "cannot read the open-files limit (RLIMIT_NOFILE)");
            return;
        }
    };
    tracing::info!(soft, hard, "open-files limit at start");
    if soft >= hard {
        return;
    }
    // Caps the request at what the platform allows (on macOS, kern.maxfilesperproc).
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => tracing::info!(soft = raised, hard, "open-files soft limit raised"),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), soft, hard, "cannot raise the open-files soft limit; keeping it")
        }
    }
}
