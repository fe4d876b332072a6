//! herald's own wire (`amqp.wire = "herald"`): the message contract between
//! the dispatcher and herald agents. Body version 1 carries one request's
//! events for one host, ids on the message; version 2 carries events of
//! several requests, ids on each event. Both sides use these types, so the
//! format lives in one place.
//!
//! Consumers ignore fields they do not know, so the format can grow.

use serde::{Deserialize, Serialize};

use crate::model::{EventName, EventStatus, HostName, ServerId};

/// Body version 1: the ids are the message's (`amqp.coalesce = false`).
pub const BODY_V1: u32 = 1;
/// Body version 2: the ids are each event's (coalesced messages).
pub const BODY_V2: u32 = 2;
/// AMQP `type` property of every message.
pub const MESSAGE_TYPE: &str = "external_instance_event";
/// AMQP `app_id` property of every message.
pub const APP_ID: &str = "herald";
/// AMQP `content_type` property of every message.
pub const CONTENT_TYPE: &str = "application/json";

/// A version 1 message: the events of one request for one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub version: u32,
    pub message_id: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_request_id: Option<String>,
    pub host: HostName,
    /// RFC 3339 UTC with milliseconds.
    pub sent_at: String,
    pub events: Vec<WireEvent>,
}

/// An event as it travels: canonical server UUID, the caller's own status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    pub name: EventName,
    pub server_uuid: ServerId,
    pub status: EventStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A version 2 message: events for one host from one or several requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageV2 {
    pub version: u32,
    pub message_id: String,
    pub host: HostName,
    /// RFC 3339 UTC with milliseconds.
    pub sent_at: String,
    pub events: Vec<WireEventV2>,
}

/// An event of a version 2 body: the event and the ids of its request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEventV2 {
    pub name: EventName,
    pub server_uuid: ServerId,
    pub status: EventStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_request_id: Option<String>,
}

/// A body of either version, read into one shape: every event with the ids
/// of the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub version: u32,
    pub message_id: String,
    pub host: HostName,
    pub sent_at: String,
    pub events: Vec<WireEventV2>,
}

/// Why a delivered body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message body is not valid JSON for herald")]
    Json(#[from] serde_json::Error),
    #[error(
        "message body version {0} is not supported (this build reads versions {BODY_V1} and {BODY_V2})"
    )]
    UnsupportedVersion(u32),
}

impl Message {
    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

impl MessageV2 {
    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

/// A version 2 body written from borrowed events (the lanes' publisher
/// does not copy its requests' events to send them): the same JSON as a
/// [`MessageV2`] with these fields.
#[derive(Debug, Serialize)]
pub struct MessageV2Ref<'a> {
    pub version: u32,
    pub message_id: &'a str,
    pub host: &'a HostName,
    pub sent_at: &'a str,
    pub events: Vec<&'a WireEventV2>,
}

impl MessageV2Ref<'_> {
    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

/// A body as JSON, into a buffer sized for a small message at once.
fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(512);
    serde_json::to_writer(&mut bytes, body)
        .expect("a message body always serialises: it holds only strings and enums");
    bytes
}

/// Parses a body of version 1 or 2, refusing versions this build does not read.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    #[derive(Deserialize)]
    struct Probe {
        version: u32,
    }
    let probe: Probe = serde_json::from_slice(bytes)?;
    match probe.version {
        BODY_V1 => {
            let m: Message = serde_json::from_slice(bytes)?;
            let events = m
                .events
                .into_iter()
                .map(|e| WireEventV2 {
                    name: e.name,
                    server_uuid: e.server_uuid,
                    status: e.status,
                    tag: e.tag,
                    request_id: m.request_id.clone(),
                    global_request_id: m.global_request_id.clone(),
                })
                .collect();
            Ok(Decoded {
                version: BODY_V1,
                message_id: m.message_id,
                host: m.host,
                sent_at: m.sent_at,
                events,
            })
        }
        BODY_V2 => {
            let m: MessageV2 = serde_json::from_slice(bytes)?;
            Ok(Decoded {
                version: BODY_V2,
                message_id: m.message_id,
                host: m.host,
                sent_at: m.sent_at,
                events: m.events,
            })
        }
        other => Err(DecodeError::UnsupportedVersion(other)),
    }
}

/// The `correlation_id` of a message whose events carry these request ids:
/// the id when every event shares one, `None` otherwise (or when empty).
pub fn shared_request_id<'a>(mut ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let first = ids.next()?;
    ids.all(|id| id == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            version: 1,
            message_id: "m".into(),
            request_id: "req-1".into(),
            global_request_id: None,
            host: HostName::parse("compute-1").unwrap(),
            sent_at: "2026-11-27T10:00:00.000Z".into(),
            events: vec![WireEvent {
                name: EventName::NetworkVifPlugged,
                server_uuid: ServerId::parse("3df201cf-2451-44f2-8d25-a4ca826fc1f3").unwrap(),
                status: EventStatus::InProgress,
                tag: None,
            }],
        }
    }

    #[test]
    fn round_trips_and_omits_absent_fields() {
        let m = sample();
        let text = String::from_utf8(m.encode()).unwrap();
        assert!(!text.contains("global_request_id"));
        assert!(!text.contains("\"tag\""));
        assert!(text.contains("\"status\":\"in-progress\""));
        let d = decode(text.as_bytes()).unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(d.message_id, "m");
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].request_id, "req-1");
        assert_eq!(d.events[0].global_request_id, None);
        assert_eq!(d.events[0].status, EventStatus::InProgress);
    }

    fn sample_v2() -> MessageV2 {
        let e = &sample().events[0];
        let ev = |rid: &str, global: Option<&str>| WireEventV2 {
            name: e.name,
            server_uuid: e.server_uuid,
            status: e.status,
            tag: Some("t".into()),
            request_id: rid.into(),
            global_request_id: global.map(str::to_owned),
        };
        MessageV2 {
            version: 2,
            message_id: "m2".into(),
            host: HostName::parse("compute-1").unwrap(),
            sent_at: "2026-11-27T10:00:00.000Z".into(),
            events: vec![ev("req-a", Some("req-g")), ev("req-b", None)],
        }
    }

    #[test]
    fn a_borrowed_version_2_body_is_the_same_json() {
        let m = sample_v2();
        let borrowed = MessageV2Ref {
            version: m.version,
            message_id: &m.message_id,
            host: &m.host,
            sent_at: &m.sent_at,
            events: m.events.iter().collect(),
        };
        assert_eq!(borrowed.encode(), m.encode());
    }

    #[test]
    fn version_2_carries_ids_per_event_and_none_on_the_message() {
        let m = sample_v2();
        let v: serde_json::Value = serde_json::from_slice(&m.encode()).unwrap();
        assert_eq!(v["version"], 2);
        assert!(v.get("request_id").is_none(), "{v}");
        assert!(v.get("global_request_id").is_none(), "{v}");
        assert_eq!(v["events"][0]["request_id"], "req-a");
        assert_eq!(v["events"][0]["global_request_id"], "req-g");
        assert!(v["events"][1].get("global_request_id").is_none(), "{v}");
        let d = decode(&m.encode()).unwrap();
        assert_eq!(d.version, 2);
        assert_eq!(d.events, m.events);
    }

    #[test]
    fn the_correlation_id_is_shared_or_absent() {
        assert_eq!(shared_request_id(["a", "a"].into_iter()), Some("a"));
        assert_eq!(shared_request_id(["a", "b"].into_iter()), None);
        assert_eq!(shared_request_id(std::iter::empty()), None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        v["future"] = serde_json::json!({"x": 1});
        v["events"][0]["extra"] = serde_json::json!(true);
        assert!(decode(v.to_string().as_bytes()).is_ok());
        let mut v: serde_json::Value = serde_json::from_slice(&sample_v2().encode()).unwrap();
        v["events"][1]["extra"] = serde_json::json!(true);
        assert!(decode(v.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        v["version"] = serde_json::json!(3);
        assert!(matches!(
            decode(v.to_string().as_bytes()),
            Err(DecodeError::UnsupportedVersion(3))
        ));
        // A v1 body labelled v2 lacks the per-event ids.
        v["version"] = serde_json::json!(2);
        assert!(matches!(
            decode(v.to_string().as_bytes()),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(decode(b"nope"), Err(DecodeError::Json(_))));
    }
}
