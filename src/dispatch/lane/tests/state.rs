//! The state machine on its own: every step is followed by
//! [`State::check`], the invariants of its module doc.

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::super::queue::test_pending;
use super::super::state::{Flight, Kind, LaneLimits, Mode, State};
use super::{WAIT, host, timeout};
use crate::dispatch::publish::{Failure, PublishOutcome};
use crate::model::HostName;

const LIMITS: LaneLimits = LaneLimits {
    max_events: 8,
    max_queued: 4,
    rounds: 2,
    round_messages: 3,
};

/// The state and the replies its requests wait on.
struct Book {
    state: State,
    replies: Vec<oneshot::Receiver<PublishOutcome>>,
    now: Instant,
}

impl Book {
    fn new() -> Self {
        Self {
            state: State::new(LIMITS),
            replies: Vec::new(),
            now: Instant::now(),
        }
    }

    /// Queues a request of `events` events for `h`.
    fn submit_n(&mut self, h: &HostName, events: usize) -> Option<Flight> {
        let (pending, reply) = test_pending(events, self.now + WAIT);
        self.replies.push(reply);
        let flight = self.state.submit(h.clone(), pending, self.now);
        self.state.check();
        flight.ok().expect("room in the lane")
    }

    fn submit(&mut self, h: &HostName) -> Option<Flight> {
        self.submit_n(h, 1)
    }

    fn round(&mut self) -> Option<Flight> {
        let round = self.state.take_round(self.now);
        self.state.check();
        round
    }

    fn land(&mut self, h: &HostName, outcome: &PublishOutcome) -> Option<Flight> {
        let flight = self.state.land(h.clone(), outcome, self.now);
        self.state.check();
        flight
    }

    fn mode(&self, h: &HostName) -> Option<Mode> {
        self.state.mode(h)
    }
}

fn hosts(flight: &Flight) -> Vec<HostName> {
    flight.groups.iter().map(|(h, _)| h.clone()).collect()
}

/// Requests in each message of `flight`.
fn requests(flight: &Flight) -> Vec<usize> {
    flight.groups.iter().map(|(_, g)| g.len()).collect()
}

#[test]
fn a_new_host_is_ready_and_the_next_round_takes_it() {
    let mut b = Book::new();
    assert!(
        b.submit(&host(1)).is_none(),
        "rounds are the owner's to start"
    );
    assert_eq!(b.mode(&host(1)), Some(Mode::Ready));
    let round = b.round().expect("a round");
    assert_eq!(round.kind, Kind::Round);
    assert_eq!(hosts(&round), vec![host(1)]);
    assert_eq!(b.mode(&host(1)), Some(Mode::InRound));
    assert!(b.round().is_none(), "nothing else is ready");
}

#[test]
fn rounds_take_ready_hosts_in_arrival_order_so_none_starves() {
    let mut b = Book::new();
    for n in 0..5 {
        b.submit(&host(n));
    }
    let first = b.round().expect("a round");
    assert_eq!(hosts(&first), vec![host(0), host(1), host(2)]);
    for h in hosts(&first) {
        b.submit(&h);
        b.land(&h, &PublishOutcome::Confirmed);
    }
    let second = b.round().expect("a round");
    assert_eq!(
        hosts(&second),
        vec![host(3), host(4), host(0)],
        "3 and 4 first"
    );
}

#[test]
fn requests_waiting_behind_a_message_share_the_next_up_to_the_bound() {
    let mut b = Book::new();
    b.submit(&host(1));
    b.round();
    for events in [3, 4, 10] {
        assert!(b.submit_n(&host(1), events).is_none(), "it waits");
    }
    assert_eq!(b.state.queued_events(), 17);
    assert!(b.round().is_none(), "one message in flight per host");
    assert!(b.land(&host(1), &PublishOutcome::Confirmed).is_none());
    assert_eq!(b.mode(&host(1)), Some(Mode::Ready));
    assert_eq!(
        requests(&b.round().expect("a round")),
        vec![2],
        "3 + 4 fit in 8"
    );
    b.land(&host(1), &PublishOutcome::Failed(Failure::Nacked));
    let alone = b.round().expect("a round");
    assert_eq!(requests(&alone), vec![1], "10 events travel alone, whole");
    assert_eq!(b.state.queued_events(), 0);
    b.land(&host(1), &PublishOutcome::Confirmed);
    assert_eq!(b.mode(&host(1)), None, "idle and trusted: forgotten");
}

#[test]
fn a_timeout_makes_a_host_publish_alone_until_a_confirm() {
    let mut b = Book::new();
    b.submit(&host(1));
    b.submit(&host(2));
    b.round();
    b.submit(&host(1));
    let solo = b
        .land(&host(1), &timeout())
        .expect("its waiting request goes alone");
    assert_eq!((solo.kind, hosts(&solo)), (Kind::Solo, vec![host(1)]));
    assert_eq!(b.mode(&host(1)), Some(Mode::Solo));
    assert!(b.submit(&host(1)).is_none(), "one message at a time");
    b.submit(&host(2));
    b.land(&host(2), &PublishOutcome::Confirmed);
    let round = b.round().expect("a round");
    assert_eq!(hosts(&round), vec![host(2)], "rounds never carry it");
    // A nack is no confirm: still suspect.
    let again = b.land(&host(1), &PublishOutcome::Failed(Failure::Nacked));
    assert_eq!(again.map(|f| f.kind), Some(Kind::Solo));
    b.submit(&host(1));
    assert!(b.land(&host(1), &PublishOutcome::Confirmed).is_none());
    assert_eq!(b.mode(&host(1)), Some(Mode::Ready), "back to the rounds");
}

#[test]
fn a_suspect_host_is_remembered_and_its_next_request_goes_alone_at_once() {
    let mut b = Book::new();
    b.submit(&host(1));
    b.round();
    assert!(b.land(&host(1), &timeout()).is_none());
    assert_eq!(b.mode(&host(1)), Some(Mode::Suspect), "kept while idle");
    let solo = b.submit(&host(1)).expect("a solo at once");
    assert_eq!(solo.kind, Kind::Solo);
    assert!(b.round().is_none());
}

#[test]
fn a_lost_message_leaves_the_host_as_trusted_or_suspect_as_it_was() {
    let lost = PublishOutcome::Failed(Failure::NoChannel);
    let mut b = Book::new();
    b.submit(&host(1));
    b.round();
    b.submit(&host(1));
    assert!(b.land(&host(1), &lost).is_none());
    assert_eq!(b.mode(&host(1)), Some(Mode::Ready), "not busy, not suspect");
    b.round();
    b.submit(&host(1));
    let solo = b.land(&host(1), &timeout()).expect("a solo");
    drop(solo);
    assert!(b.land(&host(1), &lost).is_none());
    assert_eq!(
        b.mode(&host(1)),
        Some(Mode::Suspect),
        "not busy, still suspect"
    );
}

#[test]
fn requests_that_gave_up_are_dropped_and_an_emptied_lane_forgotten() {
    let mut b = Book::new();
    b.submit(&host(1));
    b.round();
    b.submit_n(&host(1), 2);
    b.submit_n(&host(1), 3);
    b.replies.truncate(1); // both clients went away
    b.land(&host(1), &PublishOutcome::Confirmed);
    assert_eq!(b.state.queued_events(), 5);
    assert!(b.round().is_none(), "nothing left to send");
    assert_eq!(b.state.queued_events(), 0);
    assert_eq!(b.mode(&host(1)), None);
    // The same for a suspect host: it stays suspect, with nothing in flight.
    b.submit(&host(2));
    b.round();
    b.submit(&host(2));
    b.replies.pop();
    assert!(b.land(&host(2), &timeout()).is_none());
    assert_eq!(b.mode(&host(2)), Some(Mode::Suspect));
}

#[test]
fn a_full_lane_gives_the_request_back() {
    let mut b = Book::new();
    b.submit(&host(1));
    b.round();
    for _ in 0..LIMITS.max_queued {
        b.submit(&host(1));
    }
    let (pending, _reply) = test_pending(1, b.now + WAIT);
    assert!(b.state.submit(host(1), pending, b.now).is_err());
    b.state.check();
}
