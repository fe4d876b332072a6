//! herald: a dispatcher of OpenStack-style external server events.
//!
//! It takes `POST /os-server-external-events` batches (Nova-compatible),
//! looks each server up in an instance directory, publishes the events to
//! per-host queues on RabbitMQ with publisher confirms, and answers with a
//! code per event. Compute agents consume the host queues.
//!
//! # Layout
//! - [`config`]: the typed configuration tree (file + environment).
//! - [`config_error`]: the config error type every section's validation returns.
//! - [`model`]: domain types (server ids, host names, event names).
//! - [`microversion`]: the compute API microversion type and served range.
//! - [`wire`]: the AMQP message bodies (v1, v2) shared by dispatcher and agent.
//! - [`web`]: accept loop with graceful shutdown, fault bodies.
//! - [`api`]: the HTTP routes of `herald serve`, the API error type, negotiation.
//! - [`keystone`]: Keystone v3 token validation (`auth.mode = "keystone"`).
//! - [`directory`]: the instance directory on SQLite or PostgreSQL.
//! - [`broker`]: the broker contract: node list, failover connect, backoff, names, declarations.
//! - [`dispatch`]: per-host grouping, coalescing lanes, the supervised connection, publish + confirm.
//! - [`agent`]: the compute agent (`herald agent`) and its waiter API.
//! - [`load`]: the load generator (`herald load`).
//! - [`metrics`]: Prometheus metrics.
//! - [`telemetry`], [`shutdown`]: logs and signals.
//! - [`limits`]: the open-files limit raised at start-up.
//! - [`error_chain`]: one line for an error and its causes.
//! - [`rate_log`]: a log line that cannot flood (first, then a count per interval).
//! - [`tls`]: one rustls client config (ring provider) from a room's TLS settings.
//! - [`plain_lock`]: locking a mutex over plain data, poisoning ignored.

pub mod agent;
pub mod api;
pub mod broker;
pub mod config;
pub mod config_error;
pub mod directory;
pub mod dispatch;
pub mod error_chain;
pub mod keystone;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod microversion;
pub mod model;
pub mod plain_lock;
pub mod rate_log;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod web;
pub mod wire;
