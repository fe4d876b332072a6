//! The local waiter API: `GET /events/wait` (long-poll for one event),
//! `GET /events/recent` (debugging: retained events, newest last, and the
//! number of waiters), `GET /healthz`, `GET /readyz`. It runs whether or not
//! the broker is reachable.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Response, StatusCode};
use hyper::Request;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Readiness;
use super::event::ReceivedEvent;
use super::store::EventStore;
use super::waiter_query::{WaitQuery, parse_limit};
use crate::web::Body;
use crate::web::fault::{Fault, json_response};
use crate::web::server::{ServerOptions, serve};

/// What the routes share.
#[derive(Debug, Clone)]
pub struct WaiterState {
    pub store: Arc<EventStore>,
    pub ready: Readiness,
    /// Waiters answer 503 at once when this is cancelled.
    pub shutdown: CancellationToken,
}

/// Serves the waiter API on `listener` until `state.shutdown` is cancelled.
pub async fn run(listener: TcpListener, state: WaiterState, options: ServerOptions) {
    let shutdown = state.shutdown.clone();
    let handler = move |req: Request<Incoming>, _peer: SocketAddr| {
        let state = state.clone();
        async move { route(&req, &state).await }
    };
    serve(listener, handler, options, shutdown).await;
}

async fn route<B>(req: &Request<B>, state: &WaiterState) -> Response<Body> {
    let query = req.uri().query();
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/events/wait") => match WaitQuery::parse(query) {
            Ok(wait) => wait_for(wait, state).await,
            Err(fault) => fault.into_response(),
        },
        (&Method::GET, "/events/recent") => match parse_limit(query) {
            Ok(limit) => {
                let events = state.store.recent(limit);
                let events: Vec<&ReceivedEvent> = events.iter().map(|e| &**e).collect();
                json_response(
                    StatusCode::OK,
                    &serde_json::json!({ "events": events, "waiters": state.store.waiters() }),
                )
            }
            Err(fault) => fault.into_response(),
        },
        (&Method::GET, "/healthz") => {
            json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        }
        (&Method::GET, "/readyz") if state.ready.get() => {
            json_response(StatusCode::OK, &serde_json::json!({"status": "consuming"}))
        }
        (&Method::GET, "/readyz") if state.ready.is_blocked() => {
            Fault::unavailable("The broker has blocked the agent's connection (resource alarm).")
                .into_response()
        }
        (&Method::GET, "/readyz") => {
            Fault::unavailable("The agent is not consuming from the broker.").into_response()
        }
        (_, "/events/wait" | "/events/recent" | "/healthz" | "/readyz") => {
            Fault::method_not_allowed("GET").into_response()
        }
        _ => Fault::not_found("No such resource.").into_response(),
    }
}

async fn wait_for(wait: WaitQuery, state: &WaiterState) -> Response<Body> {
    let found = tokio::select! {
        found = state.store.wait(&wait.key, wait.timeout) => found,
        () = state.shutdown.cancelled() => {
            return Fault::unavailable("The agent is shutting down.").into_response();
        }
    };
    match found {
        Some(event) => json_response(StatusCode::OK, &*event),
        None => Fault::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "No {} event for server {} arrived within {:?}.",
                wait.key.name, wait.key.server_uuid, wait.timeout
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const UUID: &str = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";

    fn state(ready: bool) -> WaiterState {
        let s = WaiterState {
            store: Arc::new(EventStore::new(Duration::from_secs(60), 10)),
            ready: Readiness::default(),
            shutdown: CancellationToken::new(),
        };
        s.ready.set(ready);
        s
    }

    fn get(uri: &str) -> Request<()> {
        Request::get(uri).body(()).unwrap()
    }

    #[tokio::test]
    async fn health_readiness_and_unknown_routes() {
        assert_eq!(
            route(&get("/healthz"), &state(false)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            route(&get("/readyz"), &state(false)).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            route(&get("/readyz"), &state(true)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            route(&get("/nope"), &state(true)).await.status(),
            StatusCode::NOT_FOUND
        );
        let post = Request::post("/events/wait").body(()).unwrap();
        assert_eq!(
            route(&post, &state(true)).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_times_out_with_408() {
        let uri = format!("/events/wait?server_uuid={UUID}&name=network-changed&timeout=1");
        let response = route(&get(&uri), &state(true)).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }
}
