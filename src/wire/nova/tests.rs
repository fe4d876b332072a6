//! Tests of the Nova wire: the shape of what herald sends, checked against
//! the smallest cast an unmodified nova-compute accepted here.

use serde_json::{Value, json};

use super::*;

/// The cast the probe hand-built and nova-compute 34.0.0 received
/// (`reference/nova-probe/minimal_envelope.bin`).
const MINIMAL: &[u8] = include_bytes!("../testdata/minimal_envelope.bin");

fn uuid(n: u8) -> ServerId {
    ServerId::parse(&format!("11111111-0000-0000-0000-0000000000{n:02x}")).unwrap()
}

fn context() -> Context {
    Context {
        request_id: "req-76a0c77c-6d42-495f-ac6c-f5227d5d85a4".into(),
        global_request_id: None,
        user_id: Some("neutron".into()),
        project_id: Some("service".into()),
        roles: vec!["admin".into(), "service".into()],
        is_admin: true,
        timestamp: time::macros::datetime!(2026-01-01 00:00:00),
    }
}

fn instance() -> Instance {
    Instance {
        id: 7,
        uuid: uuid(0x0a),
        host: Some("cmp-1".into()),
        project_id: Some("p1".into()),
        user_id: Some("u1".into()),
        vm_state: Some("active".into()),
        task_state: None,
        power_state: Some(1),
        deleted: false,
    }
}

fn event(name: EventName, tag: Option<&str>) -> Event {
    Event {
        instance_uuid: uuid(0x0a),
        name,
        status: EventStatus::Completed,
        tag: tag.map(str::to_owned),
    }
}

fn ours() -> Vec<u8> {
    encode(&Cast {
        context: &context(),
        instances: &[instance()],
        events: &[
            event(EventName::NetworkVifPlugged, Some("port-minimal")),
            event(EventName::PowerUpdate, Some("POWER_OFF")),
        ],
        unique_id: "4a560a27bcc94e788be08ec0b3904766",
    })
}

/// The outer object and the inner message, as JSON values.
fn layers(body: &[u8]) -> (Value, Value) {
    let outer: Value = serde_json::from_slice(body).unwrap();
    let inner: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
    (outer, inner)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn the_probes_minimal_envelope_decodes() {
    let d = decode(MINIMAL).unwrap();
    assert_eq!(d.method, "external_instance_event");
    assert_eq!(d.version, "6.0");
    assert_eq!(d.unique_id, "4a560a27bcc94e788be08ec0b3904766");
    assert_eq!(
        d.request_id.as_deref(),
        Some("req-76a0c77c-6d42-495f-ac6c-f5227d5d85a4")
    );
    assert_eq!(d.roles, ["admin", "service"]);
    assert!(d.is_admin);
    assert_eq!(d.timestamp.as_deref(), Some("2026-01-01T00:00:00.000000"));
    assert_eq!(d.instances.len(), 1);
    assert_eq!(d.instances[0].uuid, uuid(0x0a));
    assert_eq!(d.instances[0].host.as_deref(), Some("cmp-1"));
    assert_eq!(d.instances[0].id, None, "the minimal cast carried no id");
    assert_eq!(
        d.events,
        [event(EventName::NetworkVifPlugged, Some("port-minimal"))]
    );
}

#[test]
fn ours_has_the_minimal_envelopes_shape_and_more() {
    let (their_outer, theirs) = layers(MINIMAL);
    let (our_outer, ours) = layers(&ours());
    assert_eq!(keys(&our_outer), keys(&their_outer));
    assert_eq!(our_outer["oslo.version"], "2.0");
    // Every key nova-compute got in the minimal cast is there, with the same value.
    for key in keys(&theirs) {
        if key != "args" {
            assert_eq!(ours[&key], theirs[&key], "{key}");
        }
    }
    let pick = |v: &Value, list: &str| {
        let p = &v["args"][list][0];
        (
            p["nova_object.name"].clone(),
            p["nova_object.namespace"].clone(),
            p["nova_object.version"].clone(),
        )
    };
    for list in ["instances", "events"] {
        assert_eq!(pick(&ours, list), pick(&theirs, list), "{list}");
    }
    assert_eq!(
        ours["args"]["events"][0]["nova_object.data"],
        theirs["args"]["events"][0]["nova_object.data"]
    );
}

#[test]
fn instances_carry_the_rows_fields_so_compute_need_not_lazy_load() {
    let (_, inner) = layers(&ours());
    let data = &inner["args"]["instances"][0]["nova_object.data"];
    assert_eq!(
        *data,
        json!({"id": 7, "uuid": "11111111-0000-0000-0000-00000000000a", "host": "cmp-1",
               "project_id": "p1", "user_id": "u1", "vm_state": "active", "task_state": null,
               "power_state": 1, "deleted": false})
    );
    assert!(
        inner["args"]["instances"][0]
            .get("nova_object.changes")
            .is_none(),
        "an instance read from the database has no changes"
    );
}

#[test]
fn events_are_instance_external_event_primitives_with_their_changes() {
    let (_, inner) = layers(&ours());
    let power = &inner["args"]["events"][1];
    assert_eq!(power["nova_object.version"], "1.5");
    assert_eq!(
        power["nova_object.data"],
        json!({"instance_uuid": "11111111-0000-0000-0000-00000000000a",
               "name": "power-update", "status": "completed", "tag": "POWER_OFF"})
    );
    assert_eq!(
        power["nova_object.changes"],
        json!(["instance_uuid", "name", "status", "tag"])
    );
    let untagged = encode(&Cast {
        context: &context(),
        instances: &[],
        events: &[event(EventName::NetworkChanged, None)],
        unique_id: "x",
    });
    let (_, inner) = layers(&untagged);
    assert_eq!(
        inner["args"]["events"][0]["nova_object.data"]["tag"],
        Value::Null,
        "nova-api sets tag = None"
    );
}

#[test]
fn the_context_is_the_callers() {
    let mut c = context();
    c.global_request_id = Some("req-3df201cf-2451-44f2-8d25-a4ca826fc1f3".into());
    c.is_admin = false;
    c.roles = vec!["service".into()];
    c.timestamp = time::macros::datetime!(2026-12-07 10:11:12.345678);
    let body = encode(&Cast {
        context: &c,
        instances: &[instance()],
        events: &[],
        unique_id: "u",
    });
    let (_, inner) = layers(&body);
    assert_eq!(
        inner["_context_global_request_id"],
        "req-3df201cf-2451-44f2-8d25-a4ca826fc1f3"
    );
    assert_eq!(inner["_context_is_admin"], false);
    assert_eq!(inner["_context_roles"], json!(["service"]));
    assert_eq!(inner["_context_read_deleted"], "no");
    assert_eq!(inner["_context_timestamp"], "2026-12-07T10:11:12.345678");
    let d = decode(&body).unwrap();
    assert_eq!(d.user_id.as_deref(), Some("neutron"));
    assert_eq!(d.project_id.as_deref(), Some("service"));
}

#[test]
fn unique_ids_are_fresh_uuid4_hex() {
    let a = unique_id();
    let b = unique_id();
    assert_ne!(a, b);
    assert_eq!(a.len(), 32);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 4);
}

#[test]
fn round_trip_and_the_unwrapped_form() {
    let body = ours();
    let d = decode(&body).unwrap();
    assert_eq!(d.instances[0].id, Some(7));
    assert_eq!(d.instances[0].deleted, Some(false));
    assert_eq!(d.events.len(), 2);
    let (_, inner) = layers(&body);
    assert_eq!(decode(inner.to_string().as_bytes()).unwrap(), d);
}

#[test]
fn other_objects_and_garbage_are_refused() {
    let (outer, mut inner) = layers(&ours());
    inner["args"]["instances"][0]["nova_object.name"] = json!("Migration");
    let mut swapped = outer.clone();
    swapped["oslo.message"] = json!(inner.to_string());
    assert!(matches!(
        decode(swapped.to_string().as_bytes()),
        Err(DecodeError::Object { .. })
    ));
    assert!(matches!(decode(b"{"), Err(DecodeError::Json(_))));
}

#[test]
fn strtime_is_novas() {
    let at = time::macros::datetime!(2026-01-02 03:04:05.000007);
    assert_eq!(strtime(at), "2026-01-02T03:04:05.000007");
}
