//! Parsing an events body into validated [`Event`]s, Nova's schema rules.
//!
//! Any broken rule refuses the whole batch (400) with a message naming the
//! event index and the field, in the style of Nova's
//! `Invalid input for field/attribute ...` messages.

use serde_json::{Map, Value};

use crate::microversion::Microversion;
use crate::model::{Event, EventName, EventStatus, ServerId};

/// Longest accepted tag, in characters (JSON Schema's `maxLength`).
pub const MAX_TAG_CHARS: usize = 255;
const EVENT_KEYS: [&str; 4] = ["name", "server_uuid", "status", "tag"];

/// Why a body is refused; the text is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Parses and validates a request body at `version`.
pub fn parse_batch(body: &[u8], version: Microversion) -> Result<Vec<Event>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Invalid(
            "The request body is empty; expected a JSON object with an 'events' list.".into(),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Invalid(format!("Malformed request body: {e}")))?;
    validate_batch(&value, version)
}

/// Validates an already parsed body.
pub fn validate_batch(value: &Value, version: Microversion) -> Result<Vec<Event>, Invalid> {
    let object = value.as_object().ok_or_else(|| {
        Invalid(format!(
            "The request body must be a JSON object, not {}.",
            kind(value)
        ))
    })?;
    if let Some(extra) = object.keys().find(|k| k.as_str() != "events") {
        return Err(Invalid(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let events = object
        .get("events")
        .ok_or_else(|| Invalid("'events' is a required property".into()))?;
    let list = events.as_array().ok_or_else(|| {
        Invalid(format!(
            "Invalid input for field/attribute events. Value: {events}. {} is not of type 'array'",
            kind(events)
        ))
    })?;
    if list.is_empty() {
        return Err(Invalid(
            "Invalid input for field/attribute events. Value: []. [] should be non-empty".into(),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(index, item)| validate_event(index, item, version))
        .collect()
}

fn validate_event(index: usize, item: &Value, version: Microversion) -> Result<Event, Invalid> {
    let fields = item.as_object().ok_or_else(|| {
        Invalid(format!(
            "Invalid input for field/attribute events[{index}]. Value: {item}. {} is not of type 'object'",
            kind(item)
        ))
    })?;
    if let Some(extra) = fields.keys().find(|k| !EVENT_KEYS.contains(&k.as_str())) {
        return Err(Invalid(format!(
            "Invalid input for field/attribute events[{index}]. Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let field_error = |field: &str, value: &Value, why: String| {
        Invalid(format!(
            "Invalid input for field/attribute events[{index}].{field}. Value: {value}. {why}"
        ))
    };
    let name_value = required(fields, index, "name")?;
    let name_text = string(name_value)
        .ok_or_else(|| field_error("name", name_value, not_string(name_value)))?;
    let name = EventName::parse(name_text)
        .filter(|n| n.introduced_in() <= version)
        .ok_or_else(|| {
            let allowed: Vec<_> = EventName::allowed_at(version)
                .map(|n| format!("'{n}'"))
                .collect();
            field_error(
                "name",
                name_value,
                format!(
                    "'{name_text}' is not one of [{}] at microversion {version}",
                    allowed.join(", ")
                ),
            )
        })?;
    let uuid_value = required(fields, index, "server_uuid")?;
    let uuid_text = string(uuid_value)
        .ok_or_else(|| field_error("server_uuid", uuid_value, not_string(uuid_value)))?;
    let server = ServerId::parse(uuid_text).ok_or_else(|| {
        field_error(
            "server_uuid",
            uuid_value,
            format!("'{uuid_text}' is not a 'uuid'"),
        )
    })?;
    let status = match fields.get("status") {
        None => None,
        Some(v) => {
            let text = string(v).ok_or_else(|| field_error("status", v, not_string(v)))?;
            Some(EventStatus::parse(text).ok_or_else(|| {
                field_error(
                    "status",
                    v,
                    format!("'{text}' is not one of ['failed', 'completed', 'in-progress']"),
                )
            })?)
        }
    };
    let tag = match fields.get("tag") {
        None => None,
        Some(v) => {
            let text = string(v).ok_or_else(|| field_error("tag", v, not_string(v)))?;
            if text.chars().count() > MAX_TAG_CHARS {
                return Err(field_error(
                    "tag",
                    v,
                    format!("'{text}' is too long (at most {MAX_TAG_CHARS} characters)"),
                ));
            }
            Some(text.to_owned())
        }
    };
    Ok(Event {
        name,
        server,
        server_uuid_as_sent: uuid_text.to_owned(),
        status: status.unwrap_or_default(),
        tag,
    })
}

fn required<'a>(
    fields: &'a Map<String, Value>,
    index: usize,
    field: &str,
) -> Result<&'a Value, Invalid> {
    fields.get(field).ok_or_else(|| {
        Invalid(format!(
            "Invalid input for field/attribute events[{index}]. '{field}' is a required property"
        ))
    })
}

fn string(value: &Value) -> Option<&str> {
    value.as_str()
}

fn not_string(value: &Value) -> String {
    format!("{} is not of type 'string'", kind(value))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const U1: &str = "00000000-0000-0000-0000-000000000001";
    const V21: Microversion = Microversion::new(2, 1);

    fn check(body: Value, version: Microversion) -> Result<Vec<Event>, Invalid> {
        parse_batch(body.to_string().as_bytes(), version)
    }

    fn error(body: Value, version: Microversion) -> String {
        check(body, version).unwrap_err().0
    }

    #[test]
    fn accepts_the_nova_default_body() {
        let events = check(
            json!({"events": [
                {"name": "network-vif-plugged", "tag": "foo", "server_uuid": U1, "status": "completed"},
                {"name": "network-changed", "server_uuid": U1}
            ]}),
            V21,
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].tag.as_deref(), Some("foo"));
        assert_eq!(events[1].status, EventStatus::Completed);
        assert_eq!(events[1].tag, None);
    }

    #[test]
    fn keeps_the_uuid_as_sent_and_canonicalises() {
        let sent = "{00000000000000000000000000000001}";
        let events = check(
            json!({"events": [{"name": "network-changed", "server_uuid": sent}]}),
            V21,
        )
        .unwrap();
        assert_eq!(events[0].server_uuid_as_sent, sent);
        assert_eq!(events[0].server.canonical(), U1);
    }

    #[test]
    fn whole_body_shape_errors() {
        assert!(error(json!({"events": "foo"}), V21).contains("not of type 'array'"));
        assert!(error(json!({"foo": "bar"}), V21).contains("'foo' was unexpected"));
        assert!(error(json!({}), V21).contains("'events' is a required property"));
        assert!(error(json!({"events": []}), V21).contains("non-empty"));
        assert!(error(json!([1]), V21).contains("JSON object"));
        let single = json!({"events": {"name": "unknown_event", "server_uuid": U1}});
        assert!(error(single, V21).contains("not of type 'array'"));
    }

    #[test]
    fn event_errors_name_index_and_field() {
        let ok = json!({"name": "network-changed", "server_uuid": U1});
        let cases = [
            (
                json!({"name": "network-changed", "server_uuid": U1, "status": "foo"}),
                "events[1].status",
            ),
            (
                json!({"name": "network-changed", "server_uuid": U1, "foobar": "bad stuff"}),
                "'foobar' was unexpected",
            ),
            (
                json!({"name": "unknown_event", "server_uuid": U1}),
                "events[1].name",
            ),
            (
                json!({"name": "network-changed", "server_uuid": "not-a-uuid"}),
                "events[1].server_uuid",
            ),
            (
                json!({"name": "network-changed"}),
                "'server_uuid' is a required property",
            ),
            (json!({"server_uuid": U1}), "'name' is a required property"),
            (
                json!({"name": "network-changed", "server_uuid": U1, "tag": 5}),
                "events[1].tag",
            ),
            (
                json!({"name": "network-changed", "server_uuid": U1, "tag": "x".repeat(256)}),
                "too long",
            ),
            (json!("string"), "events[1]."),
        ];
        for (bad, needle) in cases {
            let msg = error(json!({"events": [ok, bad]}), V21);
            assert!(msg.contains(needle), "{needle} not in {msg}");
            assert!(msg.contains("events[1]"), "index missing in {msg}");
        }
    }

    #[test]
    fn null_is_never_valid() {
        for field in ["name", "server_uuid", "status", "tag"] {
            let mut event = json!({"name": "network-changed", "server_uuid": U1});
            event[field] = Value::Null;
            let msg = error(json!({"events": [event]}), V21);
            assert!(msg.contains(&format!("events[0].{field}")), "{msg}");
            assert!(msg.contains("null"), "{msg}");
        }
    }

    #[test]
    fn tag_limit_counts_characters_and_empty_is_allowed() {
        let tag = "é".repeat(255);
        assert!(
            check(
                json!({"events": [{"name": "network-changed", "server_uuid": U1, "tag": tag}]}),
                V21
            )
            .is_ok()
        );
        assert!(
            check(
                json!({"events": [{"name": "network-changed", "server_uuid": U1, "tag": ""}]}),
                V21
            )
            .is_ok()
        );
    }

    #[test]
    fn names_are_gated_by_microversion() {
        let body = |name: &str| json!({"events": [{"name": name, "server_uuid": U1, "tag": "t"}]});
        for (name, minor) in [
            ("volume-extended", 51),
            ("power-update", 76),
            ("accelerator-request-bound", 82),
            ("volume-reimaged", 93),
        ] {
            let msg = error(body(name), Microversion::new(2, minor - 1));
            assert!(msg.contains("events[0].name"), "{msg}");
            assert!(
                check(body(name), Microversion::new(2, minor)).is_ok(),
                "{name} at 2.{minor}"
            );
        }
    }

    #[test]
    fn malformed_json_and_empty_bodies() {
        for body in [
            &b""[..],
            b"  ",
            b"{",
            b"{\"events\": [}",
            b"\xff\xfe",
            b"nul",
        ] {
            let err = parse_batch(body, V21).unwrap_err().0;
            assert!(err.contains("Malformed") || err.contains("empty"), "{err}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse_batch(deep.as_bytes(), V21).is_err());
        assert!(parse_batch(b"{\"events\": [1e999]}", V21).is_err());
    }
}
