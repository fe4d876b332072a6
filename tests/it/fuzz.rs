//! Property tests of everything that parses outside input: the events batch
//! validator, the microversion headers, the directory bodies and the wire
//! body decoder. A fixed seed and a bounded number of cases keep them
//! reproducible and quick in the normal suite. Properties: no input panics;
//! a refusal says why; a body that breaks one field is refused naming that
//! field; what herald writes on the wire, it reads back.

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

use herald::api::negotiate;
use herald::api::{directory_body, validate};
use herald::microversion::{Microversion, VersionError};
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::wire;

/// Fixed seed, bounded budget, no regression files written.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6865_7261_6c64),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("3df201cf-2451-44f2-8d25-a4ca826fc1f3")),
        Just(json!("network-vif-plugged")),
        Just(json!("POWER_ON")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_version() -> impl Strategy<Value = Microversion> {
    (0u32..=120).prop_filter_map("a served version", |minor| {
        Microversion::parse(&format!("2.{minor}"))
            .filter(|v| *v >= Microversion::MIN && *v <= Microversion::MAX)
    })
}

fn valid_event() -> Value {
    json!({"name": "network-changed", "server_uuid": "3df201cf-2451-44f2-8d25-a4ca826fc1f3",
           "status": "completed", "tag": "port-1"})
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_bytes_are_judged_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..512),
                                          version in any_version()) {
        if let Err(e) = validate::parse_batch(&bytes, version) {
            prop_assert!(!e.0.is_empty());
        }
    }

    #[test]
    fn any_json_body_is_judged_without_panic(value in json_value(), version in any_version()) {
        if let Err(e) = validate::validate_batch(&value, version) {
            prop_assert!(!e.0.is_empty());
        }
        let wrapped = json!({"events": [value]});
        if let Err(e) = validate::validate_batch(&wrapped, version) {
            prop_assert!(e.0.contains("events[0]"), "names the event: {}", e.0);
        }
    }

    #[test]
    fn a_broken_field_is_named(field in prop::sample::select(vec!["name", "server_uuid", "status", "tag"]),
                               value in json_value()) {
        let mut event = valid_event();
        event[field] = value;
        let body = json!({"events": [event]});
        if let Err(e) = validate::validate_batch(&body, Microversion::MAX) {
            prop_assert!(e.0.contains(&format!("events[0].{field}")), "{field} not named: {}", e.0);
        }
    }

    #[test]
    fn microversion_headers_never_panic(standard in "[ -~]{0,40}", legacy in "[ -~]{0,20}",
                                        which in 0u8..3) {
        let mut headers = HeaderMap::new();
        if which != 1 && let Ok(v) = HeaderValue::from_str(&standard) {
            headers.insert(negotiate::STANDARD_HEADER, v);
        }
        if which != 0 && let Ok(v) = HeaderValue::from_str(&legacy) {
            headers.insert(negotiate::LEGACY_HEADER, v);
        }
        match negotiate::negotiate(&headers) {
            Ok(v) => prop_assert!(v >= Microversion::MIN && v <= Microversion::MAX),
            Err(VersionError::Unsupported(v)) => {
                prop_assert!(v < Microversion::MIN || v > Microversion::MAX)
            }
            Err(VersionError::Malformed(_)) => {}
        }
    }

    #[test]
    fn directory_bodies_never_panic(value in json_value()) {
        if let Err(e) = directory_body::placement(&value) {
            prop_assert!(!e.0.is_empty());
        }
        if let Err(e) = directory_body::bulk(&value) {
            prop_assert!(!e.0.is_empty());
        }
        let entry = json!({"servers": [{"uuid": "3df201cf-2451-44f2-8d25-a4ca826fc1f3",
                                        "host": value.clone()}]});
        if let Err(e) = directory_body::bulk(&entry) {
            prop_assert!(e.0.contains("servers[0].host"), "host not named: {}", e.0);
        }
        if let Err(e) = directory_body::placement(&json!({"host": value})) {
            prop_assert!(e.0.contains("host"), "host not named: {}", e.0);
        }
    }

    #[test]
    fn wire_bodies_of_any_shape_never_panic(value in json_value(),
                                            bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = wire::decode(&bytes);
        let _ = wire::decode(value.to_string().as_bytes());
        for version in [1, 2] {
            let mut body = json!({"version": version, "message_id": "m", "host": "h",
                                  "sent_at": "t", "request_id": "r", "events": [value.clone()]});
            let _ = wire::decode(body.to_string().as_bytes());
            body["events"] = value.clone();
            let _ = wire::decode(body.to_string().as_bytes());
        }
    }

    #[test]
    fn what_herald_writes_it_reads_back(
        events in prop::collection::vec(
            (0..EventName::ALL.len(), 0..EventStatus::ALL.len(),
             proptest::option::of("[a-zA-Z0-9_-]{1,20}"), "req-[0-9a-f]{8}",
             proptest::option::of("req-[0-9a-f]{8}"), any::<u128>()),
            1..20),
        host in "[a-z][a-z0-9-]{0,20}",
    ) {
        let message = wire::MessageV2 {
            version: wire::BODY_V2,
            message_id: "m".into(),
            host: HostName::parse(&host).expect("generated names are valid"),
            sent_at: herald::support::timestamp::now_rfc3339(),
            events: events
                .into_iter()
                .map(|(name, status, tag, request_id, global, uuid)| wire::WireEventV2 {
                    name: EventName::ALL[name],
                    server_uuid: ServerId::parse(&uuid::Uuid::from_u128(uuid).to_string())
                        .expect("a uuid"),
                    status: EventStatus::ALL[status],
                    tag,
                    request_id,
                    global_request_id: global,
                })
                .collect(),
        };
        let decoded = wire::decode(&message.encode()).expect("herald reads what it writes");
        prop_assert_eq!(decoded.events, message.events);
        prop_assert_eq!(decoded.host, message.host);
    }
}
