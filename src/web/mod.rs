//! The web plumbing shared by the API server and the agent's waiter API:
//! the hyper accept loop with graceful shutdown, each connection's life
//! (HTTPS included), the `[http]` config, trusted proxies and the origin
//! they forward, and fault responses. (Named `web` so it does not shadow
//! the `http` crate.)

pub mod config;
pub mod connection;
pub mod fault;
pub mod forwarded;
pub mod proxies;
pub mod server;
pub mod slots;
pub mod tls;

/// The response body type of every herald route.
pub type Body = http_body_util::Full<bytes::Bytes>;
