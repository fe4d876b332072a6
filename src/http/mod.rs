//! HTTP plumbing shared by the API server and the agent's waiter API:
//! the accept loop with graceful shutdown, and fault responses.

pub mod config;
pub mod fault;
pub mod server;

/// The response body type of every herald route.
pub type Body = http_body_util::Full<bytes::Bytes>;
