//! A lane's queue: the requests waiting for a message, and how the next
//! message's group is taken from its front (pure, so it is tested without a
//! broker).

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::dispatch::publish::PublishOutcome;
use crate::wire;

/// One request's events for one host, waiting for a message.
pub(super) struct Pending {
    pub(super) events: Vec<wire::WireEventV2>,
    pub(super) deadline: Instant,
    pub(super) reply: oneshot::Sender<PublishOutcome>,
}

/// The requests one message will carry, and how many events left the queue.
pub(super) struct Group {
    pub(super) pending: Vec<Pending>,
    pub(super) taken_events: usize,
}

/// Takes requests from the front of `queue` while their events fit in
/// `max_events` (the first one always fits). Requests that gave up are
/// dropped on the way: their events must not go out after a 503.
pub(super) fn take_group(queue: &mut VecDeque<Pending>, max_events: usize, now: Instant) -> Group {
    let mut pending = Vec::new();
    let mut events = 0;
    let mut taken_events = 0;
    while let Some(next) = queue.front() {
        let gave_up = next.reply.is_closed() || next.deadline <= now;
        if gave_up {
            let next = queue.pop_front().expect("front exists");
            taken_events += next.events.len();
            continue;
        }
        if !pending.is_empty() && events + next.events.len() > max_events {
            break;
        }
        let next = queue.pop_front().expect("front exists");
        events += next.events.len();
        taken_events += next.events.len();
        pending.push(next);
    }
    Group {
        pending,
        taken_events,
    }
}

/// `n` events of one request, for the lanes' tests.
#[cfg(test)]
pub(super) fn test_events(n: usize) -> Vec<wire::WireEventV2> {
    use crate::model::{EventName, EventStatus, ServerId};
    let event = wire::WireEventV2 {
        name: EventName::NetworkChanged,
        server_uuid: ServerId::parse("3df201cf-2451-44f2-8d25-a4ca826fc1f3").expect("a valid uuid"),
        status: EventStatus::Completed,
        tag: None,
        request_id: "req-1".into(),
        global_request_id: None,
    };
    vec![event; n]
}

/// A waiting request of `n` events, for the lanes' tests.
#[cfg(test)]
pub(super) fn test_pending(
    n: usize,
    deadline: Instant,
) -> (Pending, oneshot::Receiver<PublishOutcome>) {
    let (reply, rx) = oneshot::channel();
    let pending = Pending {
        events: test_events(n),
        deadline,
        reply,
    };
    (pending, rx)
}

#[cfg(test)]
mod tests {
    use super::test_pending as pending;
    use super::*;
    use std::time::Duration;

    #[test]
    fn groups_fill_up_to_the_bound_and_a_big_request_goes_alone() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let mut queue = VecDeque::new();
        let mut receivers = Vec::new();
        for n in [3, 4, 10, 1] {
            let (p, rx) = pending(n, later);
            queue.push_back(p);
            receivers.push(rx);
        }
        let sizes = |g: &Group| g.pending.iter().map(|p| p.events.len()).collect::<Vec<_>>();
        let g = take_group(&mut queue, 8, now);
        assert_eq!(sizes(&g), vec![3, 4]);
        let g = take_group(&mut queue, 8, now);
        assert_eq!(
            sizes(&g),
            vec![10],
            "larger than the bound: alone, not split"
        );
        let g = take_group(&mut queue, 8, now);
        assert_eq!(sizes(&g), vec![1]);
        let g = take_group(&mut queue, 8, now);
        assert!(g.pending.is_empty() && g.taken_events == 0);
    }

    #[test]
    fn requests_that_gave_up_are_skipped_and_counted_out() {
        let now = Instant::now();
        let mut queue = VecDeque::new();
        let (expired, _rx1) = pending(2, now);
        let (gone, rx2) = pending(3, now + Duration::from_secs(5));
        drop(rx2);
        let (live, _rx3) = pending(1, now + Duration::from_secs(5));
        queue.extend([expired, gone, live]);
        let g = take_group(&mut queue, 8, now);
        assert_eq!(g.pending.len(), 1);
        assert_eq!(g.pending[0].events.len(), 1);
        assert_eq!(g.taken_events, 6);
        assert!(queue.is_empty());
    }
}
