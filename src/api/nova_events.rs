//! The events route's delivery on Nova's wire (`amqp.wire = "nova"`), as
//! nova-api's `compute_api.external_instance_event` does it: first the
//! `instance_actions` rows of `volume-extended` and `power-update` in the
//! instance's cell database, then one cast per host (every instance the
//! host's events name, and those events in request order) over the broker
//! of the host's cell.
//!
//! An event whose row could not be written is not cast (nova-compute would
//! fail on it and skip the rest of the cast) and answers 503.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures_util::future::join_all;

use super::outcome::Verdict;
use crate::broker::{BrokerUrls, CellBroker};
use crate::directory::nova::writes::ActionRow;
use crate::directory::nova::{CellMapping, NovaDirectory, NovaServer, template};
use crate::directory::{Found, Lookup};
use crate::dispatch::PublishOutcome;
use crate::dispatch::nova::{NovaCast, NovaDispatch};
use crate::model::{Caller, Event, EventName, HostName, RequestIds};
use crate::support::rate_log::{RateLog, Verdict as LogVerdict};
use crate::wire::nova;

/// What the Nova wire needs besides the request.
#[derive(Debug)]
pub struct NovaSide<'a> {
    pub directory: &'a NovaDirectory,
    pub dispatch: &'a NovaDispatch,
    /// `amqp.url`: fills templated transport URLs, as nova-api's own
    /// `[DEFAULT]/transport_url` does.
    pub amqp_url: &'a BrokerUrls,
    pub log: &'a RateLog,
}

/// Writes the actions, casts, and says what became of each host's cast.
/// Events whose action row failed become [`Verdict::Unavailable`].
pub async fn deliver(
    side: &NovaSide<'_>,
    events: &[Event],
    verdicts: &mut [Verdict],
    found: &Lookup,
    ids: &RequestIds,
    caller: &Caller,
) -> HashMap<HostName, PublishOutcome> {
    let context = context(ids, caller);
    let targets = targets(events, verdicts, found);
    record_actions(side, events, verdicts, &targets, &context).await;
    let mut casts = casts(events, verdicts, &targets);
    for (cell, cast) in &mut casts {
        cast.broker = broker_of(side, cell);
    }
    let casts: Vec<NovaCast> = casts.into_iter().map(|(_, cast)| cast).collect();
    if casts.is_empty() {
        return HashMap::new();
    }
    let outcomes = side.dispatch.deliver(&context, &casts).await;
    casts.into_iter().map(|c| c.host).zip(outcomes).collect()
}

/// The caller's context, as nova-api's request context carries it.
fn context(ids: &RequestIds, caller: &Caller) -> nova::Context {
    nova::Context {
        request_id: ids.request_id.clone(),
        global_request_id: ids.global_request_id.clone(),
        user_id: caller.user_id.clone(),
        project_id: caller.project_id.clone(),
        roles: caller.roles.clone(),
        is_admin: caller.is_admin(),
        timestamp: nova::now(),
    }
}

/// Each deliverable event's instance row, by event index. An event judged
/// deliverable without a Nova row (never, with `directory.backend = "nova"`
/// required) becomes 503.
fn targets(
    events: &[Event],
    verdicts: &mut [Verdict],
    found: &Lookup,
) -> BTreeMap<usize, Arc<NovaServer>> {
    let mut targets = BTreeMap::new();
    for (i, (event, verdict)) in events.iter().zip(verdicts.iter_mut()).enumerate() {
        if !matches!(verdict, Verdict::Deliver(_)) {
            continue;
        }
        match found.get(&event.server) {
            Some(Found::Nova(server)) => {
                targets.insert(i, Arc::clone(server));
            }
            _ => *verdict = Verdict::Unavailable,
        }
    }
    targets
}

/// The action nova-api records for an event, if any.
fn action_of(event: &Event) -> Option<&'static str> {
    match (event.name, event.tag.as_deref()) {
        (EventName::VolumeExtended, _) => Some("extend_volume"),
        (EventName::PowerUpdate, Some("POWER_ON")) => Some("start"),
        (EventName::PowerUpdate, Some("POWER_OFF")) => Some("stop"),
        _ => None,
    }
}

/// A cell's action rows and the events they are for.
type CellActions<'a> = (&'a Arc<CellMapping>, Vec<usize>, Vec<ActionRow>);

/// One statement per cell, the cells at once; a cell's failure makes its
/// events 503.
async fn record_actions(
    side: &NovaSide<'_>,
    events: &[Event],
    verdicts: &mut [Verdict],
    targets: &BTreeMap<usize, Arc<NovaServer>>,
    context: &nova::Context,
) {
    let mut by_cell: HashMap<&str, CellActions<'_>> = HashMap::new();
    for (&i, server) in targets {
        let Some(action) = action_of(&events[i]) else {
            continue;
        };
        let cell = match &verdicts[i] {
            Verdict::Deliver(hosts) => hosts.first().map_or(&server.cell, |h| server.cell_of(h)),
            _ => continue,
        };
        let entry = by_cell
            .entry(cell.uuid.as_str())
            .or_insert_with(|| (cell, Vec::new(), Vec::new()));
        entry.1.push(i);
        entry.2.push(ActionRow {
            action,
            instance_uuid: server.uuid.canonical(),
            request_id: context.request_id.clone(),
            user_id: context.user_id.clone(),
            project_id: context.project_id.clone(),
            start_time: context.timestamp,
        });
    }
    let writes = by_cell
        .into_values()
        .map(|(cell, indexes, rows)| async move {
            let written = side.directory.record_actions(cell, &rows).await;
            (cell, indexes, written)
        });
    for (cell, indexes, written) in join_all(writes).await {
        if let Err(error) = written {
            if side.log.hit(std::time::Instant::now()) != LogVerdict::Counted {
                tracing::warn!(cell = cell.label(), error = %crate::support::error_chain::error_chain(&error), "instance_actions not written; those events get 503");
            }
            for i in indexes {
                verdicts[i] = Verdict::Unavailable;
            }
        }
    }
}

/// One cast per host (with its cell; the broker is not filled in yet): its
/// instances (each once) and its events, in request order.
fn casts(
    events: &[Event],
    verdicts: &[Verdict],
    targets: &BTreeMap<usize, Arc<NovaServer>>,
) -> Vec<(Arc<CellMapping>, NovaCast)> {
    let mut by_host: BTreeMap<HostName, (Arc<CellMapping>, NovaCast)> = BTreeMap::new();
    for (&i, server) in targets {
        let Verdict::Deliver(hosts) = &verdicts[i] else {
            continue;
        };
        for host in hosts {
            let (_, cast) = by_host.entry(host.clone()).or_insert_with(|| {
                // As nova-api: a host's cell is the one its first instance gives.
                let cell = Arc::clone(server.cell_of(host));
                let cast = NovaCast {
                    host: host.clone(),
                    broker: None,
                    instances: Vec::new(),
                    events: Vec::new(),
                };
                (cell, cast)
            });
            if !cast.instances.iter().any(|x| x.uuid == server.uuid) {
                cast.instances.push(instance(server));
            }
            cast.events.push(nova::Event {
                instance_uuid: server.uuid,
                name: events[i].name,
                status: events[i].status,
                tag: events[i].tag.clone(),
            });
        }
    }
    by_host.into_values().collect()
}

fn instance(server: &NovaServer) -> nova::Instance {
    nova::Instance {
        id: i64::from(server.id),
        uuid: server.uuid,
        host: server.host.as_ref().map(|h| h.as_str().to_owned()),
        project_id: server.project_id.clone(),
        user_id: server.user_id.clone(),
        vm_state: server.vm_state.clone(),
        task_state: server.task_state.clone(),
        power_state: server.power_state.map(i64::from),
        deleted: server.deleted,
    }
}

/// The broker of `cell`, logged and `None` when it names none herald can use.
fn broker_of(side: &NovaSide<'_>, cell: &CellMapping) -> Option<CellBroker> {
    match cell_broker(cell, side.amqp_url) {
        Ok(broker) => broker,
        Err(error) => {
            if side.log.hit(std::time::Instant::now()) != LogVerdict::Counted {
                tracing::warn!(cell = cell.label(), %error, "the cell's transport_url names no usable broker; its events get 503");
            }
            None
        }
    }
}

/// The broker of `cell`: its transport URL, filled from `amqp.url` where it
/// is a template, as nova-api fills it from its own `[DEFAULT]/transport_url`
/// (the first node's URL when `amqp.url` is an array); `None` for cell0's
/// `none:///`.
pub fn cell_broker(
    cell: &CellMapping,
    amqp_url: &BrokerUrls,
) -> Result<Option<CellBroker>, crate::broker::TransportUrlError> {
    let stored = cell.transport_url.as_str();
    let filled = if template::is_template(stored) {
        let source = match amqp_url {
            BrokerUrls::One(url) => url.clone(),
            BrokerUrls::Many(urls) => urls.first().cloned().unwrap_or_default(),
        };
        // Nova, too, uses the template as it is when it cannot be filled.
        template::fill(stored, &source).unwrap_or_else(|_| stored.to_owned())
    } else {
        stored.to_owned()
    };
    CellBroker::parse(&filled)
}

/// How often `nova_topic = "auto"` reads the cells' nova-compute versions.
const TOPIC_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// With `nova_topic = "auto"`: reads the lowest nova-compute version of
/// every cell now and every minute, until `shutdown`. A reading in which a
/// cell did not answer changes nothing (that cell's computes may be old).
pub fn spawn_topic_refresh(app: &Arc<super::App>, shutdown: tokio_util::sync::CancellationToken) {
    let auto = app
        .dispatcher
        .nova()
        .is_some_and(NovaDispatch::topic_is_auto);
    if !auto || app.directory.nova().is_none() {
        return;
    }
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TOPIC_REFRESH);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let (Some(directory), Some(dispatch)) = (app.directory.nova(), app.dispatcher.nova())
            else {
                return;
            };
            match directory.compute_versions().await {
                Ok(per_cell) => match per_cell.into_iter().collect::<Result<Vec<_>, _>>() {
                    Ok(versions) => dispatch.observe_compute_versions(versions),
                    Err(error) => {
                        tracing::warn!(error = %crate::support::error_chain::error_chain(&error), "a cell did not say its nova-compute versions; the cast topic stays as it was")
                    }
                },
                Err(error) => {
                    tracing::warn!(error = %crate::support::error_chain::error_chain(&error), "cannot list the cells to read nova-compute versions; the cast topic stays as it was")
                }
            }
        }
    });
}

#[cfg(test)]
mod tests;
