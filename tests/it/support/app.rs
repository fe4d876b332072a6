//! [`TestApp`]: a real `herald serve` in this process on 127.0.0.1:0, against
//! the real RabbitMQ and a temp SQLite file, on the test's own broker names,
//! with what it declared cleaned up even when the test panics.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use lapin::types::FieldTable;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use herald::api::auth_config::{AuthMode, TokenConfig};
use herald::broker::Topology;
use herald::config::Config;

use super::http::HttpClient;
use super::{
    ADMIN_TOKEN, BrokerCleanup, READER_TOKEN, Reply, SERVICE_TOKEN, bind_queue, broker, new_uuid,
    poll_for, unique_config, within,
};

/// One event for `server`: the body most tests post.
pub fn event_for(server: &str) -> Value {
    json!({"events": [{"name": "network-changed", "server_uuid": server}]})
}

/// Serve's test config, its SQLite file in `dir`: tokens for each role,
/// short HTTP timeouts, a 2 s broker connect timeout so a broker that is
/// down is seen fast. [`TestApp`] and serve as a child process run on it.
pub fn serve_config(dir: &Path) -> Config {
    let mut config = unique_config();
    config.http.header_read_timeout = Duration::from_secs(2);
    config.http.body_read_timeout = Duration::from_secs(2);
    config.http.shutdown_grace = Duration::from_secs(10);
    config.auth.mode = AuthMode::Token;
    config.auth.tokens = vec![
        token(ADMIN_TOKEN, &["admin"]),
        token(SERVICE_TOKEN, &["service"]),
        token(READER_TOKEN, &["reader", "member"]),
    ];
    config.dispatch.confirm_timeout = Duration::from_secs(5);
    config.amqp.connect_timeout = Duration::from_secs(2);
    config.directory.url = dir.join("directory.sqlite3").display().to_string();
    config
}

fn token(value: &str, roles: &[&str]) -> TokenConfig {
    TokenConfig {
        token: Some(value.into()),
        token_sha256: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..TokenConfig::default()
    }
}

/// A running `herald serve`.
pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    pub topology: Topology,
    client: HttpClient,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    cleanup: BrokerCleanup,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts serve with a test config adjusted by `adjust`; waits until it
    /// answers `/healthz` (`wait_ready` waits for the broker too).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let app = Self::start_with(adjust).await;
        app.wait_until(|r| r.status == StatusCode::OK, "/healthz")
            .await;
        app
    }

    /// Starts serve with a test config adjusted by `adjust`, waiting for
    /// nothing (an HTTPS serve, whose plain `/healthz` never answers).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = serve_config(dir.path());
        adjust(&mut config);
        let listener = TcpListener::bind(config.http.listen)
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let config = config.clone();
            let shutdown = shutdown.clone();
            async move {
                herald::serve::run(config, listener, shutdown)
                    .await
                    .expect("serve runs");
            }
        });
        Self {
            addr,
            topology: Topology::new(&config.amqp),
            cleanup: BrokerCleanup::exchange(&config.amqp.exchange),
            config,
            client: HttpClient::default(),
            shutdown,
            server: Some(server),
            _dir: dir,
        }
    }

    /// [`spawn`](Self::spawn), then [`wait_ready`](Self::wait_ready).
    pub async fn ready() -> Self {
        Self::ready_with(|_| {}).await
    }

    /// [`spawn_with`](Self::spawn_with), then [`wait_ready`](Self::wait_ready).
    pub async fn ready_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let app = Self::spawn_with(adjust).await;
        app.wait_ready().await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with the admin token unless `headers` has a token,
    /// and a JSON content type with a body unless `headers` has one.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let mut builder = Request::builder().method(method).uri(self.url(path));
        if !has("x-auth-token") {
            builder = builder.header("x-auth-token", ADMIN_TOKEN);
        }
        if body.is_some() && !has("content-type") {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send(builder.body(Full::new(bytes)).expect("a valid request"))
            .await
    }

    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        self.client.send(request).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, &[]).await
    }

    pub async fn post_events(&self, body: &Value, headers: &[(&str, &str)]) -> Reply {
        self.request(
            Method::POST,
            "/os-server-external-events",
            Some(body),
            headers,
        )
        .await
    }

    /// Registers a server in the directory.
    pub async fn put_server(
        &self,
        uuid: &str,
        host: Option<&str>,
        migration: Option<(&str, &str)>,
    ) {
        let migration = migration.map(|(s, d)| json!({"source_compute": s, "dest_compute": d}));
        let body = json!({"host": host, "migration": migration});
        let path = format!("/directory/servers/{uuid}");
        let reply = self.request(Method::PUT, &path, Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    /// A fresh server placed on `host`, and `host`'s queue bound: (server, queue).
    pub async fn place_on(&mut self, host: &str) -> (String, String) {
        let server = new_uuid();
        self.put_server(&server, Some(host), None).await;
        (server, self.bind_host(host).await)
    }

    /// Polls `GET path` until `ready` holds for its answer, for 15 s at most.
    pub async fn wait_until(&self, ready: impl Fn(&Reply) -> bool, path: &str) -> Reply {
        self.wait_until_within(Duration::from_secs(15), ready, path)
            .await
    }

    /// [`Self::wait_until`] with a deadline of the test's own.
    pub async fn wait_until_within(
        &self,
        deadline: Duration,
        ready: impl Fn(&Reply) -> bool,
        path: &str,
    ) -> Reply {
        let url = self.url(path);
        let what = format!("{path} reaches the expected state");
        poll_for(&what, deadline, || async {
            let reply = self.client.try_get(&url, Duration::from_secs(5)).await?;
            ready(&reply).then_some(reply)
        })
        .await
    }

    /// Waits until `/readyz` answers 200 (broker connected, directory up).
    pub async fn wait_ready(&self) {
        self.wait_until(|r| r.status == StatusCode::OK, "/readyz")
            .await;
    }

    /// Waits until `/metrics` holds the line `line` (a metric and its value).
    pub async fn wait_metric(&self, line: &str) {
        self.wait_until(|r| r.text().lines().any(|l| l == line), "/metrics")
            .await;
    }

    /// The sum of every sample of `metric` now on `/metrics`.
    pub async fn metric_sum(&self, metric: &str) -> f64 {
        let reply = self.get("/metrics").await;
        reply
            .text()
            .lines()
            .filter(|l| l.starts_with(metric))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Declares and binds the queue an agent for `host` would consume.
    pub async fn bind_host(&mut self, host: &str) -> String {
        self.bind_host_with(host, FieldTable::default()).await
    }

    /// Like `bind_host`, with queue arguments (`x-max-length`, ...).
    pub async fn bind_host_with(&mut self, host: &str, arguments: FieldTable) -> String {
        let conn = broker().await;
        let queue = bind_queue(&conn, &self.topology, host, false, arguments).await;
        let _ = conn.close(200, "bound".into()).await;
        self.cleanup.queue(&queue);
        queue
    }

    /// Stops serve the way SIGTERM would and cleans the broker up.
    pub async fn stop(mut self) {
        self.shut_down().await;
        self.cleanup.clean().await;
    }

    /// Stops serve the way SIGTERM would, and waits until it has.
    pub async fn shut_down(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            within(Duration::from_secs(30), "serve's stop", server)
                .await
                .expect("serve task ends cleanly");
        }
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn take_server(&mut self) -> JoinHandle<()> {
        self.server.take().expect("server still running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked before stop(): stop serve; `cleanup` deletes
        // what it declared as it drops.
        self.shutdown.cancel();
    }
}
