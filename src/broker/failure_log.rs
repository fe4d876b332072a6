//! Logging failed connection rounds without flooding: the first failure
//! after a connection (or at start) is logged in full at warn; while the
//! broker stays unreachable, one summary line with the count and the
//! latest reason at most every [`SUMMARY_EVERY`]; the rest at debug.
//! serve and the agent log their connection failures through it alike.

use std::time::{Duration, Instant};

use crate::error_chain::error_chain;
use crate::rate_log::{RateLog, Verdict};

/// The longest a still-failing broker goes without a warn line.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// The failure log of one supervised connection.
#[derive(Debug)]
pub struct FailureLog {
    connection: String,
    rate: RateLog,
}

impl FailureLog {
    /// For the connection named `connection` (as the broker shows it).
    pub fn new(connection: &str) -> Self {
        Self {
            connection: connection.to_owned(),
            rate: RateLog::new(SUMMARY_EVERY),
        }
    }

    /// One failed round; the next attempt comes after `retry_in`.
    pub fn failed(&self, error: &(dyn std::error::Error + 'static), retry_in: Duration) {
        let connection = &self.connection;
        let error = error_chain(error);
        match self.rate.hit(Instant::now()) {
            Verdict::Log => tracing::warn!(
                %connection, %error, ?retry_in,
                "no broker node answered; retrying with backoff"
            ),
            Verdict::Summary(failures) => tracing::warn!(
                %connection, %error, failures, ?retry_in,
                "broker still unreachable"
            ),
            Verdict::Counted => tracing::debug!(
                %connection, %error, ?retry_in,
                "broker still unreachable"
            ),
        }
    }

    /// Connected: the next failure is news again.
    pub fn connected(&mut self) {
        self.rate = RateLog::new(SUMMARY_EVERY);
    }
}
