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
//! - [`microversion`]: compute API microversion negotiation.
//! - [`wire`]: the AMQP message body shared by dispatcher and agent.
//! - [`http`]: accept loop with graceful shutdown, fault bodies.
//! - [`api`]: the HTTP routes of `herald serve`.
//! - [`keystone`]: Keystone v3 token validation (`auth.mode = "keystone"`).
//! - [`directory`]: the instance directory on SQLite or PostgreSQL.
//! - [`dispatch`]: broker connection, topology names, grouping, publish + confirm.
//! - [`agent`]: the compute agent (`herald agent`) and its waiter API.
//! - [`load`]: the load generator (`herald load`).
//! - [`metrics`]: Prometheus metrics.
//! - [`telemetry`], [`shutdown`]: logs and signals.

pub mod agent;
pub mod api;
pub mod broker;
pub mod config;
pub mod config_error;
pub mod directory;
pub mod dispatch;
pub mod error_chain;
pub mod http;
pub mod keystone;
pub mod load;
pub mod metrics;
pub mod microversion;
pub mod model;
pub mod shutdown;
pub mod telemetry;
pub mod wire;
