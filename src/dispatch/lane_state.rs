//! The lanes' shared state and every choice made under its lock: which
//! lanes the next round carries, when a lane publishes alone, and what a
//! message's outcome changes. Pure (no tasks, no broker), so it is tested
//! on its own; `lane` runs the tasks these choices start.
//!
//! A lane is *ready* when it has queued requests and fewer than
//! `in_flight` messages awaiting confirms; ready lanes wait in arrival
//! order, so with more ready lanes than a round carries none is starved.
//! A lane whose last message timed out is *suspect*: its confirms may not
//! come, so it publishes alone (one message per round of its own) until a
//! message of its is confirmed, and the other hosts' events never wait on it.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::lane_queue::{Pending, take_group};
use super::publish::{Failure, PublishOutcome};
use crate::model::HostName;

/// Bounds of the lanes, from `[amqp]`.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// Messages per host awaiting confirms at once.
    pub in_flight: usize,
    /// Events per message (a request with more travels alone).
    pub max_events: usize,
    /// Requests waiting per host; past it a request's events answer 503.
    pub max_queued: usize,
    /// Rounds (shared channels) publishing at once.
    pub rounds: usize,
    /// Messages (hosts) per round.
    pub round_messages: usize,
}

#[derive(Default)]
struct Lane {
    queue: VecDeque<Pending>,
    in_flight: usize,
    /// In the ready queue.
    ready: bool,
    /// Its last message timed out: it publishes alone.
    suspect: bool,
    /// A solo publisher runs for it.
    solo: bool,
}

/// Every lane with work in progress (or a suspect past), and the rounds.
#[derive(Default)]
pub(super) struct State {
    lanes: HashMap<HostName, Lane>,
    ready: VecDeque<HostName>,
    rounds: usize,
}

/// What [`State::submit`] asks the caller to start.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Start {
    Nothing,
    Round,
    Solo,
}

/// What a solo publisher takes: its next group, or `None` when it ends
/// (and then whether a round must start for the work it hands back).
pub(super) struct SoloTake {
    pub(super) group: Option<Vec<Pending>>,
    pub(super) events: usize,
    pub(super) start_round: bool,
}

/// What a round takes: one group per host, and how many events left the
/// queues (those of requests that gave up included).
pub(super) struct Taken {
    pub(super) groups: Vec<(HostName, Vec<Pending>)>,
    pub(super) events: usize,
}

impl State {
    /// Queues a request for `host`; `Err` gives it back when the lane is full.
    pub(super) fn submit(
        &mut self,
        host: &HostName,
        pending: Pending,
        limits: &LaneLimits,
    ) -> Result<Start, Pending> {
        let lane = self.lanes.entry(host.clone()).or_default();
        if lane.queue.len() >= limits.max_queued {
            return Err(pending);
        }
        lane.queue.push_back(pending);
        if lane.suspect {
            if lane.solo || lane.in_flight >= limits.in_flight {
                return Ok(Start::Nothing); // it, or the holder's finish, goes on
            }
            lane.solo = true;
            return Ok(Start::Solo);
        }
        if lane.in_flight < limits.in_flight && !lane.ready {
            lane.ready = true;
            self.ready.push_back(host.clone());
        }
        Ok(self.want_round(limits))
    }

    fn want_round(&mut self, limits: &LaneLimits) -> Start {
        if self.rounds < limits.rounds && !self.ready.is_empty() {
            self.rounds += 1;
            Start::Round
        } else {
            Start::Nothing
        }
    }

    /// The next round's groups, up to `round_messages` ready lanes in
    /// order. Empty (with no events taken) means the round ends: it has
    /// been counted out.
    pub(super) fn take_round(&mut self, limits: &LaneLimits, now: Instant) -> Taken {
        let mut taken = Taken {
            groups: Vec::new(),
            events: 0,
        };
        while taken.groups.len() < limits.round_messages {
            let Some(host) = self.ready.pop_front() else {
                break;
            };
            let Some(lane) = self.lanes.get_mut(&host) else {
                continue;
            };
            lane.ready = false;
            if lane.suspect || lane.in_flight >= limits.in_flight {
                continue; // it became suspect while it waited
            }
            let group = take_group(&mut lane.queue, limits.max_events, now);
            taken.events += group.taken_events;
            if group.pending.is_empty() {
                self.forget_if_idle(&host);
                continue;
            }
            lane.in_flight += 1;
            if lane.in_flight < limits.in_flight && !lane.queue.is_empty() {
                lane.ready = true;
                self.ready.push_back(host.clone());
            }
            taken.groups.push((host, group.pending));
        }
        if taken.groups.is_empty() && taken.events == 0 {
            self.rounds -= 1;
        }
        taken
    }

    /// One message of `host` ended with `outcome`. Returns whether a solo
    /// publisher must start for it (it is marked as running).
    pub(super) fn finish(
        &mut self,
        host: &HostName,
        outcome: &PublishOutcome,
        limits: &LaneLimits,
    ) -> bool {
        let Some(lane) = self.lanes.get_mut(host) else {
            return false;
        };
        lane.in_flight = lane.in_flight.saturating_sub(1);
        match outcome {
            PublishOutcome::Failed(Failure::Timeout) => lane.suspect = true,
            PublishOutcome::Confirmed => lane.suspect = false,
            PublishOutcome::Failed(_) => {}
        }
        if lane.queue.is_empty() {
            self.forget_if_idle(host);
            return false;
        }
        if lane.suspect {
            if lane.solo {
                return false;
            }
            lane.solo = true;
            return true;
        }
        if !lane.ready && lane.in_flight < limits.in_flight {
            lane.ready = true;
            self.ready.push_back(host.clone());
        }
        false
    }

    /// A solo publisher's next group for `host`. It ends (`group: None`)
    /// when the lane is no longer suspect (its work goes back to the
    /// rounds), its queue is empty, or its message limit is reached (then
    /// the holder's finish starts a new one).
    pub(super) fn take_solo(
        &mut self,
        host: &HostName,
        limits: &LaneLimits,
        now: Instant,
    ) -> SoloTake {
        let mut take = SoloTake {
            group: None,
            events: 0,
            start_round: false,
        };
        let Some(lane) = self.lanes.get_mut(host) else {
            return take;
        };
        if lane.suspect && lane.in_flight < limits.in_flight {
            let group = take_group(&mut lane.queue, limits.max_events, now);
            take.events = group.taken_events;
            if !group.pending.is_empty() {
                lane.in_flight += 1;
                take.group = Some(group.pending);
                return take;
            }
        }
        lane.solo = false;
        let back_to_rounds = !lane.suspect && !lane.queue.is_empty();
        if back_to_rounds && !lane.ready && lane.in_flight < limits.in_flight {
            lane.ready = true;
            self.ready.push_back(host.clone());
        }
        self.forget_if_idle(host);
        take.start_round = back_to_rounds && self.want_round(limits) == Start::Round;
        take
    }

    /// A round ended without counting itself out (it panicked or was
    /// cancelled): gives back its place and its hosts' messages.
    pub(super) fn abandon_round(&mut self, hosts: &[HostName], limits: &LaneLimits) {
        self.rounds = self.rounds.saturating_sub(1);
        for host in hosts {
            let lost = PublishOutcome::Failed(Failure::NoChannel);
            if self.finish(host, &lost, limits)
                && let Some(lane) = self.lanes.get_mut(host)
            {
                // No publisher will start from here: the next request does.
                lane.solo = false;
            }
        }
    }

    /// A solo publisher ended without saying so (it panicked or was
    /// cancelled): the next request for the host starts a new one.
    pub(super) fn abandon_solo(&mut self, host: &HostName, held: bool, limits: &LaneLimits) {
        if held {
            self.finish(host, &PublishOutcome::Failed(Failure::NoChannel), limits);
        }
        if let Some(lane) = self.lanes.get_mut(host) {
            lane.solo = false;
        }
        self.forget_if_idle(host);
    }

    /// Drops a lane that holds nothing. A suspect lane is kept, so the
    /// next request for a host whose confirms did not come still goes alone.
    fn forget_if_idle(&mut self, host: &HostName) {
        let idle = self.lanes.get(host).is_some_and(|l| {
            l.queue.is_empty() && l.in_flight == 0 && !l.solo && !l.ready && !l.suspect
        });
        if idle {
            self.lanes.remove(host);
        }
    }

    #[cfg(test)]
    fn lanes(&self) -> usize {
        self.lanes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::lane_queue::test_pending;
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;

    const LIMITS: LaneLimits = LaneLimits {
        in_flight: 1,
        max_events: 8,
        max_queued: 4,
        rounds: 2,
        round_messages: 3,
    };

    fn host(n: usize) -> HostName {
        HostName::parse(&format!("node-{n}")).unwrap()
    }

    fn pending(n: usize) -> (Pending, oneshot::Receiver<PublishOutcome>) {
        test_pending(n, Instant::now() + Duration::from_secs(5))
    }

    fn submit(
        state: &mut State,
        h: &HostName,
        keep: &mut Vec<oneshot::Receiver<PublishOutcome>>,
    ) -> Start {
        let (p, rx) = pending(1);
        keep.push(rx);
        state.submit(h, p, &LIMITS).ok().unwrap()
    }

    fn hosts_of(taken: &Taken) -> Vec<HostName> {
        taken.groups.iter().map(|(h, _)| h.clone()).collect()
    }

    #[test]
    fn a_round_starts_at_once_and_at_most_the_limit_run() {
        let mut s = State::default();
        let mut rx = Vec::new();
        assert_eq!(submit(&mut s, &host(1), &mut rx), Start::Round);
        assert_eq!(submit(&mut s, &host(2), &mut rx), Start::Round);
        assert_eq!(
            submit(&mut s, &host(3), &mut rx),
            Start::Nothing,
            "two rounds run"
        );
    }

    #[test]
    fn a_round_carries_one_message_per_host_and_queued_requests_coalesce() {
        let mut s = State::default();
        let mut rx = Vec::new();
        submit(&mut s, &host(1), &mut rx);
        let now = Instant::now();
        let first = s.take_round(&LIMITS, now);
        assert_eq!(hosts_of(&first), vec![host(1)]);
        // While host 1's message awaits its confirm, two more queue for it.
        submit(&mut s, &host(1), &mut rx);
        submit(&mut s, &host(1), &mut rx);
        assert!(
            s.take_round(&LIMITS, now).groups.is_empty(),
            "host 1 is in flight"
        );
        assert!(!s.finish(&host(1), &PublishOutcome::Confirmed, &LIMITS));
        let next = s.take_round(&LIMITS, now);
        assert_eq!(next.groups.len(), 1);
        assert_eq!(
            next.groups[0].1.len(),
            2,
            "the two queued requests share a message"
        );
    }

    #[test]
    fn ready_lanes_past_a_round_go_in_order_so_none_starves() {
        let mut s = State::default();
        let mut rx = Vec::new();
        for n in 0..5 {
            submit(&mut s, &host(n), &mut rx);
        }
        let now = Instant::now();
        let a = s.take_round(&LIMITS, now);
        assert_eq!(hosts_of(&a), vec![host(0), host(1), host(2)]);
        for h in hosts_of(&a) {
            submit(&mut s, &h, &mut rx);
            s.finish(&h, &PublishOutcome::Confirmed, &LIMITS);
        }
        let b = s.take_round(&LIMITS, now);
        assert_eq!(
            hosts_of(&b),
            vec![host(3), host(4), host(0)],
            "3 and 4 before 0 again"
        );
    }

    #[test]
    fn a_host_whose_confirm_timed_out_publishes_alone_until_confirmed() {
        let mut s = State::default();
        let mut rx = Vec::new();
        let now = Instant::now();
        submit(&mut s, &host(1), &mut rx);
        submit(&mut s, &host(2), &mut rx);
        let round = s.take_round(&LIMITS, now);
        assert_eq!(round.groups.len(), 2);
        submit(&mut s, &host(1), &mut rx);
        let timeout = PublishOutcome::Failed(Failure::Timeout);
        assert!(
            s.finish(&host(1), &timeout, &LIMITS),
            "queued work of a suspect goes solo"
        );
        assert!(!s.finish(&host(2), &PublishOutcome::Confirmed, &LIMITS));
        // Rounds never carry the suspect lane.
        assert!(s.take_round(&LIMITS, now).groups.is_empty());
        assert_eq!(
            submit(&mut s, &host(1), &mut rx),
            Start::Nothing,
            "its solo runs"
        );
        let solo = s.take_solo(&host(1), &LIMITS, now);
        assert_eq!(solo.group.map(|g| g.len()), Some(2));
        // Its message is confirmed: it goes back to the rounds.
        submit(&mut s, &host(1), &mut rx);
        assert!(!s.finish(&host(1), &PublishOutcome::Confirmed, &LIMITS));
        let solo = s.take_solo(&host(1), &LIMITS, now);
        assert!(
            solo.group.is_none() && solo.start_round,
            "back to the rounds"
        );
        let round = s.take_round(&LIMITS, now);
        assert_eq!(hosts_of(&round), vec![host(1)]);
    }

    #[test]
    fn a_suspect_host_submitting_later_starts_its_own_publisher() {
        let mut s = State::default();
        let mut rx = Vec::new();
        let now = Instant::now();
        submit(&mut s, &host(1), &mut rx);
        s.take_round(&LIMITS, now);
        assert!(!s.finish(&host(1), &PublishOutcome::Failed(Failure::Timeout), &LIMITS));
        assert_eq!(s.lanes(), 1, "a suspect lane is remembered while idle");
        assert_eq!(submit(&mut s, &host(1), &mut rx), Start::Solo);
    }

    #[test]
    fn idle_lanes_are_dropped_and_an_ended_round_counts_itself_out() {
        let mut s = State::default();
        let mut rx = Vec::new();
        let now = Instant::now();
        submit(&mut s, &host(1), &mut rx);
        s.take_round(&LIMITS, now);
        s.finish(&host(1), &PublishOutcome::Confirmed, &LIMITS);
        assert_eq!(s.lanes(), 0);
        assert!(s.take_round(&LIMITS, now).groups.is_empty());
        assert_eq!(s.rounds, 0);
        assert_eq!(submit(&mut s, &host(1), &mut rx), Start::Round);
    }

    #[test]
    fn an_abandoned_round_gives_back_its_place_and_hosts() {
        let mut s = State::default();
        let mut rx = Vec::new();
        let now = Instant::now();
        submit(&mut s, &host(1), &mut rx);
        let round = s.take_round(&LIMITS, now);
        submit(&mut s, &host(1), &mut rx);
        s.abandon_round(&hosts_of(&round), &LIMITS);
        assert_eq!(s.rounds, 0);
        assert_eq!(submit(&mut s, &host(2), &mut rx), Start::Round);
        let next = s.take_round(&LIMITS, now);
        assert_eq!(
            hosts_of(&next),
            vec![host(1), host(2)],
            "host 1 is free again"
        );
    }

    #[test]
    fn an_abandoned_round_leaves_a_suspect_lane_to_start_its_own_publisher() {
        let limits = LaneLimits {
            in_flight: 2,
            ..LIMITS
        };
        let mut s = State::default();
        let mut rx = Vec::new();
        let now = Instant::now();
        let mut submit = |s: &mut State| {
            let (p, r) = pending(1);
            rx.push(r);
            s.submit(&host(1), p, &limits).ok().unwrap()
        };
        submit(&mut s);
        let _a = s.take_round(&limits, now);
        submit(&mut s);
        let b = s.take_round(&limits, now);
        submit(&mut s); // both places taken: it waits
        let timeout = PublishOutcome::Failed(Failure::Timeout);
        assert!(s.finish(&host(1), &timeout, &limits), "a solo is due");
        s.abandon_solo(&host(1), false, &limits); // ...and dies at once
        // The round holding the other message dies too.
        s.abandon_round(&hosts_of(&b), &limits);
        assert_eq!(submit(&mut s), Start::Solo, "not left marked as running");
    }

    #[test]
    fn a_full_lane_gives_the_request_back() {
        let mut s = State::default();
        let mut rx = Vec::new();
        for _ in 0..LIMITS.max_queued {
            submit(&mut s, &host(1), &mut rx);
        }
        let (p, _rx) = pending(1);
        assert!(s.submit(&host(1), p, &LIMITS).is_err());
    }
}
