//! Real OpenStack clients against a real `herald serve`: starts the built
//! binary on a free port with a throw-away config (random token, SQLite in a
//! temp dir, a uniquely named exchange on the local RabbitMQ), binds a queue
//! for one compute host so that its events can be confirmed, and runs
//! `tests/clients/nova_clients.py` (python-novaclient and openstacksdk) with
//! the interpreter that `scripts/test.sh` sets up in `HERALD_TEST_PYTHON`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use herald::broker::Topology;
use herald::config::Config;
use herald::model::HostName;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nova_clients.py");
const START_DEADLINE: Duration = Duration::from_secs(30);
const CLIENTS_DEADLINE: Duration = Duration::from_secs(180);
const STOP_DEADLINE: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novaclient_and_openstacksdk_drive_herald() -> Result<()> {
    let python = std::env::var("HERALD_TEST_PYTHON").context(
        "HERALD_TEST_PYTHON is not set: run scripts/test.sh, which sets up the Python clients",
    )?;
    let amqp_url =
        std::env::var("HERALD_TEST_AMQP_URL").unwrap_or_else(|_| crate::support::BROKER.into());

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let host = HostName::parse(&format!("compute-{unique}")).context("test host name")?;
    let token = format!("test-{}", uuid::Uuid::new_v4());
    let dir = tempfile::tempdir().context("temp dir")?;
    let config_path = dir.path().join("herald.toml");
    // Port 0: serve binds a free port itself and logs it; no port is bound,
    // dropped and hoped to be still free.
    let text = test_config(
        "127.0.0.1:0".parse().expect("literal address"),
        &token,
        &amqp_url,
        &format!("herald-test-{unique}"),
        dir.path(),
    );
    std::fs::write(&config_path, &text).context("write the test config")?;
    let config =
        Config::load(&config_path, std::iter::empty()).context("the test config is valid")?;

    // A queue bound for the host, so the broker routes (and confirms) its events.
    let _broker = TestQueue::declare(&config, &host).await?;

    let mut server = Server::start(&config_path)?;
    let addr = server.wait_listening().await?;
    server.wait_healthy(addr).await?;

    let status = run_clients(&python, addr, &token, &host).await?;
    ensure!(
        status.success(),
        "nova_clients.py failed ({status}); its output is above"
    );

    let exit = server.stop().await?;
    ensure!(
        exit.success(),
        "herald serve did not exit 0 on SIGTERM: {exit}"
    );
    Ok(())
}

fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn test_config(
    addr: SocketAddr,
    token: &str,
    amqp_url: &str,
    exchange: &str,
    dir: &Path,
) -> String {
    let sqlite = dir.join("herald.sqlite3");
    format!(
        "[http]\nlisten = {listen}\n\n\
         [auth]\nmode = \"token\"\n\n\
         [[auth.tokens]]\ntoken = {token}\nroles = [\"admin\"]\n\n\
         [amqp]\nurl = {amqp}\nexchange = {exchange}\n\n\
         [directory]\nbackend = \"sqlite\"\nurl = {sqlite}\n\n\
         [log]\nlevel = \"info\"\n",
        listen = toml_str(&addr.to_string()),
        token = toml_str(token),
        amqp = toml_str(amqp_url),
        exchange = toml_str(exchange),
        sqlite = toml_str(&sqlite.to_string_lossy()),
    )
}

async fn run_clients(
    python: &str,
    addr: SocketAddr,
    token: &str,
    host: &HostName,
) -> Result<ExitStatus> {
    let mut child = tokio::process::Command::new(python)
        .arg(SCRIPT)
        .args([
            "--url",
            &format!("http://{addr}"),
            "--token",
            token,
            "--host",
            host.as_str(),
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {python} {SCRIPT}"))?;
    match tokio::time::timeout(CLIENTS_DEADLINE, child.wait()).await {
        Ok(status) => Ok(status?),
        Err(_) => bail!("nova_clients.py did not finish within {CLIENTS_DEADLINE:?}"),
    }
}

/// The `herald serve` child process; killed when dropped (the failure path:
/// a passing test stops it with SIGTERM and checks the exit).
struct Server {
    child: Child,
    /// The address serve logged it listens on.
    listening: Option<tokio::sync::oneshot::Receiver<SocketAddr>>,
}

impl Server {
    fn start(config: &Path) -> Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("HERALD__LOG__FORMAT", "text")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("start herald serve")?;
        let stderr = child.stderr.take().context("serve's stderr")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Passes serve's log through to ours and picks the bound address
        // out of its "herald serve listening addr=..." line.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if line.contains("herald serve listening")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .and_then(|a| a.parse().ok())
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
            }
        });
        Ok(Self {
            child,
            listening: Some(rx),
        })
    }

    /// The port serve bound, from its log.
    async fn wait_listening(&mut self) -> Result<SocketAddr> {
        let rx = self.listening.take().context("asked twice")?;
        match tokio::time::timeout(START_DEADLINE, rx).await {
            Ok(Ok(addr)) => Ok(addr),
            Ok(Err(_)) => bail!("herald serve exited before it said where it listens"),
            Err(_) => bail!("herald serve did not log its address within {START_DEADLINE:?}"),
        }
    }

    /// Polls `GET /healthz` until it answers 200, the process dies, or the deadline.
    async fn wait_healthy(&mut self, addr: SocketAddr) -> Result<()> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("herald serve exited during start-up: {status}");
            }
            if healthz(addr).await.unwrap_or(false) {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "herald serve did not answer /healthz within {START_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after the deadline).
    async fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("run kill -TERM")?;
        ensure!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child.kill().context("SIGKILL herald serve")?;
        let status = self.child.wait()?;
        bail!("herald serve did not exit within {STOP_DEADLINE:?} of SIGTERM (killed: {status})")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// True when `GET /healthz` answers 200.
async fn healthz(addr: SocketAddr) -> Result<bool> {
    Ok(crate::support::get(addr, "/healthz").await.0 == 200)
}

/// The test's exchange and a queue bound on it for one host; both are deleted
/// on drop, on success and on failure alike.
struct TestQueue {
    url: String,
    exchange: String,
    queue: String,
}

impl TestQueue {
    async fn declare(config: &Config, host: &HostName) -> Result<Self> {
        let topology = Topology::new(&config.amqp);
        let this = Self {
            url: config.amqp.url.node_urls()[0].clone(),
            exchange: topology.exchange().to_owned(),
            queue: topology.queue(host),
        };
        let conn = Connection::connect(&this.url, ConnectionProperties::default())
            .await
            .with_context(|| format!("connect to RabbitMQ at {}", this.url))?;
        let channel = conn.create_channel().await?;
        // The same exchange serve declares: durable topic; serve's declare must match.
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                this.exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .context("declare the test exchange")?;
        // Not exclusive: herald's publisher is another connection, and the
        // queue must outlive nothing but this test (deleted on drop).
        let queue_opts = QueueDeclareOptions {
            durable: false,
            auto_delete: false,
            ..Default::default()
        };
        channel
            .queue_declare(
                this.queue.as_str().into(),
                queue_opts,
                FieldTable::default(),
            )
            .await
            .context("declare the test host queue")?;
        channel
            .queue_bind(
                this.queue.as_str().into(),
                this.exchange.as_str().into(),
                topology.routing_key(host).as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("bind the test host queue")?;
        conn.close(200, "declared".into()).await?;
        Ok(this)
    }

    async fn delete(&self) -> Result<()> {
        let conn = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
        channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await?;
        conn.close(200, "cleaned up".into()).await?;
        Ok(())
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        // Drop cannot await, and may run while the test's runtime unwinds:
        // clean up on a thread with a runtime of its own.
        let result = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(self.delete())
                })
                .join()
        });
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!(
                "clients test: deleting {} / {}: {error:#}",
                self.queue, self.exchange
            ),
            Err(_) => eprintln!("clients test: the cleanup thread panicked"),
        }
    }
}
