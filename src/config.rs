//! herald's configuration: one typed tree read from a TOML file, then
//! overridden by `HERALD__SECTION__KEY` environment variables, validated once.
//!
//! Loading takes the environment as an argument, so tests build a config
//! without touching the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The prefix of environment overrides (`HERALD__AMQP__URL`).
pub const ENV_PREFIX: &str = "HERALD";
/// The separator between prefix, section and key in environment overrides.
pub const ENV_SEPARATOR: &str = "__";

/// Why a configuration cannot be used. Each message names the culprit key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config: {0}")]
    Parse(#[from] config::ConfigError),
    #[error("config key {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

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

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Largest accepted request body; larger ones get 413 without being read.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8774)),
            max_body_bytes: 114_688,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `token` (tokens from this file) or `noauth` (everyone is admin).
    pub mode: AuthMode,
    /// A token needs any one of these roles.
    pub required_roles: Vec<String>,
    /// Known tokens (file only, never from the environment).
    pub tokens: Vec<TokenConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            required_roles: vec!["admin".into(), "service".into()],
            tokens: Vec::new(),
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Token,
    Noauth,
}

/// `[[auth.tokens]]`: a token (or its SHA-256) and its roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Hex SHA-256 of the token, instead of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// Roles the token carries.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[amqp]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpConfig {
    /// Broker URL; `?heartbeat=` and `?connection_timeout=` are honoured.
    pub url: String,
    /// The durable topic exchange events are published to.
    pub exchange: String,
    /// Routing keys are `<routing_prefix>.<host>`.
    pub routing_prefix: String,
    /// Host queues are `<queue_prefix>.<host>`.
    pub queue_prefix: String,
    /// How long the broker may take to confirm a message before its events get 503.
    #[serde(with = "humantime_serde")]
    pub confirm_timeout: Duration,
    /// Confirm-mode channels kept open for publishing (bounds concurrent batches).
    pub channels: usize,
    /// How long to wait for a free publishing channel before answering 503.
    #[serde(with = "humantime_serde")]
    pub channel_wait_timeout: Duration,
    /// How long one connection attempt may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First delay between reconnection attempts; doubles up to `reconnect_max_backoff`.
    #[serde(with = "humantime_serde")]
    pub reconnect_min_backoff: Duration,
    /// Longest delay between reconnection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "herald".into(),
            routing_prefix: "events".into(),
            queue_prefix: "herald.events".into(),
            confirm_timeout: Duration::from_secs(5),
            channels: 32,
            channel_wait_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            reconnect_min_backoff: Duration::from_millis(200),
            reconnect_max_backoff: Duration::from_secs(10),
        }
    }
}

/// `[directory]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// `sqlite` (embedded) or `postgres` (shared by replicas).
    pub backend: DirectoryBackend,
    /// SQLite: a file path or `:memory:`; PostgreSQL: a `postgres://` URL.
    pub url: String,
    /// Largest number of pooled database connections.
    pub max_connections: u32,
    /// How long a query may wait for a connection before the request gets 503.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            backend: DirectoryBackend::Sqlite,
            url: "var/herald.sqlite3".into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Which database holds the instance directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryBackend {
    Sqlite,
    Postgres,
}

/// `[agent]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Unacknowledged messages the broker may push at once.
    pub prefetch: u16,
    /// `classic` or `quorum`.
    pub queue_type: QueueType,
    /// Messages older than this expire from the host queue (to the DLX if set).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_ttl: Option<Duration>,
    /// Exchange that rejected and expired messages go to (declared by the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_exchange: Option<String>,
    /// Address of the local waiter API.
    pub waiter_listen: SocketAddr,
    /// How long received events are kept for late waiters.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How many handled message ids are remembered to drop redeliveries.
    pub dedup_capacity: usize,
    /// Most events kept for waiters at once; the oldest go first when over.
    pub max_retained_events: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            prefetch: 64,
            queue_type: QueueType::Classic,
            message_ttl: None,
            dead_letter_exchange: None,
            waiter_listen: SocketAddr::from(([127, 0, 0, 1], 8775)),
            retention: Duration::from_secs(300),
            dedup_capacity: 65_536,
            max_retained_events: 100_000,
        }
    }
}

/// The kind of queue the agent declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Classic,
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A tracing filter: `info`, or `info,herald=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
        if self.http.max_body_bytes == 0 {
            return Err(invalid("http.max_body_bytes", "must be greater than 0"));
        }
        self.auth.validate()?;
        self.amqp.validate()?;
        if self.directory.url.trim().is_empty() {
            return Err(invalid("directory.url", "must not be empty"));
        }
        if self.directory.max_connections == 0 {
            return Err(invalid(
                "directory.max_connections",
                "must be greater than 0",
            ));
        }
        if self.agent.prefetch == 0 {
            return Err(invalid("agent.prefetch", "must be greater than 0"));
        }
        if self.agent.dedup_capacity == 0 {
            return Err(invalid("agent.dedup_capacity", "must be greater than 0"));
        }
        if self.agent.max_retained_events == 0 {
            return Err(invalid(
                "agent.max_retained_events",
                "must be greater than 0",
            ));
        }
        if let Some(dlx) = &self.agent.dead_letter_exchange {
            check_amqp_name("agent.dead_letter_exchange", dlx)?;
        }
        if let Some(ttl) = self.agent.message_ttl
            && (ttl.is_zero() || ttl.as_millis() > i32::MAX as u128)
        {
            return Err(invalid(
                "agent.message_ttl",
                "must be between 1ms and about 24 days",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", e.to_string()))?;
        Ok(())
    }

    /// The configuration as TOML, with tokens and passwords masked.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        for t in &mut copy.auth.tokens {
            if t.token.is_some() {
                t.token = Some("***".into());
            }
        }
        copy.amqp.url = mask_url_password(&copy.amqp.url);
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

impl AuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == AuthMode::Token && self.tokens.is_empty() {
            return Err(invalid(
                "auth.tokens",
                "token mode needs at least one [[auth.tokens]] entry (or set auth.mode = \"noauth\")",
            ));
        }
        if self.mode == AuthMode::Token && self.required_roles.is_empty() {
            return Err(invalid(
                "auth.required_roles",
                "must name at least one role",
            ));
        }
        for t in &self.tokens {
            match (&t.token, &t.token_sha256) {
                (Some(tok), None) if !tok.is_empty() => {}
                (None, Some(hash)) => {
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(invalid("auth.tokens.token_sha256", "must be 64 hex digits"));
                    }
                }
                _ => {
                    return Err(invalid(
                        "auth.tokens",
                        "each entry needs exactly one of a non-empty `token` or `token_sha256`",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl AmqpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(|e| invalid("amqp.url", format!("not an AMQP URL: {e}")))?;
        check_amqp_name("amqp.exchange", &self.exchange)?;
        check_amqp_name("amqp.routing_prefix", &self.routing_prefix)?;
        check_amqp_name("amqp.queue_prefix", &self.queue_prefix)?;
        if self.exchange.is_empty() {
            return Err(invalid(
                "amqp.exchange",
                "must not be empty (the default exchange cannot be bound)",
            ));
        }
        if self.exchange.starts_with("amq.") {
            return Err(invalid(
                "amqp.exchange",
                "names starting with `amq.` are reserved by the broker",
            ));
        }
        if self.confirm_timeout.is_zero() {
            return Err(invalid("amqp.confirm_timeout", "must be greater than 0"));
        }
        if self.channels == 0 {
            return Err(invalid("amqp.channels", "must be greater than 0"));
        }
        if self.reconnect_min_backoff.is_zero()
            || self.reconnect_min_backoff > self.reconnect_max_backoff
        {
            return Err(invalid(
                "amqp.reconnect_min_backoff",
                "must be greater than 0 and at most amqp.reconnect_max_backoff",
            ));
        }
        Ok(())
    }
}

/// Names that become AMQP short strings with a host appended stay short.
fn check_amqp_name(key: &'static str, name: &str) -> Result<(), ConfigError> {
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
        assert_eq!(c.amqp.url, "amqp://u:p@10.0.0.1:5672/%2f");
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
