//! The AMQP side of `herald serve`: topology names, per-host grouping, the
//! supervised broker connection and publishing with confirms.

pub mod topology;
