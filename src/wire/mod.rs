//! The AMQP message bodies herald publishes, one room per wire:
//! - [`herald`]: herald's own bodies (versions 1 and 2), read by herald
//!   agents (`amqp.wire = "herald"`, the default). Re-exported here, so
//!   `wire::Message` and friends name them.
//! - [`nova`]: the oslo.messaging cast nova-api's compute RPC API sends,
//!   read by unmodified nova-compute (`amqp.wire = "nova"`).

pub mod herald;
pub mod nova;

pub use herald::*;
