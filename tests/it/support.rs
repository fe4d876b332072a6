//! The one test harness. Every test builds on these, never on a copy:
//!
//! - [`names`]: unique names for what a test creates on shared servers
//!   (exchanges, queues, databases, Keystone projects) and the config built on them;
//! - [`poll`]: the one poll loop ([`poll_until`], [`poll_for`]) and [`within`],
//!   the deadline for one step;
//! - [`broker`]: the machine's RabbitMQ: a connection, binding a host's queue,
//!   draining it, and [`BrokerCleanup`], the one clean-up of what a test declared;
//! - [`app`]: [`TestApp`], `herald serve` in this process on port 0;
//! - [`child`]: [`HeraldChild`], the built binary (`serve`, `agent`) as a child
//!   process, its address read back from the kernel;
//! - [`group`]: [`group::ProcessGroup`], a service of the test's own (a RabbitMQ
//!   node, a Keystone, nova-compute) as a process group;
//! - [`http`]: the one HTTP client ([`Reply`]) and a plain-socket [`get`];
//! - [`raw`]: HTTP/1.1 spelled out over a socket, for what clients never send;
//! - [`parts`]: [`parts::require!`], the visible skip of a test whose parts
//!   (Keystone, the Python clients) are missing, a failure under `CI=true`;
//! - [`load`]: `herald load`'s flags parsed as the binary parses them;
//! - [`certs`]: the tests' CA and certificates ([`certs::TestCa`], [`certs::TestPki`]).

pub mod app;
pub mod broker;
pub mod certs;
pub mod child;
pub mod group;
pub mod http;
pub mod listening;
pub mod load;
pub mod names;
pub mod parts;
pub mod poll;
pub mod raw;

pub use app::{TestApp, event_for, serve_config};
pub use broker::{BrokerCleanup, bind_queue, broker, drain};
pub use child::HeraldChild;
pub use http::{Reply, get};
pub use load::{load_args, load_at, load_config_file, run_load};
pub use names::{new_uuid, unique_config, unique_name};
pub use poll::{ANSWER_DEADLINE, poll_for, poll_until, within};

/// The machine's RabbitMQ (scripts/test.sh starts it when it is down).
pub const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Tokens of [`TestApp`]'s config, one per role.
pub const ADMIN_TOKEN: &str = "admin-secret";
pub const SERVICE_TOKEN: &str = "service-secret";
pub const READER_TOKEN: &str = "reader-secret";
