//! The Nova wire (`amqp.wire = "nova"`): the oslo.messaging cast nova-api's
//! compute RPC API sends for `external_instance_event`, so that an
//! unmodified nova-compute acts on herald's messages (contract §8; the
//! checked facts are in `reference/nova-mode.md`, section C). Pure: values
//! in, bytes out, and back for tests and the load generator.
//!
//! The body is `{"oslo.version": "2.0", "oslo.message": "<JSON text>"}`;
//! the inner message names the method, the RPC version nova-api sends
//! (`6.0`, also on `compute-alt`), the arguments as versioned-object
//! primitives, a fresh `_unique_id` (oslo drops a repeat of one of the last
//! 16 as a duplicate) and the caller's context as `_context_*` keys.

use serde::{Deserialize, Serialize};

use crate::model::{EventName, EventStatus, ServerId};

/// The envelope's `oslo.version`.
pub const OSLO_VERSION: &str = "2.0";
/// The RPC method nova-compute runs.
pub const METHOD: &str = "external_instance_event";
/// The RPC version nova-api puts on this cast (`_ver(ctxt, '5.0')` gives
/// 6.0 on every current release); nova-compute 34 serves up to 6.5.
pub const RPC_VERSION: &str = "6.0";
/// The `Instance` object version nova 34 sends.
pub const INSTANCE_VERSION: &str = "2.8";
/// The `InstanceExternalEvent` object version nova 34 sends.
pub const EVENT_VERSION: &str = "1.5";
/// AMQP `content_type` (without it oslo drops the message).
pub const CONTENT_TYPE: &str = "application/json";
/// AMQP `content_encoding`, as oslo's rabbit driver sets it.
pub const CONTENT_ENCODING: &str = "utf-8";
/// The namespace of every Nova object primitive.
const NAMESPACE: &str = "nova";
/// The fields nova-api sets on each event it builds (`server_external_events.py`).
const EVENT_CHANGES: [&str; 4] = ["instance_uuid", "name", "status", "tag"];

/// The fields of an instance row a message carries, so that nova-compute
/// need not lazy-load them (`id` it cannot lazy-load at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub id: i64,
    pub uuid: ServerId,
    pub host: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub vm_state: Option<String>,
    pub task_state: Option<String>,
    pub power_state: Option<i64>,
    /// Nova's object field: the row's `deleted` column equals its `id`.
    pub deleted: bool,
}

/// One accepted event, as `InstanceExternalEvent` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub instance_uuid: ServerId,
    pub name: EventName,
    pub status: EventStatus,
    pub tag: Option<String>,
}

/// The caller's request context, as nova-api's `RequestContext.to_dict`
/// names it (the keys nova-compute reads; the rest it defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This request's id, `req-<uuid>`; also the `request_id` of the
    /// `instance_actions` row written for it.
    pub request_id: String,
    pub global_request_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
    /// When the request began (UTC), as nova's context records it.
    pub timestamp: time::PrimitiveDateTime,
}

/// One cast: the instances and events for one host of one request.
#[derive(Debug, Clone, Copy)]
pub struct Cast<'a> {
    pub context: &'a Context,
    pub instances: &'a [Instance],
    pub events: &'a [Event],
    /// A fresh uuid4 in hex, one per message ([`unique_id`]).
    pub unique_id: &'a str,
}

/// A fresh `_unique_id`: a uuid4 as 32 hex digits, as oslo makes it.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Nova's `utils.strtime`: `%Y-%m-%dT%H:%M:%S.%f` (microseconds, no zone).
pub fn strtime(at: time::PrimitiveDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    at.format(&format)
        .expect("the fixed format has only components every date has")
}

/// Now, in UTC, as a context timestamp.
pub fn now() -> time::PrimitiveDateTime {
    let now = time::OffsetDateTime::now_utc();
    time::PrimitiveDateTime::new(now.date(), now.time())
}

/// A versioned-object primitive as oslo.versionedobjects serialises it.
#[derive(Serialize, Deserialize)]
struct Primitive<T> {
    #[serde(rename = "nova_object.name")]
    name: String,
    #[serde(rename = "nova_object.namespace")]
    namespace: String,
    #[serde(rename = "nova_object.version")]
    version: String,
    #[serde(rename = "nova_object.data")]
    data: T,
    #[serde(
        rename = "nova_object.changes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    changes: Vec<String>,
}

impl<T> Primitive<T> {
    fn new(name: &str, version: &str, data: T, changes: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            namespace: NAMESPACE.to_owned(),
            version: version.to_owned(),
            data,
            changes: changes.iter().map(|&c| c.to_owned()).collect(),
        }
    }
}

#[derive(Serialize)]
struct Args<'a> {
    instances: Vec<Primitive<&'a Instance>>,
    events: Vec<Primitive<&'a Event>>,
}

/// The inner message, keys in the order oslo writes them.
#[derive(Serialize)]
struct Message<'a> {
    method: &'static str,
    args: Args<'a>,
    version: &'static str,
    #[serde(rename = "_unique_id")]
    unique_id: &'a str,
    #[serde(rename = "_context_request_id")]
    request_id: &'a str,
    #[serde(rename = "_context_global_request_id")]
    global_request_id: Option<&'a str>,
    #[serde(rename = "_context_user_id")]
    user_id: Option<&'a str>,
    #[serde(rename = "_context_project_id")]
    project_id: Option<&'a str>,
    #[serde(rename = "_context_roles")]
    roles: &'a [String],
    #[serde(rename = "_context_is_admin")]
    is_admin: bool,
    #[serde(rename = "_context_read_deleted")]
    read_deleted: &'static str,
    #[serde(rename = "_context_timestamp")]
    timestamp: String,
}

#[derive(Serialize, Deserialize)]
struct Envelope<M> {
    #[serde(rename = "oslo.version")]
    version: String,
    #[serde(rename = "oslo.message")]
    message: M,
}

/// The body of one cast.
pub fn encode(cast: &Cast<'_>) -> Vec<u8> {
    let context = cast.context;
    let message = Message {
        method: METHOD,
        args: Args {
            instances: cast
                .instances
                .iter()
                .map(|i| Primitive::new("Instance", INSTANCE_VERSION, i, &[]))
                .collect(),
            events: cast
                .events
                .iter()
                .map(|e| Primitive::new("InstanceExternalEvent", EVENT_VERSION, e, &EVENT_CHANGES))
                .collect(),
        },
        version: RPC_VERSION,
        unique_id: cast.unique_id,
        request_id: &context.request_id,
        global_request_id: context.global_request_id.as_deref(),
        user_id: context.user_id.as_deref(),
        project_id: context.project_id.as_deref(),
        roles: &context.roles,
        is_admin: context.is_admin,
        read_deleted: "no",
        timestamp: strtime(context.timestamp),
    };
    let inner = serde_json::to_string(&message)
        .expect("a cast always serialises: it holds only strings, numbers and booleans");
    serde_json::to_vec(&Envelope {
        version: OSLO_VERSION.to_owned(),
        message: inner,
    })
    .expect("an envelope of two strings always serialises")
}

/// An instance primitive as read back: only the fields it carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DecodedInstance {
    pub uuid: ServerId,
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub vm_state: Option<String>,
    #[serde(default)]
    pub task_state: Option<String>,
    #[serde(default)]
    pub power_state: Option<i64>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

/// A cast as read back (by tests and `herald load` in Nova mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub method: String,
    pub version: String,
    pub unique_id: String,
    pub request_id: Option<String>,
    pub global_request_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
    pub timestamp: Option<String>,
    pub instances: Vec<DecodedInstance>,
    pub events: Vec<Event>,
}

/// Why a body is not a cast this module reads.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JSON oslo message")]
    Json(#[from] serde_json::Error),
    #[error("object primitive {found:?} where {expected:?} was expected")]
    Object {
        expected: &'static str,
        found: String,
    },
}

#[derive(Deserialize)]
struct DecodedArgs {
    instances: Vec<Primitive<DecodedInstance>>,
    events: Vec<Primitive<Event>>,
}

#[derive(Deserialize)]
struct DecodedMessage {
    method: String,
    args: DecodedArgs,
    version: String,
    #[serde(rename = "_unique_id")]
    unique_id: String,
    #[serde(rename = "_context_request_id", default)]
    request_id: Option<String>,
    #[serde(rename = "_context_global_request_id", default)]
    global_request_id: Option<String>,
    #[serde(rename = "_context_user_id", default)]
    user_id: Option<String>,
    #[serde(rename = "_context_project_id", default)]
    project_id: Option<String>,
    #[serde(rename = "_context_roles", default)]
    roles: Vec<String>,
    #[serde(rename = "_context_is_admin", default)]
    is_admin: bool,
    #[serde(rename = "_context_timestamp", default)]
    timestamp: Option<String>,
}

/// Reads a cast, with or without the `oslo.version` wrapper (oslo accepts both).
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    let message: DecodedMessage = match value.get("oslo.message") {
        Some(serde_json::Value::String(inner)) => serde_json::from_str(inner)?,
        _ => serde_json::from_value(value)?,
    };
    let instances = message
        .args
        .instances
        .into_iter()
        .map(|p| checked(p, "Instance"))
        .collect::<Result<_, _>>()?;
    let events = message
        .args
        .events
        .into_iter()
        .map(|p| checked(p, "InstanceExternalEvent"))
        .collect::<Result<_, _>>()?;
    Ok(Decoded {
        method: message.method,
        version: message.version,
        unique_id: message.unique_id,
        request_id: message.request_id,
        global_request_id: message.global_request_id,
        user_id: message.user_id,
        project_id: message.project_id,
        roles: message.roles,
        is_admin: message.is_admin,
        timestamp: message.timestamp,
        instances,
        events,
    })
}

fn checked<T>(primitive: Primitive<T>, expected: &'static str) -> Result<T, DecodeError> {
    if primitive.name == expected && primitive.namespace == NAMESPACE {
        Ok(primitive.data)
    } else {
        Err(DecodeError::Object {
            expected,
            found: format!("{}.{}", primitive.namespace, primitive.name),
        })
    }
}

#[cfg(test)]
mod tests;
