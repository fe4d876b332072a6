//! Per-host coalescing lanes: events bound for one host from concurrent
//! requests travel together in one version 2 message.
//!
//! A request's events for a host join that host's lane. If fewer than
//! `coalesce_in_flight` messages for the host await their confirms, a
//! publisher starts at once, so an idle system adds no wait. Otherwise the
//! events queue, and the next free publisher takes every queued request it
//! can fit (`coalesce_max_events`) into one message. Each request gets the
//! outcome of the message its events went in: a confirm covers all of them,
//! a nack, return or timeout fails exactly those.
//!
//! Publishers are tasks of their own, so a request that gives up (its client
//! went away, its deadline passed) never strands a channel with unresolved
//! confirms; a request that gave up before its events went out is skipped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::lane_queue::{Pending, take_group};
use super::link::Link;
use super::publish::{self, Failure, Outgoing, PublishOutcome};
use crate::broker::Topology;
use crate::metrics::Metrics;
use crate::model::HostName;
use crate::plain_lock::lock;
use crate::wire;

/// Bounds of the lanes, from `[amqp]`.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// Messages per host awaiting confirms at once.
    pub in_flight: usize,
    /// Events per message (a request with more travels alone).
    pub max_events: usize,
    /// Requests waiting per host; past it a request's events answer 503.
    pub max_queued: usize,
}

#[derive(Default)]
struct Lane {
    queue: VecDeque<Pending>,
    publishers: usize,
}

/// Everything a publisher task needs, shared by all lanes.
#[derive(Debug)]
pub struct Shared {
    pub topology: Topology,
    pub state: watch::Receiver<Option<Arc<Link>>>,
    pub metrics: Arc<Metrics>,
    pub failure_log: super::account::FailureLog,
}

/// The lanes of every host with work in progress (an idle host has none).
pub struct Lanes {
    limits: LaneLimits,
    shared: Arc<Shared>,
    lanes: Arc<Mutex<HashMap<HostName, Lane>>>,
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
            lanes: Arc::default(),
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
        let start = {
            let mut lanes = lock(&self.lanes);
            let lane = lanes.entry(host.clone()).or_default();
            if lane.queue.len() >= self.limits.max_queued {
                drop(lanes);
                let _ = reply.send(PublishOutcome::Failed(Failure::Overloaded));
                return outcome;
            }
            lane.queue.push_back(Pending {
                events,
                deadline,
                reply,
            });
            self.shared.metrics.lane_queued.inc_by(count as i64);
            let start = lane.publishers < self.limits.in_flight;
            if start {
                lane.publishers += 1;
            }
            start
        };
        if start {
            tokio::spawn(publisher(
                host.clone(),
                self.limits,
                Arc::clone(&self.shared),
                Arc::clone(&self.lanes),
            ));
        }
        outcome
    }
}

/// Publishes the lane's queued requests, a message at a time, until the
/// lane is empty.
async fn publisher(
    host: HostName,
    limits: LaneLimits,
    shared: Arc<Shared>,
    lanes: Arc<Mutex<HashMap<HostName, Lane>>>,
) {
    let mut slot = PublisherSlot {
        host: host.clone(),
        lanes: Arc::clone(&lanes),
        armed: true,
    };
    loop {
        let group = {
            let mut map = lock(&lanes);
            let Some(lane) = map.get_mut(&host) else {
                slot.armed = false;
                return;
            };
            let group = take_group(&mut lane.queue, limits.max_events, Instant::now());
            if group.is_empty() {
                count_out(&mut map, &host);
                slot.armed = false;
                return;
            }
            group
        };
        let taken: usize = group.taken_events;
        shared.metrics.lane_queued.dec_by(taken as i64);
        if group.pending.is_empty() {
            continue; // every request taken had given up
        }
        let outcome = publish_group(&host, &group.pending, &shared).await;
        for pending in group.pending {
            let _ = pending.reply.send(outcome.clone());
        }
    }
}

/// Takes a publisher off its lane, and the lane away once nothing is left.
fn count_out(map: &mut HashMap<HostName, Lane>, host: &HostName) {
    if let Some(lane) = map.get_mut(host) {
        lane.publishers -= 1;
        if lane.publishers == 0 && lane.queue.is_empty() {
            map.remove(host);
        }
    }
}

/// Counts a publisher off its lane if it ends without doing so itself (it
/// panicked or was cancelled): otherwise the lane would go on thinking a
/// publisher runs, and with `coalesce_in_flight = 1` the host's events
/// would only ever time out. The next request for the host starts a new
/// one. A publisher that ends normally counts itself out under the same
/// lock that saw its lane empty.
struct PublisherSlot {
    host: HostName,
    lanes: Arc<Mutex<HashMap<HostName, Lane>>>,
    armed: bool,
}

impl Drop for PublisherSlot {
    fn drop(&mut self) {
        if self.armed {
            count_out(&mut lock(&self.lanes), &self.host);
        }
    }
}

async fn publish_group(host: &HostName, group: &[Pending], shared: &Shared) -> PublishOutcome {
    let Some(link) = shared.state.borrow().clone() else {
        return PublishOutcome::Failed(Failure::BrokerUnavailable);
    };
    let deadline = group
        .iter()
        .map(|p| p.deadline)
        .max()
        .expect("a group is never empty");
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
        sent_at: wire::now_rfc3339(),
        events,
    };
    let message = Outgoing {
        routing_key: shared.topology.routing_key(host),
        message_id,
        correlation_id,
        body: body.encode(),
    };
    let timeout = deadline.saturating_duration_since(Instant::now());
    let outcome = publish::publish_batch(
        &link,
        shared.topology.exchange(),
        std::slice::from_ref(&message),
        timeout,
        &shared.metrics,
    )
    .await
    .pop()
    .expect("one outcome per message");
    super::account::record(&shared.metrics, &shared.failure_log, &message, &outcome);
    outcome
}
