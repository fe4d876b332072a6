//! What a delivered message becomes on the agent: one [`ReceivedEvent`] per
//! event (the object written as a stdout line and answered to waiters) and
//! the [`MessageMeta`] of the message that carried them.

use std::sync::Arc;

use serde::Serialize;

use crate::model::{EventName, EventStatus, HostName, ServerId};
use crate::wire::Decoded;

/// One received event, as handed on: the event's own fields plus where it
/// came from. Serialises to the stdout line; absent options have no key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedEvent {
    pub name: EventName,
    pub server_uuid: ServerId,
    pub status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub message_id: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_request_id: Option<String>,
    /// When this agent received the message (RFC 3339 UTC, milliseconds).
    pub received_at: String,
}

impl ReceivedEvent {
    /// The event as one JSON line, newline included.
    pub fn to_json_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self)
            .expect("a ReceivedEvent always serialises: strings and enums only");
        line.push(b'\n');
        line
    }
}

/// The metadata of the message that carried a batch of events (the
/// request ids are each event's: a version 2 message may hold several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub message_id: String,
    /// The body version it came in.
    pub version: u32,
    /// The host the dispatcher addressed the message to.
    pub host: HostName,
    /// When the dispatcher sent it (as it wrote it).
    pub sent_at: String,
    /// When this agent received it.
    pub received_at: String,
    /// Whether the broker flagged it as a redelivery (it may have been seen
    /// by an agent that died before acking).
    pub redelivered: bool,
}

/// One delivered message, decoded: what a [`Handler`](super::Handler) gets.
/// Cloning is cheap (the events are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub meta: MessageMeta,
    pub events: Vec<Arc<ReceivedEvent>>,
}

impl Delivered {
    /// Builds the hand-on view of a decoded message (either body version).
    pub fn new(message: Decoded, redelivered: bool, received_at: String) -> Self {
        let events = message
            .events
            .into_iter()
            .map(|e| {
                Arc::new(ReceivedEvent {
                    name: e.name,
                    server_uuid: e.server_uuid,
                    status: e.status,
                    tag: e.tag,
                    message_id: message.message_id.clone(),
                    request_id: e.request_id,
                    global_request_id: e.global_request_id,
                    received_at: received_at.clone(),
                })
            })
            .collect();
        let meta = MessageMeta {
            message_id: message.message_id,
            version: message.version,
            host: message.host,
            sent_at: message.sent_at,
            received_at,
            redelivered,
        };
        Self { meta, events }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, WireEvent, decode};

    fn message(tag: Option<&str>, global: Option<&str>) -> Decoded {
        let m = Message {
            version: 1,
            message_id: "m-1".into(),
            request_id: "req-1".into(),
            global_request_id: global.map(str::to_owned),
            host: HostName::parse("compute-1").unwrap(),
            sent_at: "2026-11-27T10:00:00.000Z".into(),
            events: vec![WireEvent {
                name: EventName::NetworkVifPlugged,
                server_uuid: ServerId::parse("3df201cf-2451-44f2-8d25-a4ca826fc1f3").unwrap(),
                status: EventStatus::Completed,
                tag: tag.map(str::to_owned),
            }],
        };
        decode(&m.encode()).unwrap()
    }

    #[test]
    fn lines_carry_the_event_and_its_message() {
        let d = Delivered::new(
            message(Some("t"), Some("req-g")),
            false,
            "2026-11-27T10:00:01.000Z".into(),
        );
        let line = d.events[0].to_json_line();
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "name": "network-vif-plugged",
                "server_uuid": "3df201cf-2451-44f2-8d25-a4ca826fc1f3",
                "status": "completed",
                "tag": "t",
                "message_id": "m-1",
                "request_id": "req-1",
                "global_request_id": "req-g",
                "received_at": "2026-11-27T10:00:01.000Z",
            })
        );
    }

    #[test]
    fn absent_tag_and_global_request_id_have_no_key() {
        let d = Delivered::new(message(None, None), true, "now".into());
        let v: serde_json::Value = serde_json::from_slice(&d.events[0].to_json_line()).unwrap();
        assert!(v.get("tag").is_none(), "{v}");
        assert!(v.get("global_request_id").is_none(), "{v}");
        assert!(d.meta.redelivered);
        assert_eq!(d.meta.message_id, "m-1");
    }
}
