//! Transport security (contract §9): a setting that asks for TLS never ends
//! in a plaintext connection.
//!
//! - [`downgrade`]: `amqps://` at the machine's plain AMQP port never connects.
//! - [`broker`]: mutual TLS to a RabbitMQ node of the test's own.
//! - [`keystone`]: keystone mode against a Keystone behind TLS.
//! - [`postgres`]: the directory on a PostgreSQL cluster of the test's own with TLS.
//! - the CA and certificates: [`crate::support::certs::TestPki`].
//! - [`serve_child`]: `herald serve` as a process whose log the test reads.
//! - [`own_postgres`]: a PostgreSQL cluster the test starts, with TLS on.

mod broker;
mod downgrade;
mod keystone;
mod own_postgres;
mod postgres;
pub(crate) mod serve_child;
