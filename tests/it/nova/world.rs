//! The rows the Nova-mode tests make with nova's own objects, one per case
//! of contract §8's table (and `reference/nova-mode.md`'s edge cases A–K),
//! and what herald must answer for each, for an admin caller and for a
//! caller with only the `service` role in project `p1`.

use serde_json::{Value, json};

/// Hosts the cases deliver to (each gets a queue).
pub const HOSTS: [&str; 9] = [
    "cmp-1", "cmp-2", "cmp-3", "cmp-4", "cmp-5", "cmp-6", "cmp-7", "cmp-8", "cmp-9",
];

/// The cloud's rows: cell1 is stored literally, cell2 as a template.
pub fn rows() -> Value {
    json!({
        "host_mappings": [{"host": "cmp-9", "cell": "cell1"}, {"host": "cmp-8", "cell": "cell2"}],
        "instances": [
            {"key": "A", "cell": "cell1", "host": "cmp-1", "vm_state": "active", "power_state": 1},
            {"key": "B", "cell": "cell1", "host": null, "vm_state": "building", "power_state": 0},
            {"key": "C", "cell": "cell1", "host": "cmp-1", "deleted": true},
            {"key": "D", "cell": "cell1", "host": "cmp-1",
             "migration": {"source": "cmp-1", "dest": "cmp-2"}},
            {"key": "K", "cell": "cell1", "host": "cmp-4",
             "migration": {"source": "cmp-4", "dest": "cmp-5", "status": "finished", "deleted": true}},
            {"key": "M", "cell": "cell1", "host": "cmp-6",
             "migration": {"source": "cmp-6", "dest": "cmp-7", "missing": true}},
            {"key": "X", "cell": "cell2", "host": "cmp-8", "task_state": "resize_migrating",
             "migration": {"source": "cmp-8", "dest": "cmp-9", "cross_cell": true}},
            {"key": "E", "cell": "cell0", "host": null, "vm_state": "error"},
            {"key": "F", "cell": null},
            {"key": "F2", "cell": null, "project_id": "p2"},
            {"key": "H", "cell": "cell1", "host": "cmp-1", "hidden": true},
            {"key": "I", "cell": "cell1", "host": "cmp-3", "project_id": "p2", "user_id": "u2"},
            {"key": "J", "cell": "cell1", "row": false}
        ]
    })
}

/// One event of the batch and what it becomes.
pub struct Case {
    /// The row (`G`: a uuid nothing knows).
    pub key: &'static str,
    pub name: &'static str,
    /// Also what identifies the event on the queues.
    pub tag: Option<&'static str>,
    /// Code and hosts for an admin caller.
    pub admin: (u16, &'static [&'static str]),
    /// Code and hosts for a `service`-role caller in project `p1`.
    pub member: (u16, &'static [&'static str]),
    pub why: &'static str,
}

const PLUGGED: &str = "network-vif-plugged";

const fn case(
    key: &'static str,
    tag: &'static str,
    admin: (u16, &'static [&'static str]),
    member: (u16, &'static [&'static str]),
    why: &'static str,
) -> Case {
    Case {
        key,
        name: PLUGGED,
        tag: Some(tag),
        admin,
        member,
        why,
    }
}

/// Every case, in one batch.
pub const CASES: &[Case] = &[
    case(
        "A",
        "a",
        (200, &["cmp-1"]),
        (200, &["cmp-1"]),
        "active on a host",
    ),
    case("B", "b", (422, &[]), (422, &[]), "no host yet"),
    case(
        "C",
        "c",
        (200, &["cmp-1"]),
        (200, &["cmp-1"]),
        "deleted, not archived: delivered as Nova does",
    ),
    case(
        "D",
        "d",
        (200, &["cmp-1", "cmp-2"]),
        (200, &["cmp-1", "cmp-2"]),
        "migrating: both ends",
    ),
    case(
        "K",
        "k",
        (200, &["cmp-4", "cmp-5"]),
        (200, &["cmp-4", "cmp-5"]),
        "soft-deleted migration row still counts",
    ),
    case(
        "M",
        "m",
        (200, &["cmp-6"]),
        (200, &["cmp-6"]),
        "migration row gone: the host only (nova-api: 500)",
    ),
    case(
        "X",
        "x",
        (200, &["cmp-8", "cmp-9"]),
        (200, &["cmp-8", "cmp-9"]),
        "cross-cell move in the templated cell2",
    ),
    case("E", "e", (422, &[]), (422, &[]), "in cell0"),
    case(
        "F",
        "f",
        (422, &[]),
        (422, &[]),
        "mapping not yet in a cell (nova-api: 500 for the batch)",
    ),
    case(
        "F2",
        "f2",
        (422, &[]),
        (404, &[]),
        "not yet in a cell, another project",
    ),
    case("G", "g", (404, &[]), (404, &[]), "no mapping"),
    case("H", "h", (404, &[]), (404, &[]), "hidden"),
    case("I", "i", (200, &["cmp-3"]), (404, &[]), "another project"),
    case(
        "J",
        "j",
        (404, &[]),
        (404, &[]),
        "mapping, no row in its cell",
    ),
    Case {
        key: "A",
        name: "volume-extended",
        tag: None,
        admin: (400, &[]),
        member: (400, &[]),
        why: "tag required",
    },
    Case {
        key: "A",
        name: "volume-extended",
        tag: Some("vol-a"),
        admin: (200, &["cmp-1"]),
        member: (200, &["cmp-1"]),
        why: "the tagged copy",
    },
];
