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
    #[error(
        "--unknown-percent {unknown} and --unassigned-percent {unassigned} add up to more than 100"
    )]
    Mix { unknown: u8, unassigned: u8 },
}

/// How many servers of the directory's pools the mix keeps aside.
const POOL: usize = 100;

/// Shares of events aimed at servers the directory does not know (404 per
/// event) and at servers known with no host (422), in percent; the rest go
/// to seeded servers on hosts (200 when the broker takes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mix {
    unknown: u8,
    unassigned: u8,
}

impl Mix {
    pub fn new(unknown: u8, unassigned: u8) -> Result<Self, PlanError> {
        if u16::from(unknown) + u16::from(unassigned) > 100 {
            return Err(PlanError::Mix {
                unknown,
                unassigned,
            });
        }
        Ok(Self {
            unknown,
            unassigned,
        })
    }

    /// Which kind of server event `n` goes to: scattered, not in runs, and
    /// the same for the same `n` in every run.
    fn kind(self, n: u64) -> Kind {
        let r = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 100;
        if r < u64::from(self.unknown) {
            Kind::Unknown
        } else if r < u64::from(self.unknown) + u64::from(self.unassigned) {
            Kind::Unassigned
        } else {
            Kind::OnHost
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OnHost,
    Unknown,
    Unassigned,
}

/// Hosts, their servers, and the batch shape.
#[derive(Debug, Clone)]
pub struct Plan {
    hosts: Vec<HostName>,
    /// `by_host[h]` are the servers seeded on `hosts[h]`.
    by_host: Vec<Vec<ServerId>>,
    batch_size: usize,
    mix: Mix,
    /// Seeded with no host: events for them answer 422.
    unassigned: Vec<ServerId>,
    /// Never seeded: events for them answer 404.
    unknown: Vec<ServerId>,
}

#[derive(Serialize)]
struct SeedEntry<'a> {
    uuid: &'a ServerId,
    host: Option<&'a HostName>,
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
            mix: Mix::default(),
            unassigned: Vec::new(),
            unknown: Vec::new(),
        })
    }

    /// A plan over servers already placed: `by_host[h]` live on `hosts[h]`
    /// (each host with at least one server, checked by the caller).
    pub fn placed(hosts: Vec<HostName>, by_host: Vec<Vec<ServerId>>, batch_size: u32) -> Self {
        debug_assert!(hosts.len() == by_host.len() && by_host.iter().all(|s| !s.is_empty()));
        Self {
            hosts,
            by_host,
            batch_size: batch_size as usize,
            mix: Mix::default(),
            unassigned: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// The plan with `mix`'s shares of events for unknown and unassigned
    /// servers, their ids from `next_id`.
    pub fn with_mix(mut self, mix: Mix, mut next_id: impl FnMut() -> ServerId) -> Self {
        self.mix = mix;
        self.unassigned = (0..POOL).map(|_| next_id()).collect();
        self.unknown = (0..POOL).map(|_| next_id()).collect();
        self
    }

    pub fn hosts(&self) -> &[HostName] {
        &self.hosts
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Every seeded server with its host (none for the unassigned ones).
    pub fn servers(&self) -> impl Iterator<Item = (&ServerId, Option<&HostName>)> {
        self.hosts
            .iter()
            .zip(&self.by_host)
            .flat_map(|(host, ids)| ids.iter().map(move |id| (id, Some(host))))
            .chain(self.unassigned.iter().map(|id| (id, None)))
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

    /// The server event `n` is for, after the mix.
    pub fn event_server(&self, n: u64) -> &ServerId {
        let pool: &[ServerId] = match self.mix.kind(n) {
            Kind::OnHost => &[],
            Kind::Unknown => &self.unknown,
            Kind::Unassigned => &self.unassigned,
        };
        let aside = pool.get((n % pool.len().max(1) as u64) as usize);
        aside.unwrap_or_else(|| self.event_target(n).1)
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
                server_uuid: self.event_server(n),
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

    #[test]
    fn the_mix_sends_its_shares_to_unknown_and_unassigned_servers() {
        assert!(matches!(Mix::new(60, 41), Err(PlanError::Mix { .. })));
        let mut next = 0u128;
        let p = plan(10, 2, 1).with_mix(Mix::new(20, 10).unwrap(), || {
            next += 1_000;
            ServerId::from_uuid(Uuid::from_u128(next))
        });
        let (mut unknown, mut unassigned) = (0, 0);
        for n in 0..10_000 {
            let id = p.event_server(n);
            if p.unknown.contains(id) {
                unknown += 1;
            } else if p.unassigned.contains(id) {
                unassigned += 1;
            }
        }
        assert!((1_700..2_300).contains(&unknown), "{unknown}");
        assert!((700..1_300).contains(&unassigned), "{unassigned}");
        // The unassigned are seeded with no host; the unknown never are.
        let seeded: Vec<_> = p.servers().collect();
        assert_eq!(seeded.len(), 10 + POOL);
        assert!(
            seeded
                .iter()
                .all(|(id, host)| host.is_none() == p.unassigned.contains(id))
        );
        assert!(seeded.iter().all(|(id, _)| !p.unknown.contains(id)));
        // Without a mix every event goes to a server on a host.
        let plain = plan(10, 2, 1);
        assert!((0..100).all(|n| plain.event_server(n) == plain.event_target(n).1));
    }

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
