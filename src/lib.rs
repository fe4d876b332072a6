//! herald: a dispatcher of OpenStack-style external server events.
//!
//! It takes `POST /os-server-external-events` batches (Nova-compatible),
//! looks each server up in an instance directory, publishes the events to
//! per-host queues on RabbitMQ with publisher confirms, and answers with a
//! code per event. Compute agents consume the host queues.
//!
//! The modules below are declared in the order an event travels: from the
//! process that serves the request to the agent that prints it. What the
//! path stands on follows.

// 1. `herald serve`: opens the directory, starts the dispatcher, serves the
//    API, and stops them in order.
pub mod serve;

// 2. The accept loop (connection slots, header timeout, graceful drain) and
//    Nova's fault bodies.
pub mod web;

// 3. The routes: auth, microversion, body limits, validation, the per-event
//    outcome and the response.
pub mod api;

// 4. Which host each server is on (SQLite or PostgreSQL, or Nova's own
//    databases in Nova mode).
pub mod directory;

// 5. Grouping per host, the coalescing lanes, publish and await the confirm.
pub mod dispatch;

// 6. The broker contract shared by serve, agent and load: nodes, connect and
//    reconnect, names, declarations.
pub mod broker;

// 7. The message bodies: herald's on the host queues, and (Nova mode) the
//    oslo cast an unmodified nova-compute reads.
pub mod wire;

// 8. `herald agent`: consumes a host queue, drops redeliveries, hands each
//    event on (a JSON line on stdout), serves local waiters.
pub mod agent;

// Beside the path: the config hub, domain types, Keystone (auth.mode =
// "keystone"), the load generator, metrics, logs, and small helpers.
pub mod config;
pub mod keystone;
pub mod load;
pub mod metrics;
pub mod microversion;
pub mod model;
pub mod support;
pub mod telemetry;
