//! The events body read straight into borrowed fields, for the usual
//! well-formed batch: no `serde_json::Value` tree is built. It only ever
//! accepts a body [`super::validate`]'s rules accept, giving the same
//! events; anything else (a broken rule, and also some valid but unusual
//! shapes, such as a `[` inside a string) returns `None`, and the body is
//! read again by those rules, which say what is wrong.

use std::borrow::Cow;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::validate_event::MAX_TAG_CHARS;
use crate::microversion::Microversion;
use crate::model::{Event, EventName, EventStatus, ServerId};

/// A JSON string, never `null` or another kind: borrowed from the body
/// unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

/// An optional field that, when present, must be a string (`null` is refused).
fn present<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Text<'a>>, D::Error> {
    Text::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Vec<RawEvent<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    server_uuid: Text<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    status: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    tag: Option<Text<'a>>,
}

/// The events of `body` at `version`, or `None` when the full rules must
/// decide (and name what is wrong).
pub(super) fn parse(body: &[u8], version: Microversion) -> Option<Vec<Event>> {
    // serde's derived structs also read JSON arrays (fields by position):
    // with the body an object and its only `[` the events list's, neither
    // the batch nor an event can be one.
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' || body.iter().filter(|&&b| b == b'[').count() != 1 {
        return None;
    }
    let batch: Batch<'_> = serde_json::from_slice(body).ok()?;
    if batch.events.is_empty() {
        return None;
    }
    batch
        .events
        .into_iter()
        .map(|raw| event(raw, version))
        .collect()
}

fn event(raw: RawEvent<'_>, version: Microversion) -> Option<Event> {
    let name = EventName::parse(&raw.name.0).filter(|n| n.introduced_in() <= version)?;
    let server = ServerId::parse(&raw.server_uuid.0)?;
    let status = match raw.status {
        None => EventStatus::default(),
        Some(text) => EventStatus::parse(&text.0)?,
    };
    let tag = match raw.tag {
        None => None,
        Some(text) if text.0.chars().count() <= MAX_TAG_CHARS => Some(text.0.into_owned()),
        Some(_) => return None,
    };
    Some(Event {
        name,
        server,
        server_uuid_as_sent: raw.server_uuid.0.into_owned(),
        status,
        tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::validate::validate_batch;

    const V21: Microversion = Microversion::new(2, 1);

    /// Whatever the fast path accepts, the full rules accept the same way.
    fn agrees(body: &str, version: Microversion) -> bool {
        let fast = parse(body.as_bytes(), version);
        if let Some(events) = &fast {
            let value: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                validate_batch(&value, version).as_ref(),
                Ok(events),
                "{body}"
            );
        }
        fast.is_some()
    }

    #[test]
    fn the_usual_bodies_take_the_fast_path() {
        let u = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";
        for body in [
            format!(r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}"}}]}}"#),
            format!(
                r#"{{"events":[{{"name":"network-vif-plugged","server_uuid":"{u}","status":"failed","tag":"p\u00e9\"rt"}},
                   {{"name":"network-changed","server_uuid":"{{{u}}}","status":"in-progress"}}]}}"#
            ),
        ] {
            assert!(agrees(&body, V21), "{body}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_the_full_rules() {
        let u = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        for body in [
            String::new(),
            "[]".into(),
            r#"{"events": []}"#.into(),
            format!(r#"[{{"events": [{{"name": "network-changed", "server_uuid": "{u}"}}]}}]"#),
            format!(r#"{{"events": [["network-changed", "{u}"]]}}"#),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}", "x": 1}}]}}"#
            ),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}"}}], "x": 1}}"#
            ),
            format!(
                r#"{{"events": [{{"name": "network-changed", "name": "network-changed", "server_uuid": "{u}"}}]}}"#
            ),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}", "tag": null}}]}}"#
            ),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}", "status": "done"}}]}}"#
            ),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}", "tag": "{long}"}}]}}"#
            ),
            format!(r#"{{"events": [{{"name": "volume-extended", "server_uuid": "{u}"}}]}}"#),
            r#"{"events": [{"name": "network-changed", "server_uuid": "nope"}]}"#.into(),
            format!(
                r#"{{"events": [{{"name": "network-changed", "server_uuid": "{u}", "tag": "[x]"}}]}}"#
            ),
        ] {
            assert!(!agrees(&body, V21), "{body}");
        }
    }
}
