//! The HTTP side of `herald serve`: routes, auth, microversions, the events
//! handler, the directory routes and the operational endpoints.
//!
//! [`App::handle`] answers one request; [`crate::serve`] wires the parts together.

pub mod auth;
pub mod auth_config;
pub mod body;
pub mod directory_body;
pub mod directory_routes;
pub mod error;
pub mod events;
pub mod healthcheck;
pub mod negotiate;
pub mod nova_events;
pub mod ops;
pub mod outcome;
pub mod routes;
pub mod validate;
mod validate_event;
mod validate_fast;
pub mod versions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::directory::Directory;
use crate::dispatch::Dispatcher;
use crate::metrics::{Metrics, RequestLabels};
use crate::model::{Caller, RequestIds};
use crate::web::Body;
use crate::web::config::HttpConfig;
use crate::web::connection::Transport;
use crate::web::forwarded::{self, Origin};
use auth::Authenticator;
use error::ApiError;
use routes::Route;

/// Everything a request needs; shared by all connections.
#[derive(Debug)]
pub struct App {
    pub auth: Authenticator,
    pub directory: Directory,
    pub dispatcher: Dispatcher,
    pub metrics: Arc<Metrics>,
    pub http: HttpConfig,
    /// `amqp.url`: on Nova's wire, it fills templated cell transport URLs.
    pub amqp_url: crate::broker::BrokerUrls,
    /// Nova's wire: failed action writes and unusable cell brokers, logged
    /// without flooding.
    pub nova_log: crate::support::rate_log::RateLog,
}

/// Counts a request in flight for as long as it lives: a handler dropped
/// mid-way (its client went away) still counts itself out.
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl InFlight {
    fn enter(gauge: &prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl App {
    /// Answers one request from `peer`, with request ids, metrics and an
    /// access log line naming the client (as forwarded by a trusted proxy).
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let started = Instant::now();
        let transport = req
            .extensions()
            .get::<Transport>()
            .copied()
            .unwrap_or(Transport::Plain);
        let origin = forwarded::origin(peer, transport, req.headers(), &self.http.trusted_proxies);
        let global = req
            .headers()
            .get("x-openstack-request-id")
            .and_then(|v| v.to_str().ok());
        let ids = RequestIds::new(global);
        let route = Route::of(req.uri().path());
        let span = tracing::info_span!("request", request_id = %ids.request_id, method = %req.method(), path = %req.uri().path());
        let in_flight = InFlight::enter(&self.metrics.in_flight);
        let method = req.method().clone();
        // Boxed here, so the future hyper holds and moves stays small (the
        // routes' futures, the directory's and Keystone's among them, are
        // tens of kilobytes together).
        let mut response = Box::pin(self.route(route.clone(), req, &ids, &origin))
            .instrument(span.clone())
            .await;
        drop(in_flight);
        let status = response.status();
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                route: route.label(),
                status: status.as_u16(),
            })
            .inc();
        let id =
            HeaderValue::from_str(&ids.request_id).expect("req-<uuid> is a valid header value");
        response
            .headers_mut()
            .insert("x-openstack-request-id", id.clone());
        response.headers_mut().insert("x-compute-request-id", id);
        span.in_scope(|| {
            tracing::info!(status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, %method, client = %origin.client, peer = %peer.ip(), "request served");
        });
        response
    }

    async fn route(
        &self,
        route: Route,
        req: Request<Incoming>,
        ids: &RequestIds,
        origin: &Origin,
    ) -> Response<Body> {
        if let Err(error) = framing(req.headers()) {
            return body::refuse(req, error).await;
        }
        if route == Route::NotFound {
            let error = ApiError::NotFound("The resource could not be found.".into());
            return body::refuse(req, error).await;
        }
        if !route.allows(req.method()) {
            return body::refuse(req, ApiError::MethodNotAllowed(route.allow())).await;
        }
        let caller = if route.needs_auth() {
            match self.auth.check(req.headers()).await {
                Ok(caller) => caller,
                Err(denied) => {
                    let error = ApiError::Denied {
                        denied,
                        www_authenticate: self.auth.www_authenticate(),
                    };
                    return body::refuse(req, error).await;
                }
            }
        } else {
            Caller::default()
        };
        if !matches!(*req.method(), Method::POST | Method::PUT)
            && body::declares_body(req.headers())
        {
            // A GET or DELETE body is never read: answer, then close.
            let mut response = Box::pin(self.route_checked(route, req, ids, origin, &caller)).await;
            body::close_connection(&mut response);
            return response;
        }
        self.route_checked(route, req, ids, origin, &caller).await
    }

    async fn route_checked(
        &self,
        route: Route,
        req: Request<Incoming>,
        ids: &RequestIds,
        origin: &Origin,
        caller: &Caller,
    ) -> Response<Body> {
        if matches!(route, Route::DirectoryCollection | Route::DirectoryItem(_))
            && self.directory.nova().is_some()
        {
            return body::refuse(req, ApiError::DirectoryIsNova).await;
        }
        // Each route's future is boxed where it is made: this one is only
        // as large as the largest box, not as the largest route.
        match route {
            Route::VersionList => versions::list(origin),
            Route::VersionDocument => versions::document(origin),
            Route::Events => Box::pin(events::post(self, req, ids, caller)).await,
            Route::DirectoryCollection if req.method() == Method::POST => {
                Box::pin(directory_routes::bulk(self, req)).await
            }
            Route::DirectoryCollection => Box::pin(directory_routes::list(self, req.uri())).await,
            Route::DirectoryItem(segment) => {
                Box::pin(directory_routes::item(self, req, &segment)).await
            }
            Route::Healthz => ops::healthz(),
            Route::Healthcheck => {
                healthcheck::answer(req.method(), &self.http.healthcheck_disable_file)
            }
            Route::Readyz => Box::pin(ops::readyz(self)).await,
            Route::Metrics => ops::metrics(self),
            Route::NotFound => unreachable!("answered above"),
        }
    }
}

/// RFC 9112: exactly one `Host` (400), and no transfer coding but plain
/// `chunked` (501: herald decodes no compression).
fn framing(headers: &http::HeaderMap) -> Result<(), ApiError> {
    if headers.get_all(http::header::HOST).iter().count() != 1 {
        return Err(ApiError::Host);
    }
    let mut codings = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    match (codings.next(), codings.next()) {
        (None, _) => Ok(()),
        (Some(only), None) if only.as_bytes().eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err(ApiError::TransferCoding),
    }
}
