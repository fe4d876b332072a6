//! The AMQP side of `herald serve`: topology names, per-host grouping, the
//! supervised broker connection and publishing with confirms.

pub mod topology;

/// Connects once to the broker and closes again: does it answer?
pub async fn probe(_amqp: &crate::config::AmqpConfig) -> Result<(), lapin::Error> {
    todo!()
}
