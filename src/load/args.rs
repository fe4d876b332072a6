//! The command line of `herald load`: every knob of a run, parsed by clap.
//!
//! Only shape is checked here (numbers in range, durations with a unit); what
//! needs more than one flag to judge (the loopback target, the bounds of a
//! run) is checked in [`super::run()`] before anything is sent.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// `herald load`: drive a running `herald serve` on this machine and report.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Base URL of the running `herald serve`; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8774")]
    pub url: String,

    /// X-Auth-Token sent with every request (a token with the admin role).
    #[arg(long, env = "HERALD_LOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Keystone mode: get the token from this Keystone v3 (password auth
    /// with the --os-* flags) instead of --token.
    #[arg(long, conflicts_with = "token")]
    pub os_auth_url: Option<String>,

    /// Keystone user (needs a role in serve's `auth.required_roles`).
    #[arg(long, requires = "os_auth_url")]
    pub os_username: Option<String>,

    /// Keystone password of --os-username (or $OS_PASSWORD, to keep it off
    /// the command line).
    #[arg(long, env = "OS_PASSWORD", hide_env_values = true)]
    pub os_password: Option<String>,

    /// Project the token is scoped to.
    #[arg(long, requires = "os_auth_url")]
    pub os_project_name: Option<String>,

    /// Domain of --os-username.
    #[arg(long, default_value = "Default")]
    pub os_user_domain_name: String,

    /// Domain of --os-project-name.
    #[arg(long, default_value = "Default")]
    pub os_project_domain_name: String,

    /// Compute microversion to request (`OpenStack-API-Version: compute X.Y`).
    #[arg(long)]
    pub microversion: Option<String>,

    /// Server UUIDs to seed into the directory.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub servers: u32,

    /// Hosts the servers are spread over, round-robin.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub hosts: u32,

    /// Host names are `<host-prefix>-<i>`.
    #[arg(long, default_value = "load")]
    pub host_prefix: String,

    /// Events per request.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch_size: u32,

    /// Stop after this many requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Stop sending after this long (`30s`, `2m`). With neither this nor
    /// --requests, a run sends 1000 requests.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Requests in flight at once. Without --rate this is a closed loop; with
    /// --rate it caps how many scheduled requests may be outstanding.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// Open loop: start requests at this fixed rate (per second), whatever
    /// the answers; latency counts from each request's scheduled time.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// How long one request may take before it counts as a transport error.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// The herald config file, for the broker URL and the exchange/queue names.
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// Broker URL (overrides the config file).
    #[arg(long)]
    pub amqp_url: Option<String>,

    /// Exchange name (overrides the config file). With --nova-servers:
    /// Nova's exchange (its `control_exchange`; the config's
    /// `amqp.nova_exchange` otherwise, by default `nova`).
    #[arg(long)]
    pub exchange: Option<String>,

    /// Nova mode: drive the servers listed in this file, which live in
    /// Nova's own databases (`{"servers": [{"uuid": …, "host": …}]}`, as
    /// `bench/nova_api/seed.py` makes them with nova's objects). Nothing is
    /// seeded; events go to `/v2.1/os-server-external-events` (nova-api's
    /// path, which herald serves too); the queues nova-compute consumes,
    /// `compute.<host>` and `compute-alt.<host>`, are declared on Nova's
    /// exchange and consumed, reading oslo.messaging's envelope. Drives
    /// nova-api and herald in Nova mode alike.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["servers", "hosts", "host_prefix", "unassigned_percent", "cleanup"]
    )]
    pub nova_servers: Option<PathBuf>,

    /// Declare and consume the host queues here, and check every accepted
    /// event arrives (`--consume false` only declares them).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub consume: bool,

    /// Agents consume the host queues: declare nothing, consume nothing.
    #[arg(long)]
    pub agents_running: bool,

    /// Unacknowledged deliveries the broker may push to each consumer.
    #[arg(long, default_value_t = 256)]
    pub prefetch: u16,

    /// How long to wait after the last request for accepted events to arrive.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Delete the seeded directory entries at the end.
    #[arg(long)]
    pub cleanup: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Percent of events for servers the directory does not know (each a 404).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub unknown_percent: u8,

    /// Percent of events for servers seeded with no host (each a 422).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub unassigned_percent: u8,

    /// Allow a --url that is not this machine. Off by default: load is made
    /// to be pointed at a test deployment on purpose, never by accident.
    #[arg(long)]
    pub allow_remote: bool,
}

impl LoadArgs {
    /// Requests sent when neither --requests nor --duration bounds the run.
    pub const DEFAULT_REQUESTS: u64 = 1000;

    /// The request budget: --requests, or the default when nothing else bounds the run.
    pub fn request_limit(&self) -> Option<u64> {
        match (self.requests, self.duration) {
            (None, None) => Some(Self::DEFAULT_REQUESTS),
            (requests, _) => requests,
        }
    }
}

/// `--rate`: a finite number of requests per second within the schedule's bounds.
fn parse_rate(text: &str) -> Result<f64, String> {
    use super::schedule::{MAX_RATE, MIN_RATE};
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "must be between {MIN_RATE} and {MAX_RATE} requests per second"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn parse(args: &[&str]) -> LoadArgs {
        Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()))
            .unwrap()
            .load
    }

    #[test]
    fn absurd_rates_are_refused_at_parse_time() {
        for bad in ["1e-20", "1e300", "0", "-5", "NaN", "inf", "x"] {
            let got = Cli::try_parse_from(["load", "--rate", bad]);
            assert!(got.is_err(), "{bad}");
        }
        assert_eq!(parse(&["--rate", "250.5"]).rate, Some(250.5));
    }

    #[test]
    fn defaults_follow_the_brief() {
        let a = parse(&[]);
        assert_eq!(a.url, "http://127.0.0.1:8774");
        assert_eq!(
            (a.servers, a.hosts, a.batch_size, a.concurrency),
            (1000, 10, 10, 32)
        );
        assert!(a.consume && !a.agents_running && !a.cleanup);
        assert_eq!(a.drain_timeout, Duration::from_secs(10));
        assert_eq!(a.request_limit(), Some(1000));
    }

    #[test]
    fn a_duration_alone_lifts_the_default_request_budget() {
        let a = parse(&["--duration", "30s"]);
        assert_eq!(a.duration, Some(Duration::from_secs(30)));
        assert_eq!(a.request_limit(), None);
        let a = parse(&["--duration", "30s", "--requests", "5", "--consume", "false"]);
        assert_eq!(a.request_limit(), Some(5));
        assert!(!a.consume);
    }

    #[test]
    fn nova_servers_replace_the_generated_ones() {
        let a = parse(&["--nova-servers", "s.json", "--exchange", "nova-x"]);
        assert_eq!(
            a.nova_servers.as_deref(),
            Some(std::path::Path::new("s.json"))
        );
        for clash in ["--servers", "--hosts", "--unassigned-percent"] {
            let got = Cli::try_parse_from(["load", "--nova-servers", "s.json", clash, "5"]);
            assert!(got.is_err(), "{clash}");
        }
        assert!(Cli::try_parse_from(["load", "--nova-servers", "s.json", "--cleanup"]).is_err());
    }

    #[test]
    fn zero_counts_are_refused() {
        for flag in [
            "--servers",
            "--hosts",
            "--batch-size",
            "--requests",
            "--concurrency",
        ] {
            assert!(Cli::try_parse_from(["load", flag, "0"]).is_err(), "{flag}");
        }
    }
}
