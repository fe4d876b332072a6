//! `herald load`: a load generator that drives a running `herald serve` on
//! this machine through the broker and reports what became of every event.
//!
//! A run seeds the directory, sets up the host queues, sends events batches
//! on a closed or open loop until its bounds, waits for the accepted events
//! to arrive on the queues, cleans up and reports.
//!
//! In Nova mode (`--nova-servers`) the servers are rows in Nova's own
//! databases, seeded beforehand by nova's objects; the queues are
//! nova-compute's compute topics on Nova's exchange and the messages oslo
//! casts. The same run then drives nova-api itself or herald in Nova mode.
//!
//! # Layout
//! - [`args`]: the command line.
//! - [`plan`]: hosts, servers and batch bodies (pure).
//! - [`servers_file`]: Nova mode's servers, seeded by nova's objects and listed in a file.
//! - [`schedule`]: closed vs open loop as one enum, and the ticket dispenser.
//! - [`client`]: the keep-alive HTTP client and the loopback check.
//! - [`broker_side`]: set-up and tear-down: declare and delete the host queues.
//! - [`consume`]: consume them across broker loss, count what arrives, end-to-end latency.
//! - [`envelope`]: what a delivered message says, on herald's wire or Nova's (pure).
//! - [`ledger`]: which event got which answer and which arrived (pure).
//! - [`tally`]: what each worker counts, lock-free, merged at the end.
//! - [`broker_error`]: how a broker failure is worded.
//! - [`report`]: tallies, percentiles, text and JSON.
//! - [`run`](mod@run): the driver tying them together.

pub mod args;
pub mod auth;
pub mod broker_error;
pub mod broker_side;
pub mod client;
pub mod consume;
pub mod envelope;
pub mod ledger;
pub mod plan;
pub mod report;
pub mod run;
pub mod schedule;
pub mod servers_file;
pub mod tally;

pub use args::LoadArgs;
pub use report::Report;
pub use run::{BrokerSettings, run};

/// Why a load run could not start or did not pass. Each message is one line
/// naming the culprit.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("--url {url}: {reason}")]
    Target { url: String, reason: String },
    #[error("{flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Schedule(#[from] schedule::ScheduleError),
    #[error(transparent)]
    ServersFile(#[from] servers_file::ServersFileError),
    #[error("--os-auth-url {url}: no token for --os-username")]
    Keystone {
        url: String,
        #[source]
        source: crate::keystone::KeystoneError,
    },
    #[error("herald serve at {url} is unreachable")]
    Unreachable {
        url: String,
        #[source]
        source: client::RequestError,
    },
    #[error("herald serve at {url} is not ready (broker or directory down): {status}")]
    NotReady {
        url: String,
        status: http::StatusCode,
    },
    #[error("{what}: herald serve answered {status}: {body}")]
    Refused {
        what: &'static str,
        status: http::StatusCode,
        body: String,
    },
    #[error("broker: {context}")]
    Broker {
        context: String,
        #[source]
        source: lapin::Error,
    },
    #[error(transparent)]
    Declare(#[from] crate::broker::DeclareError),
    #[error(transparent)]
    Connect(#[from] crate::broker::ConnectError),
    #[error("AMQP name {name:?}")]
    Name {
        name: String,
        #[source]
        source: crate::broker::NameTooLong,
    },
    #[error(
        "lost events: {lost} of {accepted} events answered 200 did not arrive within the drain timeout"
    )]
    Lost { accepted: u64, lost: u64 },
    #[error("the run could not count everything: {}", problems.join("; "))]
    Problems { problems: Vec<String> },
    #[error("no request got an answer ({failures} transport errors)")]
    NoAnswers { failures: u64 },
    #[error("no event was accepted with code 200 (codes: {codes:?})")]
    NothingAccepted {
        codes: std::collections::BTreeMap<u16, u64>,
    },
}

impl Report {
    /// Whether the run passed: answers came back, events were accepted, and
    /// (when verified) every accepted event arrived.
    pub fn verdict(&self) -> Result<(), LoadError> {
        if self.requests > 0 && self.transport_errors == self.requests {
            return Err(LoadError::NoAnswers {
                failures: self.transport_errors,
            });
        }
        if self.requests > 0 && self.accepted == 0 {
            return Err(LoadError::NothingAccepted {
                codes: self.event_codes.clone(),
            });
        }
        match &self.broker {
            Some(b) if b.lost > 0 => Err(LoadError::Lost {
                accepted: self.accepted,
                lost: b.lost,
            }),
            _ if !self.problems.is_empty() => Err(LoadError::Problems {
                problems: self.problems.clone(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::report::{BrokerReport, Percentiles, Tally, histogram};
    use super::schedule::{Bounds, Schedule};
    use super::*;

    fn report(tally: &Tally, delivered: Option<u64>) -> Report {
        let schedule = Schedule::new(None, 1).expect("closed loop");
        let bounds = Bounds {
            requests: Some(1),
            duration: None,
        };
        let mut r = Report::new(schedule, bounds, tally, 2, Duration::from_secs(1));
        r.broker = delivered.map(|delivered| BrokerReport {
            delivered,
            messages: delivered,
            undecodable: 0,
            lost: r.accepted.saturating_sub(delivered),
            duplicates: 0,
            answered_503_delivered: 0,
            reconnects: 0,
            end_to_end_ms: Percentiles::of(&histogram()),
        });
        r
    }

    #[test]
    fn a_run_passes_only_when_every_accepted_event_arrived() {
        let mut t = Tally::default();
        t.answered(200, [200, 200], Duration::from_millis(1));
        assert!(report(&t, Some(2)).verdict().is_ok());
        assert!(report(&t, None).verdict().is_ok());
        let lost = report(&t, Some(1)).verdict().unwrap_err();
        assert!(matches!(
            lost,
            LoadError::Lost {
                accepted: 2,
                lost: 1
            }
        ));
        assert_eq!(
            lost.to_string(),
            "lost events: 1 of 2 events answered 200 did not arrive within the drain timeout"
        );
        let mut r = report(&t, Some(2));
        r.problems
            .push("deleting queue q: connection refused".into());
        assert_eq!(
            r.verdict().unwrap_err().to_string(),
            "the run could not count everything: deleting queue q: connection refused"
        );
    }

    #[test]
    fn runs_without_answers_or_acceptances_fail() {
        let mut t = Tally::default();
        t.failed(Duration::from_millis(1));
        assert!(matches!(
            report(&t, Some(0)).verdict(),
            Err(LoadError::NoAnswers { failures: 1 })
        ));
        let mut t = Tally::default();
        t.answered(207, [503, 503], Duration::from_millis(1));
        let err = report(&t, Some(0)).verdict().unwrap_err();
        assert!(
            matches!(&err, LoadError::NothingAccepted { codes } if *codes == BTreeMap::from([(503, 2)]))
        );
    }
}
