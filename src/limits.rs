//! Process resource limits raised at start-up: the open-files soft limit
//! (`RLIMIT_NOFILE`) goes up to the hard limit, so that connections, broker
//! channels and database handles do not run out of descriptors at the common
//! 1,024 default. A failure is a warning: herald still runs at the limit it
//! was given.

/// Raises the open-files soft limit to the hard limit, logging the limits
/// before and after at info (a failure to read or raise them at warn).
pub fn raise_open_files_limit() {
    let (soft, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-files limit (RLIMIT_NOFILE)");
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
            tracing::warn!(%error, soft, hard, "cannot raise the open-files soft limit; keeping it")
        }
    }
}
