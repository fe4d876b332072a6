//! `POST /os-server-external-events`: negotiate, read, validate, look up,
//! judge, dispatch, answer with a code per event.

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue, Request, Response};
use hyper::body::Incoming;

use super::body::{self, Refused};
use super::error::ApiError;
use super::negotiate::{self, LEGACY_HEADER, STANDARD_HEADER, VARY_VALUE};
use super::outcome::{self, EventResult, Verdict};
use super::{App, nova_events, validate};
use crate::metrics::CodeLabels;
use crate::microversion::Microversion;
use crate::model::{Caller, RequestIds};
use crate::web::Body;
use crate::web::fault::json_response;

/// Handles one batch. Auth has already passed.
pub async fn post(
    app: &App,
    req: Request<Incoming>,
    ids: &RequestIds,
    caller: &Caller,
) -> Response<Body> {
    let version = match negotiate::negotiate(req.headers()) {
        Ok(v) => v,
        Err(error) => {
            let refused = body::refuse(req, ApiError::Version(error)).await;
            return with_version(refused, Microversion::MIN);
        }
    };
    let response = match answer(app, req, version, ids, caller).await {
        Ok(response) | Err(Refused::Answered(response)) => response,
        Err(Refused::Error(error)) => error.into_response(),
    };
    with_version(response, version)
}

async fn answer(
    app: &App,
    req: Request<Incoming>,
    version: Microversion,
    ids: &RequestIds,
    caller: &Caller,
) -> Result<Response<Body>, Refused> {
    let bytes = body::take(req, app.http.max_body_bytes, app.http.body_read_timeout)
        .await
        .map_err(Refused::Answered)?;
    let events = validate::parse_batch(&bytes, version)?;

    let servers: Vec<_> = events.iter().map(|e| e.server).collect();
    let lookup_started = std::time::Instant::now();
    let found = app.directory.lookup(&servers, caller).await?;
    app.metrics
        .lookup_seconds
        .observe(lookup_started.elapsed().as_secs_f64());

    let mut verdicts: Vec<Verdict> = events
        .iter()
        .map(|e| outcome::judge(e, found.get(&e.server)))
        .collect();
    let deliveries = match nova_side(app) {
        Some(side) => {
            Box::pin(nova_events::deliver(
                &side,
                &events,
                &mut verdicts,
                &found,
                ids,
                caller,
            ))
            .await
        }
        None => {
            let targets = verdicts.iter().enumerate().filter_map(|(i, v)| match v {
                Verdict::Deliver(hosts) => Some((i, hosts.as_slice())),
                _ => None,
            });
            app.dispatcher.deliver(targets, &events, ids).await
        }
    };

    let results: Vec<EventResult> = events
        .iter()
        .zip(&verdicts)
        .map(|(event, verdict)| {
            let code = outcome::code(verdict, &deliveries);
            tracing::debug!(name = %event.name, server = %event.server, code, "event judged");
            EventResult::new(event, code)
        })
        .collect();
    count_codes(app, &results);
    let status = outcome::overall(results.iter().map(|r| r.code));
    Ok(json_response(status, &outcome::Answer { events: &results }))
}

/// Nova's wire, when herald speaks it (its directory is then Nova's too).
fn nova_side(app: &App) -> Option<nova_events::NovaSide<'_>> {
    Some(nova_events::NovaSide {
        directory: app.directory.nova()?,
        dispatch: app.dispatcher.nova()?,
        amqp_url: &app.amqp_url,
        log: &app.nova_log,
    })
}

/// Counts the batch's codes: the metric family's lock is taken once per
/// distinct code, not once per event.
fn count_codes(app: &App, results: &[EventResult]) {
    let mut counts: Vec<(u16, u64)> = Vec::with_capacity(4);
    for result in results {
        match counts.iter_mut().find(|(code, _)| *code == result.code) {
            Some((_, n)) => *n += 1,
            None => counts.push((result.code, 1)),
        }
    }
    for (code, n) in counts {
        app.metrics
            .events
            .get_or_create(&CodeLabels { code })
            .inc_by(n);
    }
}

/// The two microversion header values of every version served (`compute
/// 2.N`, `2.N`), made once: cloning one is a reference count.
static VERSION_VALUES: LazyLock<Vec<(HeaderValue, HeaderValue)>> = LazyLock::new(|| {
    (0..=Microversion::MAX.minor())
        .map(|minor| version_values(Microversion::new(Microversion::MIN.major(), minor)))
        .collect()
});

fn version_values(version: Microversion) -> (HeaderValue, HeaderValue) {
    let text = version.to_string();
    let standard = HeaderValue::from_str(&format!("compute {text}"))
        .expect("a version is a valid header value");
    let legacy = HeaderValue::from_str(&text).expect("a version is a valid header value");
    (standard, legacy)
}

/// Adds the microversion headers every events response carries.
fn with_version(mut response: Response<Body>, version: Microversion) -> Response<Body> {
    let (standard, legacy) = match VERSION_VALUES.get(version.minor() as usize) {
        Some(values) if version.major() == Microversion::MIN.major() => values.clone(),
        _ => version_values(version),
    };
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(STANDARD_HEADER, standard);
    headers.insert(LEGACY_HEADER, legacy);
    headers.append(http::header::VARY, HeaderValue::from_static(VARY_VALUE));
    response
}
