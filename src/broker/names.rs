//! AMQP names: short strings built without panicking, and the config-time
//! check that a configured prefix stays short once a host is appended.

use lapin::types::ShortString;

use crate::support::config_error::{ConfigError, invalid};

/// Converts a name to an AMQP short string without panicking on long input.
pub fn short(name: &str) -> Result<ShortString, NameTooLong> {
    ShortString::try_new(name.to_owned()).map_err(|_| NameTooLong(name.len()))
}

/// A name over AMQP's 255-byte short-string limit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("AMQP name of {0} bytes is over the 255-byte limit")]
pub struct NameTooLong(pub usize);

/// Names that become AMQP short strings with a host appended stay short.
pub(crate) fn check_amqp_name(key: &'static str, name: &str) -> Result<(), ConfigError> {
    if name.len() > 50 {
        return Err(invalid(key, "must be at most 50 bytes"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '#'))
    {
        return Err(invalid(
            key,
            "must not contain whitespace, control characters, `*` or `#`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_errors_not_panics() {
        assert!(short(&"x".repeat(256)).is_err());
        assert!(short("ok").is_ok());
    }

    #[test]
    fn config_names_are_checked() {
        assert!(check_amqp_name("k", "herald.events").is_ok());
        assert!(check_amqp_name("k", &"x".repeat(51)).is_err());
        assert!(check_amqp_name("k", "a#b").is_err());
    }
}
