//! Operational endpoints: `/healthz`, `/readyz`, `/metrics` (no token).

use std::time::Duration;

use http::{Response, StatusCode};
use serde_json::json;

use super::App;
use crate::metrics;
use crate::web::Body;
use crate::web::fault::{json_response, text_response};

/// How long readiness waits for the directory to answer.
const DIRECTORY_PROBE: Duration = Duration::from_secs(2);

/// The process is alive.
pub fn healthz() -> Response<Body> {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// Ready when the broker is connected, the directory answers and (keystone
/// mode) Keystone answers and accepts herald's credentials.
pub async fn readyz(app: &App) -> Response<Body> {
    let broker = app.dispatcher.is_ready();
    let directory = matches!(
        tokio::time::timeout(DIRECTORY_PROBE, app.directory.ping()).await,
        Ok(Ok(()))
    );
    let keystone = match app.auth.keystone() {
        Some(keystone) => Some(keystone.probe().await.is_ok()),
        None => None,
    };
    let status = if broker && directory && keystone != Some(false) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "broker": if broker { "connected" } else { "disconnected" },
        "broker_node": app.dispatcher.node(),
        "directory": if directory { "ok" } else { "unreachable" },
        "keystone": match keystone {
            None => "not used",
            Some(true) => "ok",
            Some(false) => "unavailable",
        },
    });
    if let Some(nova) = app.dispatcher.nova() {
        // Nova's wire: the topic casts go to now, and every broker in use
        // (amqp.url's decides readiness; a cell broker's outage fails only
        // its cells' events).
        let brokers: serde_json::Map<String, serde_json::Value> = nova
            .brokers()
            .summary()
            .into_iter()
            .map(|(label, up)| (label, json!(if up { "connected" } else { "disconnected" })))
            .collect();
        body["nova_topic"] = json!(nova.topic().as_str());
        body["nova_brokers"] = json!(brokers);
    }
    json_response(status, &body)
}

/// Prometheus text exposition.
pub fn metrics(app: &App) -> Response<Body> {
    text_response(StatusCode::OK, metrics::CONTENT_TYPE, app.metrics.render())
}
