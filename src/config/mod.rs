//! herald's configuration: one typed tree read from a TOML file, then
//! overridden by `HERALD__SECTION__KEY` environment variables, validated once.
//!
//! This hub only composes: each room owns the type of its settings, with
//! their defaults and checks, and the hub says which file section each type
//! is read from. A section may feed more than one room (users keep the keys
//! where they have always been; see `sections`). Loading takes the
//! environment as an argument, so tests build a config without touching the
//! process environment.

mod sections;

use std::path::Path;

use serde::Serialize;

use crate::agent::{self, AgentConfig};
use crate::api::auth_config::{AuthConfig, AuthMode};
use crate::broker::{AmqpConfig, QueueSettings, Wire};
use crate::directory::config::{DirectoryBackend, DirectoryConfig};
use crate::dispatch::DispatchConfig;
use crate::keystone::KeystoneConfig;
use crate::load;
use crate::support::config_error::ConfigError;
use crate::support::mask::mask_url_password;
use crate::telemetry::LogConfig;
use crate::web::config::HttpConfig;
use sections::Root;

/// The prefix of environment overrides (`HERALD__AMQP__URL`).
pub const ENV_PREFIX: &str = "HERALD";
/// The separator between prefix, section and key in environment overrides.
pub const ENV_SEPARATOR: &str = "__";

/// The whole configuration, one field per owner; the comment of each says
/// which file section it is read from.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `[http]`: the HTTP front end.
    pub http: HttpConfig,
    /// `[auth]` mode, roles and tokens: who may call the API.
    pub auth: AuthConfig,
    /// `[auth]`'s Keystone keys (`auth.mode = "keystone"`).
    pub keystone: KeystoneConfig,
    /// `[amqp]`'s broker keys: nodes, names, connect timing.
    pub amqp: AmqpConfig,
    /// `[amqp]`'s publish and coalescing keys.
    pub dispatch: DispatchConfig,
    /// `[directory]`: where the instance directory lives.
    pub directory: DirectoryConfig,
    /// `[agent]`: the compute agent (`herald agent`).
    pub agent: AgentConfig,
    /// `[agent]`'s host-queue keys: how host queues are declared.
    pub queue: QueueSettings,
    /// `[log]`: logging.
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
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
        let overrides = env.into_iter().filter(|(k, _)| k.starts_with(&prefix));
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    .try_parsing(true)
                    .source(Some(overrides.collect())),
            )
            .build()?;
        let config = Self::compose(Root::new(built)?)?;
        config.validate()?;
        Ok(config)
    }

    /// Hands each owner its keys: the one place that maps sections to rooms.
    fn compose(mut root: Root) -> Result<Self, ConfigError> {
        let mut http = root.section("http")?;
        let mut auth = root.section("auth")?;
        let mut amqp = root.section("amqp")?;
        let mut directory = root.section("directory")?;
        let mut agent = root.section("agent")?;
        let mut log = root.section("log")?;
        root.finish()?;
        let config = Self {
            http: http.take()?,
            auth: auth.take()?,
            keystone: auth.take()?,
            amqp: amqp.take()?,
            dispatch: amqp.take()?,
            directory: directory.take()?,
            agent: agent.take()?,
            queue: agent.take()?,
            log: log.take()?,
        };
        for section in [http, auth, amqp, directory, agent, log] {
            section.finish()?;
        }
        Ok(config)
    }

    /// Checks what types alone cannot, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.auth.validate()?;
        if self.auth.mode == AuthMode::Keystone {
            self.keystone.validate()?;
        }
        self.amqp.validate()?;
        self.dispatch.validate()?;
        self.directory.validate()?;
        self.agent.validate()?;
        self.queue.validate()?;
        self.log.validate()?;
        self.check_nova_mix()
    }

    /// Nova's wire carries the instance rows only Nova's directory reads.
    fn check_nova_mix(&self) -> Result<(), ConfigError> {
        if self.amqp.wire == Wire::Nova && self.directory.backend != DirectoryBackend::Nova {
            return Err(crate::support::config_error::invalid(
                "amqp.wire",
                "\"nova\" needs directory.backend = \"nova\" (the casts carry Nova's instance rows)",
            ));
        }
        Ok(())
    }

    /// What `herald agent` runs with.
    pub fn agent_settings(&self) -> agent::Settings {
        agent::Settings {
            agent: self.agent.clone(),
            amqp: self.amqp.clone(),
            queue: self.queue.clone(),
        }
    }

    /// What `herald load` runs with (before its `--amqp-url` and `--exchange`).
    pub fn load_settings(&self) -> load::BrokerSettings {
        load::BrokerSettings {
            amqp: self.amqp.clone(),
            queue: self.queue.clone(),
        }
    }

    /// The configuration as TOML, with tokens and passwords masked.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        for t in &mut copy.auth.tokens {
            if t.token.is_some() {
                t.token = Some("***".into());
            }
        }
        if !copy.keystone.password.is_empty() {
            copy.keystone.password = "***".into();
        }
        copy.amqp.url = copy.amqp.url.masked();
        copy.directory.url = mask_url_password(&copy.directory.url);
        copy.directory.nova_database_url = mask_url_password(&copy.directory.nova_database_url);
        toml::to_string(&copy)
            .expect("the config tree serialises to TOML: it holds only tables, strings and numbers")
    }
}

/// Written in the file's layout, so what is written reads back the same.
impl Serialize for Config {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        File::of(self).serialize(serializer)
    }
}

/// The file's layout: each section's owners side by side, as `compose` reads them.
#[derive(Serialize)]
struct File<'a> {
    http: &'a HttpConfig,
    auth: Pair<'a, AuthConfig, KeystoneConfig>,
    amqp: Pair<'a, AmqpConfig, DispatchConfig>,
    directory: &'a DirectoryConfig,
    agent: Pair<'a, AgentConfig, QueueSettings>,
    log: &'a LogConfig,
}

/// Two owners' keys in one section.
#[derive(Serialize)]
struct Pair<'a, A, B> {
    #[serde(flatten)]
    first: &'a A,
    #[serde(flatten)]
    second: &'a B,
}

impl<'a> File<'a> {
    fn of(c: &'a Config) -> Self {
        Self {
            http: &c.http,
            auth: Pair {
                first: &c.auth,
                second: &c.keystone,
            },
            amqp: Pair {
                first: &c.amqp,
                second: &c.dispatch,
            },
            directory: &c.directory,
            agent: Pair {
                first: &c.agent,
                second: &c.queue,
            },
            log: &c.log,
        }
    }
}

#[cfg(test)]
mod tests;
