//! Transport security (contract §9): a setting that asks for TLS never ends
//! in a plaintext connection.
//!
//! - [`downgrade`]: `amqps://` at the machine's plain AMQP port never connects.
//! - [`broker`]: mutual TLS to a RabbitMQ node of the test's own.
//! - [`keystone`]: keystone mode against a Keystone behind TLS.
//! - [`certs`]: the CA and certificates the tests make.
//! - [`serve_child`]: `herald serve` as a process whose log the test reads.

mod broker;
pub(crate) mod certs;
mod downgrade;
mod keystone;
pub(crate) mod serve_child;
