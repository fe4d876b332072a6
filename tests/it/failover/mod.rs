//! Broker nodes that die, on RabbitMQ nodes the tests own (never the
//! machine's broker): serve recovering from a node killed and restarted,
//! and a 3-node quorum cluster losing the node serve uses, a follower, its
//! majority, and the agent's node; and a host whose queue stops confirming
//! while the others go on. Each scenario prints its figures
//! (`failover:` lines) for the closing notes; timings are reported, not
//! asserted, beyond generous deadlines.

mod cluster;
pub(crate) mod driver;
mod load_run;
mod solo;
mod stuck_queue;
