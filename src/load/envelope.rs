//! What one delivered message tells a load run, on either wire: the numbers
//! of the events it carries (each event's tag is its number, see
//! [`super::plan`]), the id that makes a redelivery recognisable, and when it
//! was sent. Pure.
//!
//! - herald's wire: body versions 1 and 2 ([`crate::wire::decode`]).
//! - Nova's wire: the oslo.messaging cast nova-api (or herald in Nova mode)
//!   sends to nova-compute, `{"oslo.version": "2.0", "oslo.message": "<JSON>"}`
//!   (or the inner message alone, which oslo also accepts). Only what load
//!   needs is read: `_unique_id`, each `args.events[].nova_object.data.tag`,
//!   and `_context_timestamp` (when the request's context was made: nova's
//!   `%Y-%m-%dT%H:%M:%S.%f`, UTC without a zone). Everything else, such as the
//!   55 fields of nova-api's Instance primitives, is ignored.

use serde::Deserialize;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Which messages the host queues carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// herald's own bodies.
    Herald,
    /// The oslo cast of `external_instance_event`.
    Nova,
}

/// One message, as load counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// oslo's `_unique_id` (a redelivered message carries the same one);
    /// herald's wire: none (its redeliveries show as repeated event numbers).
    pub unique_id: Option<String>,
    /// The numbers of the run's events in it; events whose tag is not a
    /// number are not this run's and are left out.
    pub events: Vec<u64>,
    /// When it was sent, if the body says so readably.
    pub sent_at: Option<OffsetDateTime>,
}

/// Why a body is not a message of the wire being read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a herald message")]
    Herald(#[from] crate::wire::DecodeError),
    #[error("not an oslo cast of external_instance_event")]
    Nova(#[source] serde_json::Error),
}

impl Reader {
    /// Reads one delivered body.
    pub fn read(self, body: &[u8]) -> Result<Arrival, EnvelopeError> {
        match self {
            Self::Herald => {
                let message = crate::wire::decode(body)?;
                Ok(Arrival {
                    unique_id: None,
                    events: numbers(message.events.iter().map(|e| e.tag.as_deref())),
                    sent_at: OffsetDateTime::parse(
                        &message.sent_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .ok(),
                })
            }
            Self::Nova => read_cast(body).map_err(EnvelopeError::Nova),
        }
    }
}

#[derive(Deserialize)]
struct Cast {
    #[serde(rename = "_unique_id")]
    unique_id: String,
    args: Args,
    #[serde(rename = "_context_timestamp", default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct Args {
    events: Vec<Primitive>,
}

#[derive(Deserialize)]
struct Primitive {
    #[serde(rename = "nova_object.data")]
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    tag: Option<String>,
}

fn read_cast(body: &[u8]) -> Result<Arrival, serde_json::Error> {
    #[derive(Deserialize)]
    struct Wrapped {
        #[serde(rename = "oslo.message")]
        message: String,
    }
    let cast: Cast = match serde_json::from_slice::<Wrapped>(body) {
        Ok(wrapped) => serde_json::from_str(&wrapped.message)?,
        Err(_) => serde_json::from_slice(body)?,
    };
    Ok(Arrival {
        unique_id: Some(cast.unique_id),
        events: numbers(cast.args.events.iter().map(|e| e.data.tag.as_deref())),
        sent_at: cast.timestamp.as_deref().and_then(nova_time),
    })
}

fn numbers<'a>(tags: impl Iterator<Item = Option<&'a str>>) -> Vec<u64> {
    tags.filter_map(|t| t?.parse().ok()).collect()
}

/// Nova's `utils.strtime` (`2026-01-01T00:00:00.000000`), read as UTC.
fn nova_time(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"
    );
    PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What nova-api cast here (the reference's minimal envelope, with the
    /// load run's tags, and an Instance field nova-api sends that load ignores).
    const CAST: &str = r#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"external_instance_event\", \"args\": {\"instances\": [{\"nova_object.name\": \"Instance\", \"nova_object.namespace\": \"nova\", \"nova_object.version\": \"2.8\", \"nova_object.data\": {\"uuid\": \"11111111-0000-0000-0000-00000000000a\", \"host\": \"cmp-1\", \"info_cache\": null}}], \"events\": [{\"nova_object.name\": \"InstanceExternalEvent\", \"nova_object.namespace\": \"nova\", \"nova_object.version\": \"1.5\", \"nova_object.data\": {\"instance_uuid\": \"11111111-0000-0000-0000-00000000000a\", \"name\": \"network-vif-plugged\", \"status\": \"completed\", \"tag\": \"41\", \"data\": {}}, \"nova_object.changes\": [\"tag\"]}, {\"nova_object.name\": \"InstanceExternalEvent\", \"nova_object.namespace\": \"nova\", \"nova_object.version\": \"1.5\", \"nova_object.data\": {\"instance_uuid\": \"11111111-0000-0000-0000-00000000000a\", \"name\": \"network-changed\", \"status\": \"completed\", \"tag\": \"port-1\"}}, {\"nova_object.name\": \"InstanceExternalEvent\", \"nova_object.namespace\": \"nova\", \"nova_object.version\": \"1.5\", \"nova_object.data\": {\"instance_uuid\": \"11111111-0000-0000-0000-00000000000a\", \"name\": \"network-vif-plugged\", \"status\": \"completed\", \"tag\": \"7\"}}]}, \"version\": \"6.0\", \"_unique_id\": \"4a560a27bcc94e788be08ec0b3904766\", \"_context_request_id\": \"req-76a0c77c-6d42-495f-ac6c-f5227d5d85a4\", \"_context_roles\": [\"admin\", \"service\"], \"_context_is_admin\": true, \"_context_timestamp\": \"2026-01-01T00:00:00.250000\"}"}"#;

    #[test]
    fn an_oslo_cast_gives_its_events_numbers_unique_id_and_time() {
        let arrival = Reader::Nova.read(CAST.as_bytes()).unwrap();
        assert_eq!(
            arrival.unique_id.as_deref(),
            Some("4a560a27bcc94e788be08ec0b3904766")
        );
        // "port-1" is not a number: not one of the run's events.
        assert_eq!(arrival.events, [41, 7]);
        assert_eq!(
            arrival.sent_at,
            Some(time::macros::datetime!(2026-01-01 00:00:00.250 UTC))
        );
    }

    #[test]
    fn the_inner_message_alone_reads_the_same() {
        let outer: serde_json::Value = serde_json::from_str(CAST).unwrap();
        let inner = outer["oslo.message"].as_str().unwrap();
        assert_eq!(
            Reader::Nova.read(inner.as_bytes()).unwrap(),
            Reader::Nova.read(CAST.as_bytes()).unwrap()
        );
    }

    #[test]
    fn what_is_not_a_cast_is_refused() {
        for bad in [
            &b"not json"[..],
            br#"{"oslo.version": "2.0", "oslo.message": "{\"args\": {\"events\": []}}"}"#,
            br#"{"_unique_id": "x", "args": {}}"#,
            br#"{"oslo.message": 7}"#,
        ] {
            assert!(
                matches!(Reader::Nova.read(bad), Err(EnvelopeError::Nova(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // A cast without a timestamp, or an unreadable one, still counts.
        let plain = br#"{"_unique_id": "u", "args": {"events": [{"nova_object.data": {"tag": "3"}}]}, "_context_timestamp": "yesterday"}"#;
        let arrival = Reader::Nova.read(plain).unwrap();
        assert_eq!((arrival.events, arrival.sent_at), (vec![3], None));
    }

    #[test]
    fn herald_bodies_are_read_by_the_herald_reader_only() {
        let body = crate::wire::Message {
            version: crate::wire::BODY_V1,
            message_id: "m".into(),
            request_id: "req-1".into(),
            global_request_id: None,
            host: crate::model::HostName::parse("h-1").unwrap(),
            sent_at: "2026-11-27T10:00:00.000Z".into(),
            events: vec![crate::wire::WireEvent {
                name: crate::model::EventName::NetworkVifPlugged,
                server_uuid: crate::model::ServerId::from_uuid(uuid::Uuid::from_u128(1)),
                status: crate::model::EventStatus::Completed,
                tag: Some("12".into()),
            }],
        }
        .encode();
        let arrival = Reader::Herald.read(&body).unwrap();
        assert_eq!((arrival.unique_id, arrival.events), (None, vec![12]));
        assert_eq!(
            arrival.sent_at,
            Some(time::macros::datetime!(2026-11-27 10:00:00 UTC))
        );
        assert!(matches!(
            Reader::Nova.read(&body),
            Err(EnvelopeError::Nova(_))
        ));
        assert!(matches!(
            Reader::Herald.read(CAST.as_bytes()),
            Err(EnvelopeError::Herald(_))
        ));
    }
}
