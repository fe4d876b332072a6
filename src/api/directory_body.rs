//! Parsing directory request bodies (pure): a PUT entry and a bulk upsert,
//! with errors that name the field (and the index, in a bulk body).

use serde_json::{Map, Value};

use crate::directory::NewEntry;
use crate::model::{HostName, Migration, Placement, ServerId};

/// Most entries one bulk body may carry.
pub const MAX_BULK_ENTRIES: usize = 1000;

/// Why a directory body is refused; the text is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// `PUT /directory/servers/{uuid}` body: `{"host": ..., "migration": ...}`.
pub fn placement(value: &Value) -> Result<Placement, Invalid> {
    let fields = object(value, "body")?;
    only_keys(fields, &["host", "migration"], "")?;
    parse_placement(fields, "")
}

/// `POST /directory/servers` body: `{"servers": [{"uuid", "host", "migration"}, ...]}`.
pub fn bulk(value: &Value) -> Result<Vec<NewEntry>, Invalid> {
    let fields = object(value, "body")?;
    only_keys(fields, &["servers"], "")?;
    let list = fields
        .get("servers")
        .ok_or_else(|| Invalid("'servers' is a required property".into()))?
        .as_array()
        .ok_or_else(|| {
            Invalid("Invalid input for field/attribute servers: must be an array".into())
        })?;
    if list.len() > MAX_BULK_ENTRIES {
        return Err(Invalid(format!(
            "Invalid input for field/attribute servers: {} entries, at most {MAX_BULK_ENTRIES} are allowed",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("servers[{i}].");
            let fields = object(item, &format!("servers[{i}]"))?;
            only_keys(fields, &["uuid", "host", "migration"], &at)?;
            let uuid = match fields.get("uuid") {
                Some(Value::String(s)) => ServerId::parse(s).ok_or_else(|| {
                    Invalid(format!(
                        "Invalid input for field/attribute {at}uuid: '{s}' is not a 'uuid'"
                    ))
                })?,
                Some(other) => {
                    return Err(Invalid(format!(
                        "Invalid input for field/attribute {at}uuid: {other} is not a string"
                    )));
                }
                None => {
                    return Err(Invalid(format!(
                        "Invalid input for field/attribute {at}uuid: 'uuid' is a required property"
                    )));
                }
            };
            Ok(NewEntry {
                uuid,
                placement: parse_placement(fields, &at)?,
            })
        })
        .collect()
}

fn parse_placement(fields: &Map<String, Value>, at: &str) -> Result<Placement, Invalid> {
    let host = match fields.get("host") {
        None => {
            return Err(Invalid(format!(
                "Invalid input for field/attribute {at}host: 'host' is a required property (it may be null)"
            )));
        }
        Some(Value::Null) => None,
        Some(v) => Some(host_name(v, &format!("{at}host"))?),
    };
    let migration = match fields.get("migration") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let m = object(v, &format!("{at}migration"))?;
            only_keys(
                m,
                &["source_compute", "dest_compute"],
                &format!("{at}migration."),
            )?;
            let end = |key: &str| {
                let field = format!("{at}migration.{key}");
                m.get(key)
                    .ok_or_else(|| Invalid(format!("Invalid input for field/attribute {field}: '{key}' is a required property")))
                    .and_then(|v| host_name(v, &field))
            };
            Some(Migration {
                source_compute: end("source_compute")?,
                dest_compute: end("dest_compute")?,
            })
        }
    };
    Ok(Placement { host, migration })
}

fn host_name(value: &Value, field: &str) -> Result<HostName, Invalid> {
    let text = value.as_str().ok_or_else(|| {
        Invalid(format!(
            "Invalid input for field/attribute {field}: {value} is not a string"
        ))
    })?;
    HostName::parse(text)
        .map_err(|e| Invalid(format!("Invalid input for field/attribute {field}: {e}")))
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Invalid> {
    value.as_object().ok_or_else(|| {
        Invalid(format!(
            "Invalid input for field/attribute {what}: must be a JSON object"
        ))
    })
}

fn only_keys(fields: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), Invalid> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(Invalid(format!(
            "Invalid input for field/attribute {at}{extra}: additional properties are not allowed ('{extra}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_bodies() {
        let p = placement(&json!({"host": "c1"})).unwrap();
        assert_eq!(p.host.unwrap().as_str(), "c1");
        assert!(p.migration.is_none());
        let p = placement(&json!({"host": null, "migration": null})).unwrap();
        assert!(p.host.is_none());
        let p = placement(
            &json!({"host": "a", "migration": {"source_compute": "a", "dest_compute": "b"}}),
        )
        .unwrap();
        assert_eq!(p.migration.unwrap().dest_compute.as_str(), "b");
    }

    #[test]
    fn put_errors_name_the_field() {
        for (body, needle) in [
            (json!({}), "host"),
            (json!({"host": "a", "extra": 1}), "extra"),
            (
                json!({"host": "a", "migration": {"source_compute": "a", "dest_compute": "b", "x": 1}}),
                "migration.x",
            ),
            (
                json!({"host": "a", "migration": {"source_compute": "a"}}),
                "migration.dest_compute",
            ),
            (json!({"host": 5}), "host"),
            (json!({"host": "has space"}), "host"),
            (json!([]), "body"),
        ] {
            let msg = placement(&body).unwrap_err().0;
            assert!(msg.contains(needle), "{needle} not in {msg}");
        }
    }

    #[test]
    fn bulk_bodies() {
        let entries = bulk(&json!({"servers": [
            {"uuid": "00000000-0000-0000-0000-000000000001", "host": "a"},
            {"uuid": "00000000000000000000000000000002", "host": null, "migration": null}
        ]}))
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[1].uuid.canonical(),
            "00000000-0000-0000-0000-000000000002"
        );
        let msg = bulk(&json!({"servers": [{"uuid": "x", "host": "a"}]}))
            .unwrap_err()
            .0;
        assert!(msg.contains("servers[0].uuid"), "{msg}");
        let msg = bulk(&json!({"servers": [{"uuid": "00000000-0000-0000-0000-000000000001"}]}))
            .unwrap_err()
            .0;
        assert!(msg.contains("servers[0].host"), "{msg}");
        assert!(bulk(&json!({"nope": []})).is_err());
        let many: Vec<_> = (0..=MAX_BULK_ENTRIES)
            .map(|i| json!({"uuid": format!("00000000-0000-0000-0000-{i:012}"), "host": "a"}))
            .collect();
        let msg = bulk(&json!({ "servers": many })).unwrap_err().0;
        assert!(msg.contains("servers"), "{msg}");
    }
}
