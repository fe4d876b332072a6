//! Per-host coalescing lanes, published in rounds: events bound for one
//! host from concurrent requests travel together in one version 2
//! message, and the messages of every host with work go out together on
//! one channel.
//!
//! One task, the owner, holds every lane's state ([`state`]); requests
//! hand it their events over a bounded channel and await a oneshot reply.
//! A host has at most one message awaiting its confirm; the requests that
//! arrive meanwhile wait in its lane and go together in its next message.
//! A round takes one message from each ready lane (up to
//! [`LaneLimits::round_messages`], in the order they became ready) and is
//! published by a task of its own, which hands the round's requests and
//! outcomes back to the owner; the owner starts the next round, then
//! answers them (so the next round's task is queued before the request
//! tasks the answers wake). While fewer than
//! [`LaneLimits::rounds`] rounds fly, the owner starts one at once, so an
//! idle system adds no wait. Sharing a channel is what the broker pays
//! least for: its cost per message falls with the messages in flight on a
//! channel. Each request gets the outcome of its own message: a confirm
//! covers all of its events; a nack, return or timeout fails exactly those.
//!
//! A host whose message timed out is suspect: its messages publish alone,
//! one at a time (a solo flight, beside the rounds), until one is
//! confirmed, so a host whose confirms do not come holds up no other
//! host's events. Flights are tasks of their own, so a request that gives
//! up (its client went away, its deadline passed) never strands a channel
//! with unresolved confirms; a request that gave up before its events went
//! out is skipped. The owner learns how every flight ended from its
//! `JoinSet`, a flight that panicked included (its hosts' messages count as
//! lost), so no lane is left marked as in flight.
//!
//! Invariants, besides those of [`state`]: at most
//! [`LaneLimits::rounds`] rounds fly, each with at most
//! [`LaneLimits::round_messages`] messages; every lane in a round or solo
//! is in exactly one flight in the air, and a flight's hosts are handed
//! back to the state exactly once, however it ended.

mod publisher;
mod queue;
mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;

use self::queue::Pending;
use self::state::{Flight, Kind, State};
use super::publish::{Failure, PublishOutcome};
use crate::metrics::Metrics;
use crate::model::HostName;
use crate::wire;
use publisher::Publish;
pub use publisher::Shared;
pub use state::LaneLimits;

/// Requests (each with its events for one or more hosts) waiting for the
/// owner to take them; past it a request waits to hand its events over.
const SUBMISSIONS: usize = 1024;

/// One request's events for each of its hosts.
type Submission = Vec<(HostName, Pending)>;

/// The handle requests use; the owner task ends when it is dropped.
#[derive(Debug)]
pub struct Lanes {
    submissions: mpsc::Sender<Submission>,
}

impl Lanes {
    /// Starts the owner task, publishing to the broker through `shared`.
    pub fn start(limits: LaneLimits, shared: Arc<Shared>) -> Self {
        let metrics = Arc::clone(&shared.metrics);
        Self::with_publisher(limits, shared, metrics)
    }

    /// Starts the owner task; `publisher` sends its flights.
    fn with_publisher<P: Publish>(
        limits: LaneLimits,
        publisher: Arc<P>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (submissions, inbox) = mpsc::channel(SUBMISSIONS);
        tokio::spawn(Owner::new(limits, publisher, metrics).run(inbox));
        Self { submissions }
    }

    /// Queues each host's events; each receiver gets the outcome of the
    /// message its host's events went in (a closed one: they were skipped,
    /// or their flight was lost). Waits while the owner's inbox is full.
    pub async fn submit(
        &self,
        work: Vec<(HostName, Vec<wire::WireEventV2>)>,
        deadline: Instant,
    ) -> Vec<oneshot::Receiver<PublishOutcome>> {
        let (submission, receivers) = work
            .into_iter()
            .map(|(host, events)| {
                let (reply, outcome) = oneshot::channel();
                let pending = Pending {
                    events,
                    deadline,
                    reply,
                };
                ((host, pending), outcome)
            })
            .unzip();
        // Fails only if the owner is gone: the replies close with it.
        let _ = self.submissions.send(submission).await;
        receivers
    }
}

/// The task that owns the lanes and the flights in the air.
struct Owner<P> {
    state: State,
    publisher: Arc<P>,
    metrics: Arc<Metrics>,
    rounds: JoinSet<Landing>,
    solos: JoinSet<Landing>,
    /// The hosts of each flight in the air, by its task.
    aloft: HashMap<Id, Vec<HostName>>,
    /// Landed requests and their outcomes, answered once the next round
    /// is on its way.
    answers: Vec<(Vec<Pending>, PublishOutcome)>,
}

/// What a flight's task hands back: each message's requests and outcome,
/// in its hosts' order.
type Landing = Vec<(Vec<Pending>, PublishOutcome)>;

impl<P: Publish> Owner<P> {
    fn new(limits: LaneLimits, publisher: Arc<P>, metrics: Arc<Metrics>) -> Self {
        Self {
            state: State::new(limits),
            publisher,
            metrics,
            rounds: JoinSet::new(),
            solos: JoinSet::new(),
            aloft: HashMap::new(),
            answers: Vec::new(),
        }
    }

    /// Takes requests and landings until every handle is gone; then the
    /// flights still in the air are dropped (no one waits for them).
    async fn run(mut self, mut inbox: mpsc::Receiver<Submission>) {
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                biased;
                Some(landed) = self.rounds.join_next_with_id() => self.landed(landed),
                Some(landed) = self.solos.join_next_with_id() => self.landed(landed),
                received = inbox.recv_many(&mut batch, SUBMISSIONS) => {
                    if received == 0 {
                        return;
                    }
                    batch.drain(..).for_each(|s| self.queue(s));
                }
            }
            // Everything else that is ready, so the next round carries it.
            while let Some(landed) = self.rounds.try_join_next_with_id() {
                self.landed(landed);
            }
            while let Some(landed) = self.solos.try_join_next_with_id() {
                self.landed(landed);
            }
            while let Ok(submission) = inbox.try_recv() {
                self.queue(submission);
            }
            while self.rounds.len() < self.state.limits().rounds {
                let Some(round) = self.state.take_round(Instant::now()) else {
                    break;
                };
                self.launch(round);
            }
            // Answered after the launch, so the next round's task is queued
            // before the tasks these replies wake.
            for (group, outcome) in self.answers.drain(..) {
                for pending in group {
                    let _ = pending.reply.send(outcome.clone());
                }
            }
            self.metrics
                .lane_queued
                .set(i64::try_from(self.state.queued_events()).unwrap_or(i64::MAX));
        }
    }

    fn queue(&mut self, submission: Submission) {
        let now = Instant::now();
        for (host, pending) in submission {
            match self.state.submit(host, pending, now) {
                Ok(solo) => self.launch_some(solo),
                Err(pending) => {
                    let _ = pending
                        .reply
                        .send(PublishOutcome::Failed(Failure::Overloaded));
                }
            }
        }
    }

    /// A flight ended: its hosts' outcomes go back to the state, and its
    /// requests wait to be answered. A flight whose task failed lost every
    /// message it held, and its requests' replies with it (they see a
    /// closed reply).
    fn landed(&mut self, landed: Result<(Id, Landing), JoinError>) {
        let (id, landing) = match landed {
            Ok((id, landing)) => (id, landing),
            Err(error) => {
                tracing::error!(%error, "a lane publisher failed; its messages count as lost");
                (error.id(), Vec::new())
            }
        };
        let hosts = self.aloft.remove(&id).unwrap_or_default();
        let mut landing = landing.into_iter();
        let now = Instant::now();
        for host in hosts {
            let outcome = match landing.next() {
                Some((group, outcome)) => {
                    self.answers.push((group, outcome.clone()));
                    outcome
                }
                None => PublishOutcome::Failed(Failure::NoChannel),
            };
            let solo = self.state.land(host, &outcome, now);
            self.launch_some(solo);
        }
    }

    fn launch_some(&mut self, flight: Option<Flight>) {
        if let Some(flight) = flight {
            self.launch(flight);
        }
    }

    /// Spawns a flight's task: it publishes and hands the requests and
    /// their outcomes back through its `JoinSet`.
    fn launch(&mut self, flight: Flight) {
        let Flight { kind, groups } = flight;
        let hosts = groups.iter().map(|(h, _)| h.clone()).collect();
        let publisher = Arc::clone(&self.publisher);
        let task = async move {
            let outcomes = publisher.publish(&groups).await;
            let requests = groups.into_iter().map(|(_, group)| group);
            requests.zip(outcomes).collect::<Landing>()
        };
        let handle = match kind {
            Kind::Round => self.rounds.spawn(task),
            Kind::Solo => self.solos.spawn(task),
        };
        self.aloft.insert(handle.id(), hosts);
    }
}
