//! The AMQP message contract between the dispatcher and the agents (body
//! version 1). Both sides use these types, so the format lives in one place.
//!
//! Consumers ignore fields they do not know, so the format can grow.

use serde::{Deserialize, Serialize};

use crate::model::{EventName, EventStatus, HostName, ServerId};

/// The only body version this build writes.
pub const BODY_VERSION: u32 = 1;
/// AMQP `type` property of every message.
pub const MESSAGE_TYPE: &str = "external_instance_event";
/// AMQP `app_id` property of every message.
pub const APP_ID: &str = "herald";
/// AMQP `content_type` property of every message.
pub const CONTENT_TYPE: &str = "application/json";

/// One message: the events of one request for one host.
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

/// Why a delivered body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message body is not valid JSON for herald: {0}")]
    Json(#[from] serde_json::Error),
    #[error("message body version {0} is not supported (this agent reads version {BODY_VERSION})")]
    UnsupportedVersion(u32),
}

impl Message {
    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self)
            .expect("a Message always serialises: it holds only strings and enums")
    }

    /// Parses a body, refusing versions this build does not read.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        #[derive(Deserialize)]
        struct Probe {
            version: u32,
        }
        let probe: Probe = serde_json::from_slice(bytes)?;
        if probe.version != BODY_VERSION {
            return Err(DecodeError::UnsupportedVersion(probe.version));
        }
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Current UTC time as RFC 3339 with milliseconds and a `Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(time::OffsetDateTime::now_utc())
}

/// Formats a UTC instant as `2026-11-27T10:00:00.000Z`.
pub fn format_rfc3339(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("the fixed format has only components every date has")
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
        assert_eq!(Message::decode(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        v["future"] = serde_json::json!({"x": 1});
        v["events"][0]["extra"] = serde_json::json!(true);
        assert!(Message::decode(v.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        v["version"] = serde_json::json!(2);
        assert!(matches!(
            Message::decode(v.to_string().as_bytes()),
            Err(DecodeError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            Message::decode(b"nope"),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn timestamps_have_millis_and_z() {
        let at = time::macros::datetime!(2026-11-27 10:00:00.123456 UTC);
        assert_eq!(format_rfc3339(at), "2026-11-27T10:00:00.123Z");
    }
}
