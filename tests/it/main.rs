//! herald's integration tests: one binary, one module per area. They talk
//! to the real RabbitMQ on 127.0.0.1:5672 and real databases; scripts/test.sh
//! starts those when they are down.

// A failed unwrap in a test is the test's failure message.
#![allow(clippy::unwrap_used)]

mod agent;
mod broker_node;
mod cli;
mod clients;
mod coalesce;
mod delivery;
mod directory_api;
mod directory_store;
mod end_to_end;
mod failover;
mod forwarded;
mod fuzz;
mod healthcheck;
mod hostile;
mod http_edges;
mod http_wire;
mod https;
mod keystone;
mod load;
mod nova;
mod nova_cases;
mod nova_wire;
mod proxy;
mod replicas;
mod resilience;
mod support;
