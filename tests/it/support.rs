//! Test support: a real `herald serve` on 127.0.0.1:0 against the real
//! RabbitMQ and a temp SQLite file, with unique broker names per test and
//! cleanup of everything the test declared.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use herald::api::auth_config::{AuthMode, TokenConfig};
use herald::config::Config;
use herald::dispatch::Topology;
use herald::model::HostName;

mod probe;
mod shared_broker;

pub use probe::{get, new_uuid, poll_until};
use shared_broker::cleanup;
pub use shared_broker::{broker, drain};

pub const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const ADMIN_TOKEN: &str = "admin-secret";
pub const SERVICE_TOKEN: &str = "service-secret";
pub const READER_TOKEN: &str = "reader-secret";

/// A config whose broker names are unique to one test.
pub fn test_config(dir: &tempfile::TempDir) -> Config {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().expect("literal address");
    config.http.header_read_timeout = Duration::from_secs(2);
    config.http.body_read_timeout = Duration::from_secs(2);
    config.http.shutdown_grace = Duration::from_secs(10);
    config.auth.mode = AuthMode::Token;
    config.auth.tokens = vec![
        token(ADMIN_TOKEN, &["admin"]),
        token(SERVICE_TOKEN, &["service"]),
        token(READER_TOKEN, &["reader", "member"]),
    ];
    config.amqp.url = BROKER.into();
    config.amqp.exchange = format!("herald-test-{tag}");
    config.amqp.routing_prefix = format!("ev{}", &tag[..8]);
    config.amqp.queue_prefix = format!("herald-test-{tag}.q");
    config.dispatch.confirm_timeout = Duration::from_secs(5);
    config.amqp.reconnect_min_backoff = Duration::from_millis(50);
    config.amqp.reconnect_max_backoff = Duration::from_millis(500);
    config.amqp.connect_timeout = Duration::from_secs(2);
    config.directory.url = dir.path().join("directory.sqlite3").display().to_string();
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

/// Far past any answer serve gives in a test (the longest confirm timeout a
/// test sets is 20 s): a request unanswered this long is a hang.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(60);

/// `fut`, or a panic naming `what` once `limit` passed: a step that would
/// hang fails with its name instead of running into nextest's kill.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done in {limit:?}"))
}

/// Writes serve's own config where `herald load` can read the broker names
/// from it. Serve's tests use a 2 s connect timeout so a broker that is down
/// is seen fast; `herald load` talks to the healthy machine broker, which on
/// a busy two-core run may take longer than that to accept a connection.
pub fn load_config_file(app: &TestApp, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let mut config = app.config.clone();
    config.amqp.connect_timeout = Duration::from_secs(30);
    let path = dir.path().join("herald.toml");
    let text = toml::to_string(&config).expect("the config serialises");
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// Runs `herald load` as its command line does: the file `--config` names
/// is read first, as main reads it, then the run.
pub async fn run_load(
    args: herald::load::LoadArgs,
    shutdown: CancellationToken,
) -> Result<herald::load::Report, herald::load::LoadError> {
    let config = args
        .config
        .as_deref()
        .map(|path| Config::load(path, std::iter::empty()).expect("the test config is valid"))
        .unwrap_or_default();
    herald::load::run(args, config.load_settings(), shutdown).await
}

/// A running `herald serve`.
pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    pub topology: Topology,
    client: Client<HttpConnector, Full<Bytes>>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    queues: Vec<String>,
    _dir: tempfile::TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts serve with a test config adjusted by `adjust`; waits until the
    /// broker is connected unless the config points elsewhere.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&dir);
        adjust(&mut config);
        let listener = TcpListener::bind(config.http.listen)
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
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
        let app = Self {
            addr,
            topology: Topology::new(&config.amqp),
            config,
            client: Client::builder(TokioExecutor::new()).build_http(),
            shutdown,
            server: Some(server),
            queues: Vec::new(),
            _dir: dir,
        };
        app.wait_until(|r| r.status == StatusCode::OK, "/healthz")
            .await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with the admin token unless `headers` has a token.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(self.url(path));
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-auth-token"))
        {
            builder = builder.header("x-auth-token", ADMIN_TOKEN);
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        self.send(builder.body(Full::new(bytes)).expect("valid request"))
            .await
    }

    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let what = format!("herald answering {} {}", request.method(), request.uri());
        let response = within(ANSWER_DEADLINE, &what, self.client.request(request))
            .await
            .expect("herald answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body readable").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
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
        let migration =
            migration.map(|(s, d)| serde_json::json!({"source_compute": s, "dest_compute": d}));
        let body = serde_json::json!({"host": host, "migration": migration});
        let reply = self
            .request(
                Method::PUT,
                &format!("/directory/servers/{uuid}"),
                Some(&body),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    /// Polls `path` until `ready` holds, with a deadline.
    pub async fn wait_until(&self, ready: impl Fn(&Reply) -> bool, path: &str) -> Reply {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let probe = self.client.get(self.url(path).parse().expect("uri"));
            if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(5), probe).await {
                let (parts, body) = response.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                let reply = Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body: parse_body(&bytes),
                };
                if ready(&reply) {
                    return reply;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never reached the expected state"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn wait_ready(&self) {
        self.wait_until(|r| r.status == StatusCode::OK, "/readyz")
            .await;
    }

    /// Declares and binds the queue an agent for `host` would consume.
    pub async fn bind_host(&mut self, host: &str) -> String {
        self.bind_host_with(host, FieldTable::default()).await
    }

    /// Like `bind_host`, with queue arguments (`x-max-length`, ...).
    pub async fn bind_host_with(&mut self, host: &str, arguments: FieldTable) -> String {
        let host = HostName::parse(host).expect("valid host");
        let queue = self.topology.queue(&host);
        let channel = broker().await.create_channel().await.expect("channel");
        let options = QueueDeclareOptions {
            durable: false,
            auto_delete: false,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), options, arguments)
            .await
            .expect("queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                self.topology.exchange().into(),
                self.topology.routing_key(&host).as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind (the exchange exists once serve connected)");
        self.queues.push(queue.clone());
        queue
    }

    /// Stops serve the way SIGTERM would and cleans the broker up.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("serve stops within its grace")
                .expect("serve task ends cleanly");
        }
        cleanup(self.topology.exchange(), &self.queues).await;
        self.queues.clear();
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
        // A test that panicked before stop(): still delete what it declared.
        if self.queues.is_empty() && self.server.is_none() {
            return;
        }
        self.shutdown.cancel();
        let exchange = self.topology.exchange().to_owned();
        let queues = std::mem::take(&mut self.queues);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(cleanup(&exchange, &queues));
        })
        .join();
    }
}

/// JSON bodies as JSON, anything else as a JSON string, nothing as null.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}
