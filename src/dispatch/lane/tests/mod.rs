//! The lanes under test: the state machine on its own (`state`), and the
//! owner task with a publisher the test drives (`owner`), both in paused
//! time so a deadline passes only when the test lets it.

mod owner;
mod state;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use super::publisher::{Publish, flight_deadline};
use super::queue::Pending;
use crate::dispatch::publish::{Failure, PublishOutcome};
use crate::model::HostName;

fn host(n: usize) -> HostName {
    HostName::parse(&format!("node-{n}")).expect("a valid host name")
}

/// A request's deadline in every test: the confirm timeout's default.
const WAIT: Duration = Duration::from_secs(5);

fn timeout() -> PublishOutcome {
    PublishOutcome::Failed(Failure::Timeout)
}

/// How the test answers a flight.
enum Answer {
    Outcomes(Vec<PublishOutcome>),
    /// The publisher panics (a bug, or a library's).
    Panic,
}

/// One flight the owner launched, seen by the test.
struct Call {
    hosts: Vec<HostName>,
    /// Requests per message.
    requests: Vec<usize>,
    /// When it was launched.
    at: Instant,
    answer: oneshot::Sender<Answer>,
}

impl Call {
    fn answer(self, outcomes: Vec<PublishOutcome>) {
        let _ = self.answer.send(Answer::Outcomes(outcomes));
    }

    fn confirm(self) {
        let n = self.hosts.len();
        self.answer(vec![PublishOutcome::Confirmed; n]);
    }

    fn panic(self) {
        let _ = self.answer.send(Answer::Panic);
    }
}

/// A publisher that hands every flight to the test and, like the broker
/// publisher, answers `Timeout` when nothing came by the flight's deadline.
struct Fake {
    calls: mpsc::UnboundedSender<Call>,
}

impl Publish for Fake {
    async fn publish(&self, groups: &[(HostName, Vec<Pending>)]) -> Vec<PublishOutcome> {
        let (answer, answered) = oneshot::channel();
        let call = Call {
            hosts: groups.iter().map(|(h, _)| h.clone()).collect(),
            requests: groups.iter().map(|(_, g)| g.len()).collect(),
            at: Instant::now(),
            answer,
        };
        let _ = self.calls.send(call);
        match timeout_at(flight_deadline(groups), answered).await {
            Ok(Ok(Answer::Outcomes(outcomes))) => outcomes,
            Ok(Ok(Answer::Panic)) => panic!("the test's publisher fails"),
            Ok(Err(_)) | Err(_) => vec![timeout(); groups.len()],
        }
    }
}

/// Lets every task run until it waits: in paused time the clock moves on
/// only when nothing else can run, so after this the owner has taken
/// everything sent to it (and the clock is 1 ms later).
async fn quiet() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A request's outcome, or `None` when its reply was dropped (skipped, or
/// its flight was lost).
async fn outcome(rx: oneshot::Receiver<PublishOutcome>) -> Option<PublishOutcome> {
    rx.await.ok()
}

fn is(outcome: &Option<PublishOutcome>, want: &PublishOutcome) -> bool {
    match (outcome, want) {
        (Some(PublishOutcome::Confirmed), PublishOutcome::Confirmed) => true,
        (Some(PublishOutcome::Failed(a)), PublishOutcome::Failed(b)) => a.reason() == b.reason(),
        _ => false,
    }
}

/// Builds a fake's pair: what the owner publishes with, what the test reads.
fn fake() -> (Arc<Fake>, mpsc::UnboundedReceiver<Call>) {
    let (calls, seen) = mpsc::unbounded_channel();
    (Arc::new(Fake { calls }), seen)
}
