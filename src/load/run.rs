//! The driver of a run: check the target, set up the broker side, seed the
//! directory, let the workers send until the bounds, drain, clean up, report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use http::{Method, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::auth;
use super::broker_side::{BrokerRole, BrokerSide, Queues};
use super::client::{self, Api};
use super::plan::{Mix, Plan};
use super::report::{Report, Tally};
use super::schedule::{Bounds, Schedule, Tickets};
use super::{LoadArgs, LoadError, servers_file};
use crate::broker::{AmqpConfig, QueueSettings};
use crate::support::error_chain::error_chain;

/// Where events are posted.
pub const EVENTS_PATH: &str = "/os-server-external-events";
/// Where events are posted in Nova mode: nova-api's path (herald serves it too).
pub const NOVA_EVENTS_PATH: &str = "/v2.1/os-server-external-events";
/// Where the directory is seeded in bulk.
pub const SEED_PATH: &str = "/directory/servers";
/// Servers per bulk upsert.
const SEED_CHUNK: usize = 500;
/// How long serve may take to report ready (it may still be connecting to the broker).
const READY_WAIT: Duration = Duration::from_secs(5);

/// The broker settings of a run: `[amqp]` and the host queues' keys of the
/// config file `--config` names (read by the caller, as serve's are), or
/// their defaults; `--amqp-url` and `--exchange` go on top.
#[derive(Debug, Clone, Default)]
pub struct BrokerSettings {
    pub amqp: AmqpConfig,
    pub queue: QueueSettings,
}

/// Runs one load test as `args` describe, against the broker `broker`
/// describes; `shutdown` ends the sending early (the drain, clean-up and
/// report still happen).
pub async fn run(
    args: LoadArgs,
    broker: BrokerSettings,
    shutdown: CancellationToken,
) -> Result<Report, LoadError> {
    let base = client::target_base(&args.url, args.allow_remote)?;
    let schedule = Schedule::new(args.rate, args.concurrency as usize)?;
    let bounds = Bounds {
        requests: args.request_limit(),
        duration: args.duration,
    };
    let placed = match &args.nova_servers {
        Some(path) => servers_file::read(path, args.batch_size)?,
        None => Plan::random(args.servers, args.hosts, &args.host_prefix, args.batch_size)?,
    };
    let plan = Arc::new(placed.with_mix(
        Mix::new(args.unknown_percent, args.unassigned_percent)?,
        || crate::model::ServerId::from_uuid(uuid::Uuid::new_v4()),
    ));
    let nova = args.nova_servers.is_some();
    let BrokerSettings { amqp, queue } = broker;
    let queues = match (nova, &args.exchange) {
        (false, _) => Queues::Herald,
        (true, exchange) => Queues::Nova {
            exchange: exchange
                .clone()
                .unwrap_or_else(|| amqp.nova_exchange.clone()),
        },
    };
    let events_path = if nova { NOVA_EVENTS_PATH } else { EVENTS_PATH };
    let amqp = with_flags(amqp, &args);
    amqp.warn_weakened();
    let idle = args.concurrency as usize;
    let token = auth::token(&args).await?;
    let api = Api::new(
        base,
        token.as_deref(),
        args.microversion.as_deref(),
        idle,
        args.request_timeout,
    )?;
    // herald's serve is ready without the host queues; in Nova mode it needs
    // Nova's exchange, which the broker side declares as nova-compute would:
    // there the broker side comes first (and is cleaned up if serve is not).
    if !nova {
        wait_ready(&api).await?;
    }
    let mut broker = BrokerSide::start(&amqp, &queue, &queues, plan.hosts(), role(&args)).await?;
    let seeded = if nova {
        // Nova's rows were made by its own objects beforehand (--nova-servers).
        wait_ready(&api).await
    } else {
        seed(&api, &plan).await
    };
    let sent = match seeded {
        Ok(()) => Ok(drive(&api, &plan, events_path, schedule, bounds, shutdown).await),
        Err(error) => Err(error),
    };
    let no_answers = Vec::new();
    let answers = sent
        .as_ref()
        .map_or(&no_answers, |(tally, _)| &tally.answers);
    let batch = plan.batch_size();
    if broker.consuming() {
        let missing = broker.drain(answers, batch, args.drain_timeout).await;
        tracing::debug!(missing, "drained");
    }
    let (broker_report, problems) = broker.finish(answers, batch).await;
    if args.cleanup {
        unseed(&api, &plan, idle).await;
    }
    let (tally, elapsed) = sent?;
    let mut report = Report::new(schedule, bounds, &tally, batch, elapsed);
    report.broker = broker_report;
    report.problems = problems;
    Ok(report)
}

fn role(args: &LoadArgs) -> BrokerRole {
    match (args.agents_running, args.consume) {
        (true, _) => BrokerRole::Agents,
        (false, false) => BrokerRole::Declare,
        (false, true) => BrokerRole::Consume {
            prefetch: args.prefetch,
        },
    }
}

/// `--amqp-url` and `--exchange` over the config file's `[amqp]`.
fn with_flags(mut amqp: AmqpConfig, args: &LoadArgs) -> AmqpConfig {
    if let Some(url) = &args.amqp_url {
        amqp.url = url.clone().into();
    }
    if let Some(exchange) = &args.exchange {
        amqp.exchange.clone_from(exchange);
    }
    amqp
}

/// Fails when serve does not answer; waits a little for it to become ready.
async fn wait_ready(api: &Api) -> Result<(), LoadError> {
    let deadline = Instant::now() + READY_WAIT;
    loop {
        let (status, _) = api
            .send(Method::GET, "/readyz", None)
            .await
            .map_err(|source| LoadError::Unreachable {
                url: api.url(""),
                source,
            })?;
        // 404: a serve without /readyz, 300: nova-api (its version choices
        // for any path it does not know); the first batch will tell.
        if status.is_success()
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::MULTIPLE_CHOICES
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LoadError::NotReady {
                url: api.url(""),
                status,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn seed(api: &Api, plan: &Plan) -> Result<(), LoadError> {
    for body in plan.seed_bodies(SEED_CHUNK) {
        let (status, answer) = api
            .send(Method::POST, SEED_PATH, Some(body))
            .await
            .map_err(|source| LoadError::Unreachable {
                url: api.url(SEED_PATH),
                source,
            })?;
        if status != StatusCode::OK {
            let body = String::from_utf8_lossy(&answer).chars().take(200).collect();
            return Err(LoadError::Refused {
                what: "seeding the directory",
                status,
                body,
            });
        }
    }
    Ok(())
}

/// Deletes the seeded entries, `concurrency` at a time; failures are logged, not fatal.
async fn unseed(api: &Api, plan: &Plan, concurrency: usize) {
    let paths: Vec<String> = plan
        .servers()
        .map(|(id, _)| format!("{SEED_PATH}/{id}"))
        .collect();
    let failed = futures_util::stream::iter(paths)
        .map(|path| async move { api.send(Method::DELETE, &path, None).await })
        .buffer_unordered(concurrency)
        .filter(|r| {
            std::future::ready(!matches!(
                r,
                Ok((StatusCode::NO_CONTENT | StatusCode::NOT_FOUND, _))
            ))
        })
        .count()
        .await;
    if failed > 0 {
        tracing::warn!(failed, "some seeded directory entries could not be deleted");
    }
}

/// Sends until the bounds; returns the merged tally and the sending time.
async fn drive(
    api: &Api,
    plan: &Arc<Plan>,
    path: &'static str,
    schedule: Schedule,
    bounds: Bounds,
    shutdown: CancellationToken,
) -> (Tally, Duration) {
    let tickets = Arc::new(
        Tickets::start(schedule, bounds, shutdown)
            .expect("bounds come from LoadArgs::request_limit, never both empty"),
    );
    let done = Arc::new(AtomicU64::new(0));
    let stop_progress = progress(done.clone());
    let workers: Vec<_> = (0..schedule.workers())
        .map(|_| {
            tokio::spawn(worker(
                api.clone(),
                plan.clone(),
                path,
                tickets.clone(),
                done.clone(),
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for handle in workers {
        match handle.await {
            Ok(t) => tally.merge(&t),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "a load worker failed")
            }
        }
    }
    stop_progress.cancel();
    (tally, tickets.started().elapsed())
}

async fn worker(
    api: Api,
    plan: Arc<Plan>,
    path: &'static str,
    tickets: Arc<Tickets>,
    done: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally::default();
    while let Some(ticket) = tickets.next().await {
        let body = plan.batch_body(ticket.seq);
        match api.send(Method::POST, path, Some(body)).await {
            Ok((status, answer)) => {
                let codes = client::event_codes(&answer);
                tally.answered(status.as_u16(), codes.iter().copied(), ticket.due.elapsed());
                tally.keep(ticket.seq, tickets.started().elapsed(), codes);
            }
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), seq = ticket.seq, "request failed");
                tally.failed(ticket.due.elapsed());
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    tally
}

/// A progress line on stderr (indicatif: drawn only when stderr is a
/// terminal, at most a few times a second), ended by the returned token.
fn progress(done: Arc<AtomicU64>) -> CancellationToken {
    let stop = CancellationToken::new();
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if bar.is_hidden() {
        return stop;
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {pos} requests ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => bar.set_position(done.load(Ordering::Relaxed)),
                () = token.cancelled() => {
                    bar.finish_and_clear();
                    break;
                }
            }
        }
    });
    stop
}
