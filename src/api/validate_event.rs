//! One event's field rules (Nova's schema for an item of `events`): which
//! keys it may have, and what `name`, `server_uuid`, `status` and `tag` must be.

use serde_json::{Map, Value};

use crate::microversion::Microversion;
use crate::model::{Event, EventName, EventStatus, ServerId};

/// Longest accepted tag, in characters (JSON Schema's `maxLength`).
pub const MAX_TAG_CHARS: usize = 255;

/// Why a body is refused; the text is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

const EVENT_KEYS: [&str; 4] = ["name", "server_uuid", "status", "tag"];

/// Validates the item at `index` of `events` at `version`.
pub(super) fn validate_event(
    index: usize,
    item: &Value,
    version: Microversion,
) -> Result<Event, Invalid> {
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

/// How JSON Schema names a value's type in its messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
