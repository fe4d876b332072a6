//! Parsing an events body into validated [`Event`]s, Nova's schema rules.
//!
//! Any broken rule refuses the whole batch (400) with a message naming the
//! event index and the field, in the style of Nova's
//! `Invalid input for field/attribute ...` messages. This file holds the
//! envelope (`{"events": [...]}`); one event's field rules live in
//! `validate_event`.

use serde_json::Value;

pub use super::validate_event::{Invalid, MAX_TAG_CHARS};
use super::validate_event::{kind, validate_event};
use crate::microversion::Microversion;
use crate::model::Event;

/// Parses and validates a request body at `version`: the usual body
/// straight into its events (`validate_fast`), any other through a JSON
/// value and the rules below, which name what is wrong.
pub fn parse_batch(body: &[u8], version: Microversion) -> Result<Vec<Event>, Invalid> {
    if let Some(events) = super::validate_fast::parse(body, version) {
        // The tests (the property tests among them) check both paths agree.
        debug_assert_eq!(parse_value(body, version).as_ref(), Ok(&events));
        return Ok(events);
    }
    parse_value(body, version)
}

/// [`parse_batch`] through a `serde_json::Value`.
fn parse_value(body: &[u8], version: Microversion) -> Result<Vec<Event>, Invalid> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventStatus;
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
