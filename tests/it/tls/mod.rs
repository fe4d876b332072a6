//! Transport security (contract §9): a setting that asks for TLS never ends
//! in a plaintext connection.
//!
//! - [`downgrade`]: `amqps://` at the machine's plain AMQP port never connects.

mod downgrade;
