//! Nova's wire (`amqp.wire = "nova"`) on real brokers: the casts herald
//! publishes, where they go and what an unbound host, a missing exchange or
//! a cell broker's outage make of them. The end-to-end test with an
//! unmodified nova-compute is in `compute`.

mod cells;
mod publish;
mod support;
