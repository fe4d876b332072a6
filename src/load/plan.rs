//! What a load run sends, as pure data: the hosts, the servers seeded on
//! them, and the body of the n-th events batch.
//!
//! Server `i` lives on host `i % hosts`. Event `n` of the run (counting
//! across batches) goes to host `n % hosts`, so consecutive events walk the
//! hosts round-robin and a batch of `hosts` events touches every host once;
//! within a host the servers are taken in turn.

use bytes::Bytes;
use serde::Serialize;
use uuid::Uuid;

use crate::model::{EventName, HostName, HostNameError, ServerId};

/// The event every generated batch carries: allowed at every microversion,
/// so each event's code depends only on herald (its tag is optional, and
/// load sets it to the event's number).
pub const EVENT: EventName = EventName::NetworkVifPlugged;

/// Why the flags cannot make a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("--host-prefix")]
    HostName(#[source] HostNameError),
    #[error("--servers {servers} is fewer than --hosts {hosts}: every host needs a server")]
    TooFewServers { servers: u32, hosts: u32 },
}

/// Hosts, their servers, and the batch shape.
#[derive(Debug, Clone)]
pub struct Plan {
    hosts: Vec<HostName>,
    /// `by_host[h]` are the servers seeded on `hosts[h]`.
    by_host: Vec<Vec<ServerId>>,
    batch_size: usize,
}

#[derive(Serialize)]
struct SeedEntry<'a> {
    uuid: &'a ServerId,
    host: &'a HostName,
    migration: Option<()>,
}

#[derive(Serialize)]
struct WireEvent<'a> {
    name: &'static str,
    server_uuid: &'a ServerId,
    status: &'static str,
    tag: String,
}

impl Plan {
    /// A plan with `servers` fresh random UUIDs over hosts `<prefix>-0..hosts`.
    pub fn random(
        servers: u32,
        hosts: u32,
        prefix: &str,
        batch_size: u32,
    ) -> Result<Self, PlanError> {
        Self::with_ids(servers, hosts, prefix, batch_size, || {
            ServerId::from_uuid(Uuid::new_v4())
        })
    }

    /// As [`Plan::random`], with server ids from `next_id` (tests pass a counter).
    pub fn with_ids(
        servers: u32,
        hosts: u32,
        prefix: &str,
        batch_size: u32,
        mut next_id: impl FnMut() -> ServerId,
    ) -> Result<Self, PlanError> {
        if servers < hosts {
            return Err(PlanError::TooFewServers { servers, hosts });
        }
        let hosts: Vec<HostName> = (0..hosts)
            .map(|i| HostName::parse(&format!("{prefix}-{i}")))
            .collect::<Result<_, _>>()
            .map_err(PlanError::HostName)?;
        let mut by_host = vec![Vec::new(); hosts.len()];
        for i in 0..servers as usize {
            by_host[i % hosts.len()].push(next_id());
        }
        Ok(Self {
            hosts,
            by_host,
            batch_size: batch_size as usize,
        })
    }

    pub fn hosts(&self) -> &[HostName] {
        &self.hosts
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Every seeded server with its host.
    pub fn servers(&self) -> impl Iterator<Item = (&ServerId, &HostName)> {
        self.hosts
            .iter()
            .zip(&self.by_host)
            .flat_map(|(host, ids)| ids.iter().map(move |id| (id, host)))
    }

    /// Bodies for `POST /directory/servers`, `chunk` entries each.
    pub fn seed_bodies(&self, chunk: usize) -> Vec<Bytes> {
        let entries: Vec<SeedEntry<'_>> = self
            .servers()
            .map(|(uuid, host)| SeedEntry {
                uuid,
                host,
                migration: None,
            })
            .collect();
        entries
            .chunks(chunk.max(1))
            .map(|servers| json_body(&serde_json::json!({ "servers": servers })))
            .collect()
    }

    /// The host and server of event `n` of the run.
    pub fn event_target(&self, n: u64) -> (&HostName, &ServerId) {
        let h = (n % self.hosts.len() as u64) as usize;
        let ids = &self.by_host[h];
        let turn = (n / self.hosts.len() as u64) % ids.len() as u64;
        (&self.hosts[h], &ids[turn as usize])
    }

    /// The body of request `seq`: events `seq * batch_size ..` of the run.
    pub fn batch_body(&self, seq: u64) -> Bytes {
        let first = seq * self.batch_size as u64;
        let events: Vec<WireEvent<'_>> = (first..first + self.batch_size as u64)
            .map(|n| WireEvent {
                name: EVENT.as_str(),
                server_uuid: self.event_target(n).1,
                status: "completed",
                tag: n.to_string(),
            })
            .collect();
        json_body(&serde_json::json!({ "events": events }))
    }
}

fn json_body(value: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("a JSON value always serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(servers: u32, hosts: u32, batch: u32) -> Plan {
        let mut next = 0u128;
        Plan::with_ids(servers, hosts, "load", batch, || {
            next += 1;
            ServerId::from_uuid(Uuid::from_u128(next))
        })
        .unwrap()
    }

    fn body(bytes: &Bytes) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn servers_spread_evenly_over_named_hosts() {
        let p = plan(25, 10, 10);
        assert_eq!(p.hosts()[3].as_str(), "load-3");
        let per_host: Vec<usize> = p.by_host.iter().map(Vec::len).collect();
        assert_eq!(per_host, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        assert_eq!(p.servers().count(), 25);
    }

    #[test]
    fn a_batch_as_wide_as_the_hosts_touches_each_host_once() {
        let p = plan(1000, 10, 10);
        for seq in [0, 1, 57] {
            let mut hosts: Vec<_> = (seq * 10..seq * 10 + 10)
                .map(|n| p.event_target(n).0.clone())
                .collect();
            hosts.sort();
            hosts.dedup();
            assert_eq!(hosts.len(), 10, "batch {seq}");
        }
    }

    #[test]
    fn events_walk_every_server_of_a_host_in_turn() {
        let p = plan(6, 2, 4);
        let on_host0: Vec<_> = (0..6).step_by(2).map(|n| *p.event_target(n).1).collect();
        assert_eq!(on_host0, p.by_host[0]);
        assert_eq!(p.event_target(6).1, &p.by_host[0][0]);
    }

    #[test]
    fn batch_bodies_follow_the_events_api() {
        let p = plan(20, 10, 3);
        let b = body(&p.batch_body(1));
        let events = b["events"].as_array().unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["name"], "network-vif-plugged");
        assert_eq!(events[0]["status"], "completed");
        assert_eq!(events[0]["server_uuid"], p.event_target(3).1.to_string());
        assert_eq!(b.as_object().unwrap().len(), 1);
    }

    #[test]
    fn seed_bodies_cover_every_server_once_in_chunks() {
        let p = plan(25, 10, 10);
        let bodies = p.seed_bodies(10);
        assert_eq!(bodies.len(), 3);
        let entries: Vec<_> = bodies
            .iter()
            .flat_map(|b| body(b)["servers"].as_array().unwrap().clone())
            .collect();
        assert_eq!(entries.len(), 25);
        assert_eq!(entries[0]["host"], "load-0");
        assert!(entries[0]["migration"].is_null());
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(matches!(
            Plan::random(3, 10, "load", 1),
            Err(PlanError::TooFewServers { .. })
        ));
        assert!(matches!(
            Plan::random(10, 10, "lo ad", 1),
            Err(PlanError::HostName(_))
        ));
    }
}
