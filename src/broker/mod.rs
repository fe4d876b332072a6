//! The broker contract shared by `herald serve` (dispatch), `herald agent`
//! and `herald load`: the `[amqp]` section, the node list, connecting with a
//! timeout and failover, the one reconnect backoff, topology names and queue
//! arguments, declarations and AMQP name checks. It uses none of its users.
//!
//! # Layout
//! - [`config`]: `[amqp]`'s broker keys ([`AmqpConfig`]) and the host-queue
//!   keys of `[agent]` ([`QueueSettings`]).
//! - [`nodes`]: the broker node list (`amqp.url`, one or several nodes).
//! - [`cell`]: a Nova cell's broker, from its `transport_url`.
//! - [`connect`]: one connection attempt, and a failover round over the nodes.
//! - [`backoff`]: the jittered, overflow-safe reconnect delay.
//! - [`supervisor`]: the one reconnect loop (serve's link, the agent, load's consumers).
//! - [`topology`]: names and host-queue arguments.
//! - [`declare`]: the exchange, host queue + binding, dead-letter topology.
//! - [`names`]: AMQP short strings and config-time name checks.

pub mod backoff;
pub mod cell;
pub mod config;
pub mod connect;
pub mod declare;
pub mod names;
pub mod nodes;
pub mod supervisor;
pub mod topology;

pub use backoff::Backoff;
pub use cell::{CellBroker, TransportUrlError};
pub use config::{AmqpConfig, NovaTopic, QueueSettings, Wire};
pub use connect::{ConnectError, Connected, probe, probe_nova};
pub use declare::{DeclareError, check_exchange_exists, declare_exchange, declare_topology};
pub use names::{NameTooLong, short};
pub use nodes::{BrokerUrls, Node};
pub use supervisor::{Ended, Reconnect};
pub use topology::{QueueType, Topology};
