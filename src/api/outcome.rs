//! The per-event outcome rules (pure): 404 → 400 → 422 → 503/200, and the
//! overall 200/207. This route never answers 404 as a whole.

use std::collections::HashMap;

use http::StatusCode;
use serde::Serialize;

use crate::directory::Found;
use crate::dispatch::PublishOutcome;
use crate::model::{Event, HostName};

/// What the directory and the event itself say, before dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 404: no such server in the directory.
    UnknownServer,
    /// 400: a required tag is missing, or the tag is not valid for the name.
    BadTag,
    /// 422: the server has no host yet.
    NoHost,
    /// 503: the directory could not say (a Nova cell database is down).
    Unavailable,
    /// To be delivered to these hosts.
    Deliver(Vec<HostName>),
}

/// Judges one event, in the contract's order. A server behind a database
/// that did not answer is 503 before anything else: whether it exists (404)
/// is not known.
pub fn judge(event: &Event, found: Option<&Found>) -> Verdict {
    let Some(found) = found else {
        return Verdict::UnknownServer;
    };
    let Some(placement) = found.placement() else {
        return Verdict::Unavailable;
    };
    let tag_ok = match &event.tag {
        None => !event.name.requires_tag(),
        Some(tag) => event.name.accepts_tag(tag),
    };
    if !tag_ok {
        return Verdict::BadTag;
    }
    let hosts = placement.delivery_hosts();
    if hosts.is_empty() {
        return Verdict::NoHost;
    }
    Verdict::Deliver(hosts)
}

/// The final code of an event, given what each host's message became.
pub fn code(verdict: &Verdict, deliveries: &HashMap<HostName, PublishOutcome>) -> u16 {
    match verdict {
        Verdict::UnknownServer => 404,
        Verdict::BadTag => 400,
        Verdict::NoHost => 422,
        Verdict::Unavailable => 503,
        Verdict::Deliver(hosts) => {
            let all = hosts
                .iter()
                .all(|h| deliveries.get(h).is_some_and(PublishOutcome::is_confirmed));
            if all { 200 } else { 503 }
        }
    }
}

/// One event of the response: the caller's fields echoed, plus status and code.
/// The fields are in the order they are written (alphabetical, as a JSON
/// object built through `serde_json::Value` writes them), since the answer
/// is serialised straight from these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventResult<'a> {
    pub code: u16,
    pub name: &'static str,
    pub server_uuid: &'a str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'a str>,
}

/// The events route's answer body: `{"events": [...]}`.
#[derive(Debug, Serialize)]
pub struct Answer<'a> {
    pub events: &'a [EventResult<'a>],
}

impl<'a> EventResult<'a> {
    pub fn new(event: &'a Event, code: u16) -> Self {
        Self {
            name: event.name.as_str(),
            server_uuid: &event.server_uuid_as_sent,
            status: if code == 200 { "completed" } else { "failed" },
            tag: event.tag.as_deref(),
            code,
        }
    }
}

/// 200 when every event is 200, else 207 (never 404).
pub fn overall(codes: impl IntoIterator<Item = u16>) -> StatusCode {
    if codes.into_iter().all(|c| c == 200) {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::Failure;
    use crate::model::{EventName, EventStatus, Migration, Placement, ServerId};

    fn h(name: &str) -> HostName {
        HostName::parse(name).unwrap()
    }

    fn event(name: EventName, tag: Option<&str>) -> Event {
        Event {
            name,
            server: ServerId::parse("00000000-0000-0000-0000-000000000001").unwrap(),
            server_uuid_as_sent: "00000000-0000-0000-0000-000000000001".into(),
            status: EventStatus::Completed,
            tag: tag.map(str::to_owned),
        }
    }

    fn on(host: Option<&str>) -> Found {
        Found::Placed(Placement {
            host: host.map(h),
            migration: None,
        })
    }

    #[test]
    fn order_is_404_then_400_then_422() {
        let no_tag = event(EventName::VolumeExtended, None);
        assert_eq!(judge(&no_tag, None), Verdict::UnknownServer);
        assert_eq!(judge(&no_tag, Some(&on(None))), Verdict::BadTag);
        let fine = event(EventName::NetworkChanged, None);
        assert_eq!(judge(&fine, Some(&on(None))), Verdict::NoHost);
        assert_eq!(judge(&fine, Some(&Found::Unscheduled)), Verdict::NoHost);
        assert_eq!(
            judge(&no_tag, Some(&Found::Unavailable)),
            Verdict::Unavailable
        );
        assert_eq!(
            judge(&fine, Some(&on(Some("a")))),
            Verdict::Deliver(vec![h("a")])
        );
    }

    #[test]
    fn tag_rules() {
        let placed = on(Some("a"));
        for name in [
            EventName::VolumeExtended,
            EventName::PowerUpdate,
            EventName::AcceleratorRequestBound,
        ] {
            assert_eq!(
                judge(&event(name, None), Some(&placed)),
                Verdict::BadTag,
                "{name}"
            );
        }
        // An empty string counts as a tag (except where the value is checked).
        assert!(matches!(
            judge(&event(EventName::VolumeExtended, Some("")), Some(&placed)),
            Verdict::Deliver(_)
        ));
        assert_eq!(
            judge(&event(EventName::PowerUpdate, Some("foo")), Some(&placed)),
            Verdict::BadTag
        );
        assert_eq!(
            judge(&event(EventName::PowerUpdate, Some("")), Some(&placed)),
            Verdict::BadTag
        );
        assert!(matches!(
            judge(
                &event(EventName::PowerUpdate, Some("POWER_OFF")),
                Some(&placed)
            ),
            Verdict::Deliver(_)
        ));
        // volume-reimaged does not require a tag (as in Nova).
        assert!(matches!(
            judge(&event(EventName::VolumeReimaged, None), Some(&placed)),
            Verdict::Deliver(_)
        ));
    }

    #[test]
    fn migration_adds_both_ends() {
        let p = Found::Placed(Placement {
            host: Some(h("a")),
            migration: Some(Migration {
                source_compute: h("a"),
                dest_compute: h("b"),
            }),
        });
        assert_eq!(
            judge(&event(EventName::NetworkChanged, None), Some(&p)),
            Verdict::Deliver(vec![h("a"), h("b")])
        );
    }

    #[test]
    fn codes_after_dispatch() {
        let verdict = Verdict::Deliver(vec![h("a"), h("b")]);
        let mut d = HashMap::from([
            (h("a"), PublishOutcome::Confirmed),
            (h("b"), PublishOutcome::Confirmed),
        ]);
        assert_eq!(code(&verdict, &d), 200);
        d.insert(
            h("b"),
            PublishOutcome::Failed(Failure::Unroutable("events.b".into())),
        );
        assert_eq!(code(&verdict, &d), 503);
        assert_eq!(code(&verdict, &HashMap::new()), 503);
        assert_eq!(code(&Verdict::UnknownServer, &d), 404);
        assert_eq!(code(&Verdict::BadTag, &d), 400);
        assert_eq!(code(&Verdict::NoHost, &d), 422);
        assert_eq!(code(&Verdict::Unavailable, &d), 503);
    }

    #[test]
    fn overall_status_never_404() {
        assert_eq!(overall([200, 200]), StatusCode::OK);
        assert_eq!(overall([200, 404]), StatusCode::MULTI_STATUS);
        assert_eq!(overall([404, 422]), StatusCode::MULTI_STATUS);
        assert_eq!(overall([404]), StatusCode::MULTI_STATUS);
    }

    #[test]
    fn results_echo_the_caller() {
        let mut e = event(EventName::NetworkVifPlugged, Some("port"));
        e.status = EventStatus::InProgress;
        e.server_uuid_as_sent = "00000000000000000000000000000001".into();
        let ok = serde_json::to_value(EventResult::new(&e, 200)).unwrap();
        assert_eq!(
            ok,
            serde_json::json!({"name": "network-vif-plugged", "server_uuid": "00000000000000000000000000000001",
                               "status": "completed", "tag": "port", "code": 200})
        );
        let untagged = event(EventName::NetworkChanged, None);
        let failed = serde_json::to_value(EventResult::new(&untagged, 404)).unwrap();
        assert!(failed.get("tag").is_none());
        assert_eq!(failed["status"], "failed");
    }

    #[test]
    fn the_answer_is_written_as_through_a_json_value() {
        let tagged = event(EventName::NetworkVifPlugged, Some("p\"ort"));
        let untagged = event(EventName::NetworkChanged, None);
        let results = [
            EventResult::new(&tagged, 200),
            EventResult::new(&untagged, 404),
        ];
        let direct = serde_json::to_string(&Answer { events: &results }).unwrap();
        let through_value = serde_json::json!({ "events": results }).to_string();
        assert_eq!(direct, through_value);
    }
}
