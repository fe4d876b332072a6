//! The owner task's loop, driven through [`Lanes`] with a publisher the
//! test answers: when flights start, what each request is told, and that
//! nothing is left in flight however a flight or a request ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::super::queue::test_events;
use super::super::{LaneLimits, Lanes};
use super::{Call, WAIT, fake, host, is, outcome, quiet, timeout};
use crate::dispatch::publish::{Failure, PublishOutcome};
use crate::metrics::Metrics;
use crate::model::HostName;

const LIMITS: LaneLimits = LaneLimits {
    max_events: 8,
    max_queued: 4,
    rounds: 2,
    round_messages: 3,
};

struct Rig {
    lanes: Lanes,
    calls: mpsc::UnboundedReceiver<Call>,
    metrics: Arc<Metrics>,
}

type Reply = oneshot::Receiver<PublishOutcome>;

impl Rig {
    fn start() -> Self {
        let (publisher, calls) = fake();
        let metrics = Metrics::new();
        let lanes = Lanes::with_publisher(LIMITS, publisher, Arc::clone(&metrics));
        Self {
            lanes,
            calls,
            metrics,
        }
    }

    /// One request of one event for each of `hosts`, due in [`WAIT`].
    async fn request(&self, hosts: &[HostName]) -> Vec<Reply> {
        self.request_until(hosts, Instant::now() + WAIT).await
    }

    async fn request_until(&self, hosts: &[HostName], deadline: Instant) -> Vec<Reply> {
        let work = hosts.iter().map(|h| (h.clone(), test_events(1))).collect();
        self.lanes.submit(work, deadline).await
    }

    async fn send(&self, h: &HostName) -> Reply {
        self.request(std::slice::from_ref(h)).await.remove(0)
    }

    /// The next flight launched (the test fails if none comes in a minute).
    async fn flight(&mut self) -> Call {
        tokio::time::timeout(Duration::from_secs(60), self.calls.recv())
            .await
            .expect("a flight is launched")
            .expect("the owner runs")
    }

    /// Asserts that no flight was launched by now.
    async fn no_flight(&mut self) {
        quiet().await;
        assert!(self.calls.try_recv().is_err(), "no flight expected");
    }

    fn queued(&self) -> i64 {
        self.metrics.lane_queued.get()
    }
}

fn waiting(reply: &mut Reply) -> bool {
    matches!(reply.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

#[tokio::test(start_paused = true)]
async fn a_lone_request_is_published_at_once_and_told_its_confirm() {
    let mut rig = Rig::start();
    let start = Instant::now();
    let reply = rig.send(&host(1)).await;
    let flight = rig.flight().await;
    assert_eq!(flight.at, start, "no wait");
    assert_eq!(flight.hosts, vec![host(1)]);
    flight.confirm();
    assert!(is(&outcome(reply).await, &PublishOutcome::Confirmed));
}

#[tokio::test(start_paused = true)]
async fn requests_arriving_while_their_hosts_message_flies_share_the_next_one() {
    let mut rig = Rig::start();
    let first = rig.send(&host(1)).await;
    let flight = rig.flight().await;
    let second = rig.send(&host(1)).await;
    let third = rig.send(&host(1)).await;
    rig.no_flight().await;
    assert_eq!(rig.queued(), 2, "both wait in the lane");
    flight.confirm();
    let next = rig.flight().await;
    assert_eq!(next.requests, vec![2], "one message carries both");
    assert_eq!(rig.queued(), 0);
    let nacked = PublishOutcome::Failed(Failure::Nacked);
    next.answer(vec![nacked.clone()]);
    assert!(is(&outcome(first).await, &PublishOutcome::Confirmed));
    assert!(
        is(&outcome(second).await, &nacked),
        "each told its message's"
    );
    assert!(is(&outcome(third).await, &nacked));
}

#[tokio::test(start_paused = true)]
async fn at_most_two_rounds_fly_and_the_next_takes_every_ready_host() {
    let mut rig = Rig::start();
    let _a = rig.send(&host(1)).await;
    let round_a = rig.flight().await;
    let _b = rig.send(&host(2)).await;
    let round_b = rig.flight().await;
    let _c = rig.request(&[host(3), host(4)]).await;
    rig.no_flight().await;
    round_b.confirm();
    let round_c = rig.flight().await;
    assert_eq!(round_c.hosts, vec![host(3), host(4)], "in arrival order");
    round_a.confirm();
    rig.no_flight().await;
    round_c.confirm();
}

#[tokio::test(start_paused = true)]
async fn each_host_of_a_request_is_told_its_own_messages_outcome() {
    let mut rig = Rig::start();
    let replies = rig.request(&[host(1), host(2), host(3)]).await;
    let round = rig.flight().await;
    assert_eq!(round.hosts.len(), 3, "one message per host, together");
    let unroutable = PublishOutcome::Failed(Failure::Unroutable("events.node-2".into()));
    round.answer(vec![
        PublishOutcome::Confirmed,
        unroutable.clone(),
        timeout(),
    ]);
    let mut replies = replies.into_iter();
    let mut next = || outcome(replies.next().expect("three replies"));
    assert!(is(&next().await, &PublishOutcome::Confirmed));
    assert!(is(&next().await, &unroutable));
    assert!(is(&next().await, &timeout()));
}

#[tokio::test(start_paused = true)]
async fn a_host_whose_confirm_timed_out_publishes_alone_and_holds_up_no_other() {
    let mut rig = Rig::start();
    let first = rig.request(&[host(1), host(2)]).await;
    rig.flight()
        .await
        .answer(vec![timeout(), PublishOutcome::Confirmed]);
    for reply in first {
        outcome(reply).await;
    }
    // Both rounds are taken...
    let _c = rig.send(&host(3)).await;
    let round_c = rig.flight().await;
    let _d = rig.send(&host(4)).await;
    let round_d = rig.flight().await;
    // ...yet the suspect host's request goes out at once, alone.
    let mut stalled = rig.send(&host(1)).await;
    let solo = rig.flight().await;
    assert_eq!(solo.hosts, vec![host(1)]);
    // Another host's request is answered while the solo waits.
    let live = rig.send(&host(2)).await;
    round_c.confirm();
    let round = rig.flight().await;
    assert_eq!(round.hosts, vec![host(2)], "never with the suspect host");
    round.confirm();
    assert!(is(&outcome(live).await, &PublishOutcome::Confirmed));
    assert!(waiting(&mut stalled), "the stalled host still waits");
    // Its solo times out: it stays suspect, and goes alone again.
    solo.answer(vec![timeout()]);
    assert!(is(&outcome(stalled).await, &timeout()));
    let again = rig.send(&host(1)).await;
    rig.flight().await.confirm();
    assert!(is(&outcome(again).await, &PublishOutcome::Confirmed));
    // Confirmed: back in the rounds with the others.
    round_d.confirm();
    let _back = rig.request(&[host(1), host(2)]).await;
    let round = rig.flight().await;
    assert_eq!(round.hosts, vec![host(1), host(2)]);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_gave_up_before_its_message_is_not_published() {
    let mut rig = Rig::start();
    let _first = rig.send(&host(1)).await;
    let flight = rig.flight().await;
    let gone = rig.send(&host(1)).await;
    drop(gone); // its client went away
    let expiring = rig
        .request_until(&[host(1)], Instant::now() + Duration::from_secs(1))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // its deadline passes
    assert_eq!(rig.queued(), 2);
    flight.confirm();
    rig.no_flight().await;
    assert_eq!(rig.queued(), 0, "both counted out");
    assert!(
        outcome(expiring.into_iter().next().unwrap())
            .await
            .is_none()
    );
    // The lane is not left busy: the next request goes at once, alone.
    let _next = rig.send(&host(1)).await;
    let next = rig.flight().await;
    assert_eq!(next.requests, vec![1]);
}

#[tokio::test(start_paused = true)]
async fn a_flight_that_panics_leaves_no_lane_in_flight() {
    let mut rig = Rig::start();
    let replies = rig.request(&[host(1), host(2)]).await;
    rig.flight().await.panic();
    for reply in replies {
        assert!(outcome(reply).await.is_none(), "no answer but a closed one");
    }
    let _again = rig.request(&[host(1), host(2)]).await;
    let round = rig.flight().await;
    assert_eq!(round.hosts, vec![host(1), host(2)], "at once: neither busy");
    // A suspect host's solo that panics: its next request goes alone again.
    round.answer(vec![timeout(), PublishOutcome::Confirmed]);
    let _lost = rig.send(&host(1)).await;
    rig.flight().await.panic();
    let _next = rig.send(&host(1)).await;
    let _other = rig.send(&host(2)).await;
    let solo = rig.flight().await;
    assert_eq!(solo.hosts, vec![host(1)]);
    let round = rig.flight().await;
    assert_eq!(round.hosts, vec![host(2)], "a lost message is no confirm");
}

#[tokio::test(start_paused = true)]
async fn a_full_lane_answers_overloaded_at_once() {
    let mut rig = Rig::start();
    let _first = rig.send(&host(1)).await;
    let _flight = rig.flight().await;
    let mut queued = Vec::new();
    for _ in 0..LIMITS.max_queued {
        queued.push(rig.send(&host(1)).await);
    }
    let start = Instant::now();
    let over = outcome(rig.send(&host(1)).await).await;
    assert!(is(&over, &PublishOutcome::Failed(Failure::Overloaded)));
    assert_eq!(Instant::now(), start, "at once");
    assert_eq!(rig.queued(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_owner_ends_with_its_handle_and_drops_its_flights() {
    let mut rig = Rig::start();
    let reply = rig.send(&host(1)).await;
    let flight = rig.flight().await;
    drop(rig.lanes);
    assert!(outcome(reply).await.is_none(), "its flight was dropped");
    assert!(rig.calls.recv().await.is_none(), "the owner is gone");
    drop(flight);
}
