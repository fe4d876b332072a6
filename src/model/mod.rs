//! Domain types of herald: server ids, host names, event names and statuses,
//! placements. No HTTP or AMQP in them.
//!
//! Each type can only hold a valid value, so code past the parsing edge never
//! re-checks. Parsing errors are plain data the API turns into faults.

pub mod caller;
pub mod event;
pub mod ids;
pub mod placement;

pub use caller::Caller;
pub use event::{Event, EventName, EventStatus};
pub use ids::{HostName, HostNameError, RequestIds, ServerId, is_request_id};
pub use placement::{Migration, Placement};
