//! Nova's wire (`amqp.wire = "nova"`) on real brokers: the casts herald
//! publishes, where they go and what an unbound host, a missing exchange or
//! a cell broker's outage make of them (`publish`, `cells`), and herald
//! serving Nova's real cells to an unmodified nova-compute (`compute`).

mod cells;
mod compute;
mod publish;
mod services;
mod support;
mod writes;
