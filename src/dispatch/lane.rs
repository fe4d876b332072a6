//! Per-host coalescing lanes, published in rounds: events bound for one
//! host from concurrent requests travel together in one version 2
//! message, and the messages of every host with work go out together on
//! one channel.
//!
//! A request's events for a host join that host's lane. A round takes one
//! group from each ready lane (its queued requests that fit in
//! `coalesce_max_events`, up to `LaneLimits::round_messages` lanes),
//! publishes them as one batch and awaits their confirms; meanwhile new
//! requests queue and go in the next round. If fewer than
//! `LaneLimits::rounds` rounds run, one starts at once, so an idle system
//! adds no wait. Sharing a channel is what the broker pays least for: its
//! cost per message falls with the messages in flight on a channel. Each
//! request gets the outcome of its own message: a confirm covers all of its
//! events, a nack, return or timeout fails exactly those (returns are
//! matched by message id within the batch).
//!
//! A host whose message timed out publishes alone until one of its
//! messages is confirmed (see `lane_state`), so a host whose confirms do not
//! come holds up no other host's events. Publishers are tasks of their own,
//! so a request that gives up (its client went away, its deadline passed)
//! never strands a channel with unresolved confirms; a request that gave up
//! before its events went out is skipped.

use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::lane_queue::Pending;
pub use super::lane_state::LaneLimits;
use super::lane_state::{Start, State};
use super::link::Link;
use super::publish::{self, Failure, Outgoing, PublishOutcome};
use crate::broker::Topology;
use crate::metrics::Metrics;
use crate::model::HostName;
use crate::support::plain_lock::lock;
use crate::wire;

/// Everything a publisher task needs, shared by all lanes.
#[derive(Debug)]
pub struct Shared {
    pub topology: Topology,
    pub state: watch::Receiver<Option<Arc<Link>>>,
    pub metrics: Arc<Metrics>,
    pub failure_log: super::account::FailureLog,
}

/// The lanes of every host with work in progress (an idle host has none).
/// Every round and solo publisher holds a clone.
#[derive(Clone)]
pub struct Lanes {
    limits: LaneLimits,
    shared: Arc<Shared>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Lanes {
    pub fn new(limits: LaneLimits, shared: Arc<Shared>) -> Self {
        Self {
            limits,
            shared,
            state: Arc::default(),
        }
    }

    /// Queues `events` for `host`; the receiver gets the outcome of the
    /// message they went in. A full lane answers at once.
    pub fn submit(
        &self,
        host: &HostName,
        events: Vec<wire::WireEventV2>,
        deadline: Instant,
    ) -> oneshot::Receiver<PublishOutcome> {
        let (reply, outcome) = oneshot::channel();
        let count = events.len();
        let pending = Pending {
            events,
            deadline,
            reply,
        };
        // Counted before the lock is let go, so a round that takes these
        // events at once never counts them out first.
        self.shared.metrics.lane_queued.inc_by(count as i64);
        let submitted = lock(&self.state).submit(host, pending, &self.limits);
        match submitted {
            Err(pending) => {
                self.shared.metrics.lane_queued.dec_by(count as i64);
                let _ = pending
                    .reply
                    .send(PublishOutcome::Failed(Failure::Overloaded));
            }
            Ok(Start::Nothing) => {}
            Ok(Start::Round) => self.spawn_round(),
            Ok(Start::Solo) => self.spawn_solo(host.clone()),
        }
        outcome
    }

    fn spawn_round(&self) {
        tokio::spawn(self.clone().round());
    }

    fn spawn_solo(&self, host: HostName) {
        tokio::spawn(self.clone().solo(host));
    }

    /// Publishes rounds until no lane is ready.
    async fn round(self) {
        let mut guard = RoundGuard {
            lanes: self.clone(),
            hosts: Vec::new(),
            armed: true,
        };
        loop {
            let taken = lock(&self.state).take_round(&self.limits, Instant::now());
            self.shared.metrics.lane_queued.dec_by(taken.events as i64);
            if taken.groups.is_empty() {
                if taken.events == 0 {
                    guard.armed = false; // counted out by take_round
                    return;
                }
                continue; // every request taken had given up
            }
            guard.hosts = taken.groups.iter().map(|(h, _)| h.clone()).collect();
            let outcomes = publish_groups(&taken.groups, &self.shared).await;
            let solos: Vec<HostName> = {
                let mut state = lock(&self.state);
                guard.hosts.clear();
                taken
                    .groups
                    .iter()
                    .zip(&outcomes)
                    .filter(|((host, _), outcome)| state.finish(host, outcome, &self.limits))
                    .map(|((host, _), _)| host.clone())
                    .collect()
            };
            for host in solos {
                self.spawn_solo(host);
            }
            reply(taken.groups, outcomes);
        }
    }

    /// Publishes a suspect host's messages alone, one at a time.
    async fn solo(self, host: HostName) {
        let mut guard = SoloGuard {
            lanes: self.clone(),
            host: host.clone(),
            held: false,
            armed: true,
        };
        loop {
            let take = lock(&self.state).take_solo(&host, &self.limits, Instant::now());
            self.shared.metrics.lane_queued.dec_by(take.events as i64);
            let Some(group) = take.group else {
                guard.armed = false; // counted out by take_solo
                if take.start_round {
                    self.spawn_round();
                }
                return;
            };
            guard.held = true;
            let groups = vec![(host.clone(), group)];
            let outcomes = publish_groups(&groups, &self.shared).await;
            {
                let mut state = lock(&self.state);
                guard.held = false;
                // This publisher goes on, so finish never asks for another.
                state.finish(&host, &outcomes[0], &self.limits);
            }
            reply(groups, outcomes);
        }
    }
}

fn reply(groups: Vec<(HostName, Vec<Pending>)>, outcomes: Vec<PublishOutcome>) {
    for ((_, pending), outcome) in groups.into_iter().zip(outcomes) {
        for p in pending {
            let _ = p.reply.send(outcome.clone());
        }
    }
}

/// Gives back a round's place and its hosts' messages if it ends without
/// doing so itself (it panicked or was cancelled): otherwise those hosts
/// would look in flight for ever and their events would only time out.
struct RoundGuard {
    lanes: Lanes,
    hosts: Vec<HostName>,
    armed: bool,
}

impl Drop for RoundGuard {
    fn drop(&mut self) {
        if self.armed {
            let lanes = &self.lanes;
            lock(&lanes.state).abandon_round(&self.hosts, &lanes.limits);
        }
    }
}

/// The same for a solo publisher: the next request for its host starts one.
struct SoloGuard {
    lanes: Lanes,
    host: HostName,
    held: bool,
    armed: bool,
}

impl Drop for SoloGuard {
    fn drop(&mut self) {
        if self.armed {
            let lanes = &self.lanes;
            lock(&lanes.state).abandon_solo(&self.host, self.held, &lanes.limits);
        }
    }
}

/// Publishes one message per group on one channel and awaits their
/// confirms. A message may wait until its latest request's deadline; the
/// round stops at the earliest such deadline of its messages, so a host
/// stalling for the first time keeps the others' answers (confirmed long
/// before) at most until then, within their requests' own deadlines.
async fn publish_groups(
    groups: &[(HostName, Vec<Pending>)],
    shared: &Shared,
) -> Vec<PublishOutcome> {
    let Some(link) = shared.state.borrow().clone() else {
        return super::account::broker_unavailable(&shared.metrics, groups.len());
    };
    let deadline = groups
        .iter()
        .filter_map(|(_, group)| group.iter().map(|p| p.deadline).max())
        .min()
        .expect("a round is never empty");
    let messages: Vec<Outgoing> = groups
        .iter()
        .map(|(host, group)| message(host, group, shared))
        .collect();
    let timeout = deadline.saturating_duration_since(Instant::now());
    let outcomes = publish::publish_batch(
        &link,
        shared.topology.exchange(),
        &messages,
        timeout,
        &shared.metrics,
    )
    .await;
    for (message, outcome) in messages.iter().zip(&outcomes) {
        super::account::record(&shared.metrics, &shared.failure_log, message, outcome);
    }
    outcomes
}

/// One host's group as a version 2 message.
fn message(host: &HostName, group: &[Pending], shared: &Shared) -> Outgoing {
    let events: Vec<wire::WireEventV2> = group.iter().flat_map(|p| p.events.clone()).collect();
    let correlation_id =
        wire::shared_request_id(events.iter().map(|e| e.request_id.as_str())).map(str::to_owned);
    shared
        .metrics
        .events_per_message
        .observe(events.len() as f64);
    let message_id = uuid::Uuid::new_v4().to_string();
    let body = wire::MessageV2 {
        version: wire::BODY_V2,
        message_id: message_id.clone(),
        host: host.clone(),
        sent_at: crate::support::timestamp::now_rfc3339(),
        events,
    };
    Outgoing {
        wire: crate::broker::Wire::Herald,
        routing_key: shared.topology.routing_key(host),
        message_id,
        correlation_id,
        body: body.encode(),
    }
}
