//! The lanes' bookkeeping: every host's waiting requests and mode, the
//! order in which ready hosts join a round, and the one rule that decides
//! where a lane goes whenever nothing of it is in flight. Pure (no tasks,
//! no broker, no clock of its own): the owner task in [`super`] calls it
//! and spawns the flights it hands out.
//!
//! Invariants (checked by [`State::check`] after every step of the tests):
//! 1. A host has at most one message in flight: only an `InRound` or
//!    `Solo` lane has one, and a flight is handed out only as a lane enters
//!    one of those modes.
//! 2. The ready order holds exactly the `Ready` lanes, each once; only
//!    [`State::settle`] puts a host in it and only [`State::take_round`]
//!    takes it out, so rounds take ready hosts in arrival order and none
//!    starves.
//! 3. A `Ready` lane has waiting requests; a `Suspect` lane has none (the
//!    request that arrives publishes alone at once).
//! 4. A trusted lane with nothing waiting and nothing in flight is
//!    forgotten; a suspect one is remembered, so the next request for a
//!    host whose confirm did not come still goes alone.
//! 5. No queue holds more than `max_queued` requests, and
//!    [`State::queued_events`] is the number of events in the queues.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::queue::{Pending, take_group};
use crate::dispatch::publish::{Failure, PublishOutcome};
use crate::model::HostName;

/// Bounds of the lanes.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// Events per message (a request with more travels alone).
    pub max_events: usize,
    /// Requests waiting per host; past it a request's events answer 503.
    pub max_queued: usize,
    /// Rounds (shared channels) publishing at once.
    pub rounds: usize,
    /// Messages (hosts) per round.
    pub round_messages: usize,
}

/// Where a host's lane stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Requests wait and nothing is in flight: in the ready order.
    Ready,
    /// Its message is in a round; requests that arrive meanwhile wait.
    InRound,
    /// Suspect, and its message publishes alone; requests wait.
    Solo,
    /// Its last message timed out; nothing waits, nothing is in flight.
    Suspect,
}

struct Lane {
    queue: VecDeque<Pending>,
    mode: Mode,
}

/// Whether a flight is a round (shared by the ready hosts) or one suspect
/// host's message alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Round,
    Solo,
}

/// Messages to publish together on one channel, one per host.
pub(super) struct Flight {
    pub(super) kind: Kind,
    pub(super) groups: Vec<(HostName, Vec<Pending>)>,
}

/// Every lane with work in progress or a suspect past.
pub(super) struct State {
    limits: LaneLimits,
    lanes: HashMap<HostName, Lane>,
    ready: VecDeque<HostName>,
    queued_events: usize,
}

impl State {
    pub(super) fn new(limits: LaneLimits) -> Self {
        Self {
            limits,
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            queued_events: 0,
        }
    }

    pub(super) fn limits(&self) -> &LaneLimits {
        &self.limits
    }

    /// Events waiting in the queues (those of requests that gave up
    /// included, until a take drops them).
    pub(super) fn queued_events(&self) -> usize {
        self.queued_events
    }

    /// Queues a request for `host`; `Err` gives it back when the lane is
    /// full. A suspect host with nothing in flight hands out its solo flight.
    pub(super) fn submit(
        &mut self,
        host: HostName,
        pending: Pending,
        now: Instant,
    ) -> Result<Option<Flight>, Pending> {
        let mode = match self.lanes.get(&host) {
            Some(lane) if lane.queue.len() >= self.limits.max_queued => return Err(pending),
            Some(lane) => Some(lane.mode),
            None => None,
        };
        self.queued_events += pending.events.len();
        let lane = self.lanes.entry(host.clone()).or_insert_with(|| Lane {
            queue: VecDeque::new(),
            mode: Mode::Ready, // settled below
        });
        lane.queue.push_back(pending);
        Ok(match mode {
            // New: trusted, and nothing of it is in flight.
            None => self.settle(host, false, now),
            Some(Mode::Suspect) => self.settle(host, true, now),
            // It waits for the next round, or for its message in flight.
            Some(Mode::Ready | Mode::InRound | Mode::Solo) => None,
        })
    }

    /// The next round: one message from each of the first
    /// `round_messages` ready lanes. `None` when no lane is ready, or every
    /// request the ready lanes held had given up.
    pub(super) fn take_round(&mut self, now: Instant) -> Option<Flight> {
        let mut groups = Vec::new();
        while groups.len() < self.limits.round_messages {
            let Some(host) = self.ready.pop_front() else {
                break;
            };
            match self.take(&host, now) {
                Some(group) => {
                    self.set_mode(&host, Mode::InRound);
                    groups.push((host, group));
                }
                // Every request had given up: the queue is empty.
                None => {
                    self.settle(host, false, now);
                }
            }
        }
        (!groups.is_empty()).then_some(Flight {
            kind: Kind::Round,
            groups,
        })
    }

    /// `host`'s message in flight ended with `outcome` (`NoChannel` when
    /// its publisher died without one). A timeout makes the host suspect, a
    /// confirm trusted again; any other failure leaves it as it was.
    pub(super) fn land(
        &mut self,
        host: HostName,
        outcome: &PublishOutcome,
        now: Instant,
    ) -> Option<Flight> {
        let was = self.lanes.get(&host).map(|lane| lane.mode);
        let was_suspect = match was {
            Some(Mode::InRound) => false,
            Some(Mode::Solo) => true,
            // Not in flight: nothing to land (never happens).
            _ => return None,
        };
        let suspect = match outcome {
            PublishOutcome::Failed(Failure::Timeout) => true,
            PublishOutcome::Confirmed => false,
            PublishOutcome::Failed(_) => was_suspect,
        };
        self.settle(host, suspect, now)
    }

    /// The round rule, the one place a lane with nothing in flight goes
    /// next: forgotten (trusted, nothing waits), `Suspect` (nothing
    /// waits), `Ready` (trusted: into the ready order for the next round),
    /// or `Solo` (suspect: its next message at once, alone).
    fn settle(&mut self, host: HostName, suspect: bool, now: Instant) -> Option<Flight> {
        let waiting = self.lanes.get(&host).is_some_and(|l| !l.queue.is_empty());
        match (suspect, waiting) {
            (false, false) => {
                self.lanes.remove(&host);
                None
            }
            (true, false) => {
                self.set_mode(&host, Mode::Suspect);
                None
            }
            (false, true) => {
                self.set_mode(&host, Mode::Ready);
                self.ready.push_back(host);
                None
            }
            (true, true) => match self.take(&host, now) {
                Some(group) => {
                    self.set_mode(&host, Mode::Solo);
                    Some(Flight {
                        kind: Kind::Solo,
                        groups: vec![(host, group)],
                    })
                }
                None => {
                    self.set_mode(&host, Mode::Suspect);
                    None
                }
            },
        }
    }

    /// The next message's group of `host`'s queue; `None` (and an empty
    /// queue) when every waiting request had given up.
    fn take(&mut self, host: &HostName, now: Instant) -> Option<Vec<Pending>> {
        let lane = self.lanes.get_mut(host)?;
        let group = take_group(&mut lane.queue, self.limits.max_events, now);
        self.queued_events -= group.taken_events;
        (!group.pending.is_empty()).then_some(group.pending)
    }

    fn set_mode(&mut self, host: &HostName, mode: Mode) {
        if let Some(lane) = self.lanes.get_mut(host) {
            lane.mode = mode;
        }
    }

    /// A host's mode, for the tests.
    #[cfg(test)]
    pub(super) fn mode(&self, host: &HostName) -> Option<Mode> {
        self.lanes.get(host).map(|lane| lane.mode)
    }

    /// Panics unless the invariants of the module doc hold.
    #[cfg(test)]
    pub(super) fn check(&self) {
        let ready: Vec<&HostName> = self
            .lanes
            .iter()
            .filter(|(_, l)| l.mode == Mode::Ready)
            .map(|(h, _)| h)
            .collect();
        assert_eq!(
            ready.len(),
            self.ready.len(),
            "the ready order holds the ready lanes"
        );
        for host in &self.ready {
            assert_eq!(
                self.mode(host),
                Some(Mode::Ready),
                "{host} in the ready order"
            );
        }
        let mut events = 0;
        for (host, lane) in &self.lanes {
            assert!(
                lane.queue.len() <= self.limits.max_queued,
                "{host} over its bound"
            );
            events += lane.queue.iter().map(|p| p.events.len()).sum::<usize>();
            match lane.mode {
                Mode::Ready => assert!(!lane.queue.is_empty(), "{host} ready with nothing"),
                Mode::Suspect => assert!(lane.queue.is_empty(), "{host} suspect with work left"),
                Mode::InRound | Mode::Solo => {}
            }
        }
        assert_eq!(events, self.queued_events, "queued events counted");
    }
}
