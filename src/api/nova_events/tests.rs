//! The pure parts of Nova's delivery: which events write an action, how
//! casts are grouped per host, and the broker each cell names.

use std::collections::HashMap;

use super::*;
use crate::model::{EventStatus, ServerId};

fn h(name: &str) -> HostName {
    HostName::parse(name).unwrap()
}

fn cell(uuid: &str, transport_url: &str) -> Arc<CellMapping> {
    Arc::new(CellMapping {
        uuid: uuid.into(),
        name: Some(uuid.into()),
        database_connection: String::new(),
        transport_url: transport_url.into(),
        disabled: false,
    })
}

fn server(n: u8, host: &str, in_cell: &Arc<CellMapping>) -> Arc<NovaServer> {
    Arc::new(NovaServer {
        uuid: ServerId::parse(&format!("11111111-0000-0000-0000-0000000000{n:02x}")).unwrap(),
        id: i32::from(n),
        host: Some(h(host)),
        project_id: Some("p1".into()),
        user_id: Some("u1".into()),
        vm_state: Some("active".into()),
        task_state: None,
        power_state: Some(1),
        deleted: false,
        migration: None,
        cell: Arc::clone(in_cell),
    })
}

fn event(name: EventName, server: &NovaServer, tag: Option<&str>) -> Event {
    Event {
        name,
        server: server.uuid,
        server_uuid_as_sent: server.uuid.canonical(),
        status: EventStatus::Completed,
        tag: tag.map(str::to_owned),
    }
}

#[test]
fn actions_are_novas() {
    let c = cell("c1", "none:///");
    let s = server(1, "a", &c);
    let action = |name, tag| action_of(&event(name, &s, tag));
    assert_eq!(
        action(EventName::VolumeExtended, Some("vol")),
        Some("extend_volume")
    );
    assert_eq!(
        action(EventName::PowerUpdate, Some("POWER_ON")),
        Some("start")
    );
    assert_eq!(
        action(EventName::PowerUpdate, Some("POWER_OFF")),
        Some("stop")
    );
    assert_eq!(action(EventName::NetworkVifPlugged, Some("port")), None);
    assert_eq!(action(EventName::NetworkChanged, None), None);
}

#[test]
fn one_cast_per_host_with_each_instance_once_and_events_in_order() {
    let c = cell("c1", "rabbit://u:p@h:5672/");
    let (a, b) = (server(1, "cmp-a", &c), server(2, "cmp-b", &c));
    let events = vec![
        event(EventName::NetworkVifPlugged, &a, Some("1")),
        event(EventName::NetworkVifPlugged, &b, Some("2")),
        event(EventName::NetworkChanged, &a, None),
        event(EventName::NetworkVifUnplugged, &a, Some("4")),
    ];
    let mut verdicts = vec![
        Verdict::Deliver(vec![h("cmp-a")]),
        Verdict::Deliver(vec![h("cmp-b")]),
        Verdict::Deliver(vec![h("cmp-a")]),
        Verdict::NoHost,
    ];
    let found: Lookup = HashMap::from([
        (a.uuid, Found::Nova(Arc::clone(&a))),
        (b.uuid, Found::Nova(Arc::clone(&b))),
    ]);
    let targets = targets(&events, &mut verdicts, &found);
    assert_eq!(targets.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    let casts = casts(&events, &verdicts, &targets);
    assert_eq!(casts.len(), 2);
    let (_, to_a) = &casts[0];
    assert_eq!(to_a.host, h("cmp-a"));
    assert_eq!(to_a.instances.len(), 1, "an instance once per cast");
    assert_eq!(to_a.instances[0].id, 1);
    let names: Vec<_> = to_a.events.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [EventName::NetworkVifPlugged, EventName::NetworkChanged]
    );
    assert_eq!(casts[1].1.host, h("cmp-b"));
}

#[test]
fn a_deliverable_event_without_a_nova_row_is_503() {
    let c = cell("c1", "none:///");
    let a = server(1, "cmp-a", &c);
    let events = vec![event(EventName::NetworkChanged, &a, None)];
    let mut verdicts = vec![Verdict::Deliver(vec![h("cmp-a")])];
    let placed = crate::model::Placement {
        host: Some(h("cmp-a")),
        migration: None,
    };
    let found: Lookup = HashMap::from([(a.uuid, Found::Placed(placed))]);
    assert!(targets(&events, &mut verdicts, &found).is_empty());
    assert_eq!(verdicts[0], Verdict::Unavailable);
}

#[test]
fn cell_brokers_are_filled_from_amqp_url() {
    let amqp = BrokerUrls::from("rabbit://nova:pw@rabbit-1:5672/");
    let templated = cell(
        "c2",
        "rabbit://{username}:{password}@{hostname}:{port}/cell2",
    );
    let broker = cell_broker(&templated, &amqp).unwrap().unwrap();
    assert_eq!(
        broker.urls(),
        BrokerUrls::Many(vec!["amqp://nova:pw@rabbit-1:5672/cell2".into()])
    );
    assert_eq!(cell_broker(&cell("c0", "none:///"), &amqp), Ok(None));
    let unfillable = cell("c3", "rabbit://{user}@h/");
    assert!(cell_broker(&unfillable, &amqp).is_err());
}
