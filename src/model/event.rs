//! What an event is: its name (and the microversion that introduced it),
//! the status its sender gives, and one validated event of a batch.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::ServerId;
use crate::microversion::Microversion;

/// The external event names herald knows, each with the microversion that
/// introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventName {
    NetworkChanged,
    NetworkVifPlugged,
    NetworkVifUnplugged,
    NetworkVifDeleted,
    VolumeExtended,
    PowerUpdate,
    AcceleratorRequestBound,
    VolumeReimaged,
}

impl EventName {
    /// Every name, in the order the microversions introduced them.
    pub const ALL: [EventName; 8] = [
        Self::NetworkChanged,
        Self::NetworkVifPlugged,
        Self::NetworkVifUnplugged,
        Self::NetworkVifDeleted,
        Self::VolumeExtended,
        Self::PowerUpdate,
        Self::AcceleratorRequestBound,
        Self::VolumeReimaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetworkChanged => "network-changed",
            Self::NetworkVifPlugged => "network-vif-plugged",
            Self::NetworkVifUnplugged => "network-vif-unplugged",
            Self::NetworkVifDeleted => "network-vif-deleted",
            Self::VolumeExtended => "volume-extended",
            Self::PowerUpdate => "power-update",
            Self::AcceleratorRequestBound => "accelerator-request-bound",
            Self::VolumeReimaged => "volume-reimaged",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == text)
    }

    /// The microversion from which the name is accepted.
    pub fn introduced_in(self) -> Microversion {
        match self {
            Self::NetworkChanged
            | Self::NetworkVifPlugged
            | Self::NetworkVifUnplugged
            | Self::NetworkVifDeleted => Microversion::new(2, 1),
            Self::VolumeExtended => Microversion::new(2, 51),
            Self::PowerUpdate => Microversion::new(2, 76),
            Self::AcceleratorRequestBound => Microversion::new(2, 82),
            Self::VolumeReimaged => Microversion::new(2, 93),
        }
    }

    /// The names a request at `version` may use.
    pub fn allowed_at(version: Microversion) -> impl Iterator<Item = EventName> {
        Self::ALL
            .into_iter()
            .filter(move |n| n.introduced_in() <= version)
    }

    /// Whether Nova refuses the event (per-event 400) when it carries no tag.
    pub fn requires_tag(self) -> bool {
        matches!(
            self,
            Self::VolumeExtended | Self::PowerUpdate | Self::AcceleratorRequestBound
        )
    }

    /// Whether `tag` is acceptable for this name. Only `power-update`
    /// restricts it; Nova would accept any tag and then silently drop it.
    pub fn accepts_tag(self, tag: &str) -> bool {
        match self {
            Self::PowerUpdate => matches!(tag, "POWER_ON" | "POWER_OFF"),
            _ => true,
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status a caller attaches to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventStatus {
    #[default]
    Completed,
    Failed,
    InProgress,
}

impl EventStatus {
    pub const ALL: [EventStatus; 3] = [Self::Failed, Self::Completed, Self::InProgress];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::InProgress => "in-progress",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One validated event of a request, ready to be judged and dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: EventName,
    pub server: ServerId,
    /// The `server_uuid` exactly as the caller sent it, echoed in the response.
    pub server_uuid_as_sent: String,
    /// The status the caller sent (default `completed`), travels with the message.
    pub status: EventStatus,
    pub tag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_microversion() {
        let at = |minor| EventName::allowed_at(Microversion::new(2, minor)).count();
        assert_eq!(at(1), 4);
        assert_eq!(at(50), 4);
        assert_eq!(at(51), 5);
        assert_eq!(at(76), 6);
        assert_eq!(at(82), 7);
        assert_eq!(at(93), 8);
        assert_eq!(at(104), 8);
    }

    #[test]
    fn names_round_trip() {
        for n in EventName::ALL {
            assert_eq!(EventName::parse(n.as_str()), Some(n));
        }
        assert_eq!(EventName::parse("test-event"), None);
    }

    #[test]
    fn power_update_tags() {
        assert!(EventName::PowerUpdate.accepts_tag("POWER_ON"));
        assert!(EventName::PowerUpdate.accepts_tag("POWER_OFF"));
        assert!(!EventName::PowerUpdate.accepts_tag("foo"));
        assert!(!EventName::PowerUpdate.accepts_tag(""));
        assert!(EventName::VolumeExtended.accepts_tag(""));
    }
}
