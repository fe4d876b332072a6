//! One way to name what a test creates on servers other tests share: every
//! exchange, queue, database and Keystone object carries a name made here,
//! unique to the test, so tests never meet and never depend on order. The
//! base config of every serve and agent a test runs is built on those names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use herald::api::auth_config::AuthMode;
use herald::config::Config;

use super::BROKER;

/// A fresh server uuid.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `herald-test-<32 hex digits>`: a name no other test or run uses.
pub fn unique_name() -> String {
    format!("herald-test-{}", uuid::Uuid::new_v4().simple())
}

/// [`unique_name`] as an SQL identifier (`herald_test_…`).
pub fn unique_db_name() -> String {
    unique_name().replace('-', "_")
}

/// A config of the test's own on the machine's broker: a unique exchange,
/// routing and queue prefix, loopback listeners on port 0, reconnects quick
/// enough for a test, no auth. Serve ([`super::serve_config`]) and agents
/// add their own.
pub fn unique_config() -> Config {
    let name = unique_name();
    let loopback_any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = Config::default();
    config.http.listen = loopback_any_port;
    // An agent has no use for serve's tokens; serve's config sets its own.
    config.auth.mode = AuthMode::Noauth;
    config.amqp.url = BROKER.into();
    config.amqp.routing_prefix = format!("ev{}", &name[12..20]);
    config.amqp.queue_prefix = format!("{name}.q");
    config.amqp.exchange = name;
    config.amqp.reconnect_min_backoff = Duration::from_millis(50);
    config.amqp.reconnect_max_backoff = Duration::from_millis(500);
    config.amqp.connect_timeout = Duration::from_secs(5);
    config.agent.waiter_listen = loopback_any_port;
    config.agent.shutdown_grace = Duration::from_secs(5);
    config
}

/// Writes `config` as `dir/herald.toml`, where a child process (or
/// `herald load --config`) reads it; returns the path.
pub fn write_config(config: &Config, dir: &Path) -> PathBuf {
    let path = dir.join("herald.toml");
    let text = toml::to_string(config).expect("the config serialises");
    std::fs::write(&path, text).expect("the temp dir is writable");
    path
}

#[test]
fn names_are_unique_and_fit_where_they_go() {
    let (a, b) = (unique_config(), unique_config());
    assert_ne!(a.amqp.exchange, b.amqp.exchange);
    assert_ne!(a.amqp.queue_prefix, b.amqp.queue_prefix);
    assert!(a.amqp.queue_prefix.starts_with(&a.amqp.exchange));
    let db = unique_db_name();
    assert!(
        db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "{db}"
    );
}
