//! The config error type, in a leaf of its own: the config hub and every
//! module that owns a config section both use it, so neither imports the
//! other for it.

/// Why a configuration cannot be used. Each message names the culprit key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] config::ConfigError),
    /// A key (or section) no part of herald reads: a typo, or a key of
    /// another version.
    #[error("unknown config key {0}")]
    UnknownKey(String),
    #[error("config key {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("config key {key}: the TLS settings cannot be used")]
    Tls {
        key: &'static str,
        #[source]
        source: Box<crate::tls::TlsError>,
    },
}

/// The error for `key` holding a value that cannot be used, and why.
pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}
