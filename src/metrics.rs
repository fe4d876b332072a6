//! Prometheus metrics of `herald serve`, in an explicit registry that the
//! `/metrics` route renders. No global state: tests own their registry.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Content type of the text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct NodeLabels {
    /// `host:port` of a broker node, never its credentials.
    pub node: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct FailureLabels {
    /// Why a message was not confirmed: `timeout` and `connection` (may
    /// still have been delivered), `nacked`, `unroutable`, `broker_unavailable`,
    /// `no_channel`, `overloaded`, `name`.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: u16,
}

/// Every metric herald serves.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub events: Family<CodeLabels, Counter>,
    pub in_flight: Gauge,
    pub confirm_seconds: Histogram,
    pub lookup_seconds: Histogram,
    pub broker_connected: Gauge,
    pub broker_connects: Counter,
    /// 1 for the broker node in use, 0 for nodes used before.
    pub broker_node: Family<NodeLabels, Gauge>,
    pub broker_reconnects: Counter,
    pub broker_disconnected_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    pub messages_published: Counter,
    pub messages_failed: Family<FailureLabels, Counter>,
    pub events_per_message: Histogram,
    /// Events waiting in the coalescing lanes for a message.
    pub lane_queued: Gauge,
    /// Messages published and awaiting their confirms.
    pub unconfirmed: Gauge,
    /// Client connections open now.
    pub connections_open: Gauge,
    /// Connections that arrived with every slot taken (`http.max_connections`).
    pub connections_deferred: Counter,
    /// Idle connections closed to make room for new ones.
    pub connections_evicted: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("herald");
        let requests = Family::<RequestLabels, Counter>::default();
        let events = Family::<CodeLabels, Counter>::default();
        let in_flight = Gauge::default();
        // 0.5 ms .. ~8 s
        let confirm_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 15));
        let lookup_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        let broker_connected = Gauge::default();
        let broker_connects = Counter::default();
        let messages_published = Counter::default();
        let broker_node = Family::<NodeLabels, Gauge>::default();
        let broker_reconnects = Counter::default();
        let broker_disconnected_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let messages_failed = Family::<FailureLabels, Counter>::default();
        // 1 .. 512 events
        let events_per_message = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let lane_queued = Gauge::default();
        let unconfirmed = Gauge::default();
        let connections_open = Gauge::default();
        let connections_deferred = Counter::default();
        let connections_evicted = Counter::default();
        registry.register(
            "http_connections_open",
            "Client connections open now (at most http.max_connections)",
            connections_open.clone(),
        );
        registry.register(
            "http_connections_deferred",
            "Connections that arrived while every connection slot was taken",
            connections_deferred.clone(),
        );
        registry.register(
            "http_connections_evicted",
            "Idle connections closed to make room for a new one at the cap",
            connections_evicted.clone(),
        );
        registry.register(
            "messages_unconfirmed",
            "Messages published and awaiting the broker's confirm",
            unconfirmed.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages not confirmed, by reason; only `timeout` and `connection` may still have been delivered",
            messages_failed.clone(),
        );
        registry.register(
            "events_per_message",
            "Events carried by each published message (coalescing shows here)",
            events_per_message.clone(),
        );
        registry.register(
            "lane_queued_events",
            "Events waiting in the per-host coalescing lanes",
            lane_queued.clone(),
        );
        registry.register(
            "broker_node",
            "1 for the broker node (host:port) the dispatcher is connected to",
            broker_node.clone(),
        );
        registry.register(
            "broker_reconnects",
            "Broker connections re-established after a loss",
            broker_reconnects.clone(),
        );
        registry.register(
            "broker_disconnected_seconds",
            "Time spent without a broker connection after a loss",
            broker_disconnected_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "events",
            "Events answered, by per-event code",
            events.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            in_flight.clone(),
        );
        registry.register(
            "publish_confirm_seconds",
            "Time from publishing a message to the broker's confirm",
            confirm_seconds.clone(),
        );
        registry.register(
            "directory_lookup_seconds",
            "Time to look up one batch's servers in the directory",
            lookup_seconds.clone(),
        );
        registry.register(
            "broker_connected",
            "Live broker connections the dispatcher holds (1 or 0; in Nova mode one per cell broker)",
            broker_connected.clone(),
        );
        registry.register(
            "broker_connections",
            "Broker connections established (reconnects included)",
            broker_connects.clone(),
        );
        registry.register(
            "messages_published",
            "Messages the broker confirmed as routed",
            messages_published.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            events,
            in_flight,
            confirm_seconds,
            lookup_seconds,
            broker_connected,
            broker_connects,
            broker_node,
            broker_reconnects,
            broker_disconnected_seconds,
            messages_published,
            messages_failed,
            events_per_message,
            lane_queued,
            unconfirmed,
            connections_open,
            connections_deferred,
            connections_evicted,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&RequestLabels {
                route: "events",
                status: 207,
            })
            .inc();
        m.events.get_or_create(&CodeLabels { code: 503 }).inc();
        let text = m.render();
        for name in [
            "herald_http_requests_total{route=\"events\",status=\"207\"} 1",
            "herald_events_total{code=\"503\"} 1",
            "herald_http_requests_in_flight",
            "herald_publish_confirm_seconds_bucket",
            "herald_broker_connected",
            "herald_events_per_message_bucket",
            "herald_lane_queued_events",
            "herald_http_connections_open",
            "herald_http_connections_deferred_total",
            "herald_http_connections_evicted_total",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
