//! herald's configuration: one typed tree read from a TOML file, then
//! overridden by `HERALD__SECTION__KEY` environment variables, validated once.
//!
//! Each section is defined (and validated) by the module that owns it and
//! re-exported here. Loading takes the environment as an argument, so tests
//! build a config without touching the process environment.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::agent::config::AgentConfig;
pub use crate::api::auth_config::{AuthConfig, AuthMode, TokenConfig};
pub use crate::broker::config::AmqpConfig;
pub use crate::broker::tls_config::AmqpTlsConfig;
pub use crate::broker::topology::QueueType;
pub use crate::config_error::ConfigError;
pub use crate::directory::config::{DirectoryBackend, DirectoryConfig};
pub use crate::telemetry::{LogConfig, LogFormat};
pub use crate::web::config::HttpConfig;

/// The prefix of environment overrides (`HERALD__AMQP__URL`).
pub const ENV_PREFIX: &str = "HERALD";
/// The separator between prefix, section and key in environment overrides.
pub const ENV_SEPARATOR: &str = "__";

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP front end.
    pub http: HttpConfig,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// The broker and the names used on it.
    pub amqp: AmqpConfig,
    /// Where the instance directory lives.
    pub directory: DirectoryConfig,
    /// The compute agent (`herald agent`).
    pub agent: AgentConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Config {
    /// Reads `path`, applies the `HERALD__*` entries of `env`, validates.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, env)
    }

    /// Parses TOML text, applies the `HERALD__*` entries of `env`, validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let overrides: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}{ENV_SEPARATOR}")))
            .collect();
        let config: Config = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    .try_parsing(true)
                    .source(Some(overrides)),
            )
            .build()?
            .try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.auth.validate()?;
        self.amqp.validate()?;
        self.directory.validate()?;
        self.agent.validate()?;
        self.log.validate()
    }

    /// The configuration as TOML, with tokens and passwords masked.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        for t in &mut copy.auth.tokens {
            if t.token.is_some() {
                t.token = Some("***".into());
            }
        }
        if !copy.auth.password.is_empty() {
            copy.auth.password = "***".into();
        }
        copy.amqp.url = copy.amqp.url.masked();
        copy.directory.url = mask_url_password(&copy.directory.url);
        toml_string(&copy)
    }
}

fn toml_string(config: &Config) -> String {
    toml::to_string(config)
        .expect("the config tree serialises to TOML: it holds only tables, strings and numbers")
}

/// Replaces the password of a `scheme://user:password@host` URL with `***`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MINIMAL: &str = "[[auth.tokens]]\ntoken = \"secret\"\nroles = [\"admin\"]\n";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::from_toml(MINIMAL, env(&[])).unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8774");
        assert_eq!(c.http.max_body_bytes, 114_688);
        assert_eq!(c.auth.required_roles, ["admin", "service"]);
        assert_eq!(c.amqp.exchange, "herald");
        assert_eq!(c.amqp.routing_prefix, "events");
        assert_eq!(c.amqp.queue_prefix, "herald.events");
        assert_eq!(c.amqp.confirm_timeout, Duration::from_secs(5));
        assert_eq!(c.directory.backend, DirectoryBackend::Sqlite);
        assert_eq!(c.agent.prefetch, 64);
        assert_eq!(c.agent.retention, Duration::from_secs(300));
        assert_eq!(c.log.format, LogFormat::Text);
    }

    #[test]
    fn the_shipped_config_file_is_valid() {
        let text = include_str!("../config/herald.toml");
        Config::from_toml(text, env(&[])).unwrap();
    }

    #[test]
    fn the_compose_config_is_valid_with_its_overrides() {
        let text = include_str!("../config/compose.toml");
        let c = Config::from_toml(
            text,
            env(&[
                (
                    "HERALD__AMQP__URL",
                    "amqp://herald:herald@rabbitmq:5672/%2f",
                ),
                (
                    "HERALD__DIRECTORY__URL",
                    "postgres://herald:herald@postgres:5432/herald",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.directory.backend, DirectoryBackend::Postgres);
    }

    #[test]
    fn environment_overrides_scalars() {
        let c = Config::from_toml(
            MINIMAL,
            env(&[
                ("HERALD__AMQP__URL", "amqp://u:p@10.0.0.1:5672/%2f"),
                ("HERALD__AMQP__CONFIRM_TIMEOUT", "250ms"),
                ("HERALD__HTTP__MAX_BODY_BYTES", "1024"),
                ("HERALD__LOG__FORMAT", "json"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.amqp.url, "amqp://u:p@10.0.0.1:5672/%2f".into());
        assert_eq!(c.amqp.confirm_timeout, Duration::from_millis(250));
        assert_eq!(c.http.max_body_bytes, 1024);
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml(&format!("{MINIMAL}[http]\nlisten_addr = \"x\"\n"), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_addr"), "{err}");
        let err = Config::from_toml(MINIMAL, env(&[("HERALD__AMQP__NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("[amqp]\nurl = \"http://x\"\n", "amqp.url"),
            ("[amqp]\nexchange = \"\"\n", "amqp.exchange"),
            ("[amqp]\nconfirm_timeout = \"0s\"\n", "amqp.confirm_timeout"),
            ("[agent]\nprefetch = 0\n", "agent.prefetch"),
            ("[agent]\nshutdown_grace = \"0s\"\n", "agent.shutdown_grace"),
            (
                "[agent]\nwaiter_header_read_timeout = \"2h\"\n",
                "agent.waiter_header_read_timeout",
            ),
            ("[log]\nlevel = \"info,[\"\n", "log.level"),
        ];
        for (extra, key) in cases {
            let err = Config::from_toml(&format!("{MINIMAL}{extra}"), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
        let err = Config::from_toml("[http]\nlisten = \"nowhere\"\n", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn token_mode_needs_tokens_and_hashes_are_checked() {
        let err = Config::from_toml("", env(&[])).unwrap_err().to_string();
        assert!(err.contains("auth.tokens"), "{err}");
        let err = Config::from_toml("[[auth.tokens]]\ntoken_sha256 = \"abc\"\n", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("token_sha256"), "{err}");
        Config::from_toml("[auth]\nmode = \"noauth\"\n", env(&[])).unwrap();
    }

    #[test]
    fn redaction_hides_secrets() {
        let c = Config::from_toml(
            &format!("{MINIMAL}[amqp]\nurl = \"amqp://bob:hunter2@h:5672/%2f\"\n"),
            env(&[]),
        )
        .unwrap();
        let shown = c.redacted_toml();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("amqp://bob:***@h:5672/%2f"), "{shown}");
    }
}
