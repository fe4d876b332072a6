//! The one integration-test binary: each module tests one part of herald
//! against the real RabbitMQ on 127.0.0.1:5672, with unique names.

mod agent;
