//! RabbitMQ nodes a test owns, never the machine's own broker: each is the
//! installed `rabbitmq-server` on loopback ports of its own, with its own
//! node name, config file (its one listener), empty env and enabled-plugins
//! files, mnesia and log dirs, and a `HOME` of its own so its Erlang cookie
//! is the test's. A test can kill -9, freeze (SIGSTOP), thaw and restart a node, and
//! join three into a cluster; drop kills every node and removes its files.
//!
//! A node may also take TLS (`OwnNode::start_tls`): a TLS listener on
//! 127.0.0.1 and a second one on 127.0.0.2 (an address its certificate does
//! not name), `verify_peer` and `fail_if_no_peer_cert`, as OpenStack-Helm's
//! mutual-TLS override sets it; its plain listener stays for the test's own
//! connections.
//!
//! A node runs in a process group of its own (the start script, beam and its
//! helpers), so a signal to the group reaches all of them and nothing else.
//! Starting one takes 5–20 s on a busy 2-core machine; tests that use these
//! nodes run one at a time (`.config/nextest.toml`, group `broker-nodes`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use crate::support::group::ProcessGroup;
use crate::support::{poll_for, poll_until};

mod tls;
pub use tls::{NodeTls, TlsPorts};

/// Where Debian installs RabbitMQ's own scripts (the /usr/sbin wrappers
/// switch to the rabbitmq user and its HOME, which would share its cookie).
const SBIN: &str = "/usr/lib/rabbitmq/bin";
/// How long a node may take to start on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// One AMQP connection attempt. lapin's `Connection::connect` has no
/// deadline of its own, and while a node is down its port (an ephemeral one)
/// has no listener: a loopback connect to it can, rarely, connect the socket
/// to itself (TCP simultaneous open), and lapin then waits forever for a
/// connection.start. An attempt past this is abandoned and tried again.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(5);
/// A connection to a node that is up.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// One test-owned RabbitMQ node.
pub struct BrokerNode {
    /// `name@localhost`, for rabbitmqctl and cluster joins.
    pub name: String,
    pub amqp_port: u16,
    /// Set when the node was started with TLS.
    pub tls_ports: Option<TlsPorts>,
    dist_port: u16,
    dir: PathBuf,
    home: PathBuf,
    /// The node's process group (start script, beam and helpers); killed on drop.
    group: Option<ProcessGroup>,
}

impl BrokerNode {
    /// Starts a standalone node and waits until it takes AMQP connections.
    pub async fn start(root: &Path, label: &str) -> Self {
        let mut node = Self::spawn_new(root, label, &home_in(root));
        node.wait_up().await;
        node
    }

    /// Creates the node's files and starts it, without waiting.
    fn spawn_new(root: &Path, label: &str, home: &Path) -> Self {
        Self::spawn_with(root, label, home, None)
    }

    /// Like `spawn_new`, with TLS listeners when `tls` is given.
    fn spawn_with(root: &Path, label: &str, home: &Path, tls: Option<&NodeTls>) -> Self {
        let name = format!("hrt{}{label}@localhost", std::process::id());
        let dir = root.join(label);
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("enabled_plugins"), "").unwrap();
        std::fs::write(dir.join("env.conf"), "").unwrap();
        let (amqp_port, dist_port) = (free_port(), free_port());
        let tls_ports = tls.map(|_| TlsPorts::free());
        let mut conf = format!(
            "listeners.tcp.local = 127.0.0.1:{amqp_port}\n\
             # a node of a test: quick to give up on absent peers\n\
             mnesia_table_loading_retry_limit = 3\n\
             mnesia_table_loading_retry_timeout = 5000\n"
        );
        if let (Some(tls), Some(ports)) = (tls, tls_ports) {
            conf.push_str(&tls::listeners_conf(tls, ports));
        }
        std::fs::write(dir.join("rabbitmq.conf"), conf).unwrap();
        let mut node = Self {
            name,
            amqp_port,
            tls_ports,
            dist_port,
            dir,
            home: home.to_owned(),
            group: None,
        };
        node.spawn();
        node
    }

    fn env(&self, command: &mut Command) {
        let d = &self.dir;
        command
            .env("HOME", &self.home)
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_PORT", self.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONF_ENV_FILE", d.join("env.conf"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
    }

    fn spawn(&mut self) {
        let mut command = Command::new(Path::new(SBIN).join("rabbitmq-server"));
        self.env(&mut command);
        command.current_dir(&self.dir);
        let out = self.dir.join("server.out");
        self.group = Some(ProcessGroup::spawn(&self.name, command, &out));
    }

    /// `amqp://guest:guest@127.0.0.1:PORT/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.amqp_port)
    }

    /// `127.0.0.1:PORT`, as herald names a node in /readyz and /metrics.
    pub fn label(&self) -> String {
        format!("127.0.0.1:{}", self.amqp_port)
    }

    /// Waits until an AMQP connection to the node opens; a node that exited
    /// meanwhile fails at once, with what it printed.
    pub async fn wait_up(&mut self) {
        if let Err(status) = self.wait_up_or_exit().await {
            panic!(
                "RabbitMQ node {} exited ({status}) before it took connections; it printed:\n{}",
                self.name,
                self.boot_output()
            );
        }
    }

    /// Waits until an AMQP connection to the node opens, or its script exits.
    async fn wait_up_or_exit(&mut self) -> Result<(), ExitStatus> {
        let what = format!(
            "RabbitMQ node {} takes connections; see {}",
            self.name,
            self.dir.join("server.out").display()
        );
        let url = self.url();
        let group = &mut self.group;
        let mut tried = false;
        poll_for(&what, START_DEADLINE, || {
            // Asked after a failed attempt only, as a node that answers is up
            // whatever became of the script that started it.
            let exited = group
                .as_mut()
                .filter(|_| tried)
                .and_then(ProcessGroup::exited);
            tried = true;
            let attempt = exited
                .is_none()
                .then(|| Connection::connect(&url, ConnectionProperties::default()));
            async move {
                let Some(attempt) = attempt else {
                    return exited.map(Err);
                };
                let Ok(Ok(conn)) = tokio::time::timeout(CONNECT_ATTEMPT, attempt).await else {
                    return None;
                };
                conn.close(200, "up".into()).await.ok();
                Some(Ok(()))
            }
        })
        .await
    }

    /// The end of what the node printed at boot: its script's output and its log.
    fn boot_output(&self) -> String {
        let tail = |path: PathBuf| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(30);
            format!("== {}\n{}", path.display(), lines[start..].join("\n"))
        };
        let log = self.dir.join("log").join(format!("{}.log", self.name));
        format!("{}\n{}", tail(self.dir.join("server.out")), tail(log))
    }

    /// A connection to this node.
    pub async fn connect(&self) -> Connection {
        let url = self.url();
        let attempt = Connection::connect(&url, ConnectionProperties::default());
        tokio::time::timeout(CONNECT_DEADLINE, attempt)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "connecting to {}: no answer in {CONNECT_DEADLINE:?}",
                    self.name
                )
            })
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }

    fn signal_group(&self, signal: &str) {
        if let Some(group) = &self.group {
            group.signal(signal);
        }
    }

    /// kill -9 of the node's whole process group, then reaps it and waits
    /// until its port takes no connection. Reaping polls, so the runtime's
    /// workers stay free for the requests the test is driving meanwhile.
    pub async fn kill(&mut self) {
        if let Some(mut group) = self.group.take() {
            group.kill().await;
        }
        let what = format!("node {} takes no connection after kill -9", self.name);
        let port = self.amqp_port;
        poll_until(&what, Duration::from_secs(20), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        })
        .await;
    }

    /// SIGSTOP of the whole group: the node keeps its sockets open and
    /// answers nothing, as a frozen VM or a stalled disk would.
    pub fn freeze(&self) {
        self.signal_group("-STOP");
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.signal_group("-CONT");
    }

    /// Starts a killed node again with its own files and ports, and waits
    /// until it takes connections (a cluster member rejoins its cluster).
    pub async fn restart(&mut self) {
        assert!(self.group.is_none(), "restart of a running node");
        self.spawn();
        if let Err(status) = self.wait_up_or_exit().await {
            // A cluster member started again while its peers settle was seen
            // once to stop at once (exit 0) in many runs: that is RabbitMQ's
            // boot, not what the tests measure. It gets one more start, and
            // what it printed is shown, so a second failure says why.
            eprintln!(
                "broker node {} exited ({status}) while starting again; once more. It printed:\n{}",
                self.name,
                self.boot_output()
            );
            self.group = None;
            self.spawn();
            self.wait_up().await;
        }
    }

    /// `rabbitmqctl -n NODE args...` with the node's cookie; its stdout.
    pub fn ctl(&self, args: &[&str]) -> String {
        let mut command = Command::new(Path::new(SBIN).join("rabbitmqctl"));
        self.env(&mut command);
        let out = command
            .arg("-q")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running rabbitmqctl");
        assert!(
            out.status.success(),
            "rabbitmqctl -n {} {args:?}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Three test-owned nodes joined into one cluster (the first is the seed).
pub struct Cluster {
    pub nodes: Vec<BrokerNode>,
    _root: tempfile::TempDir,
}

impl Cluster {
    /// Starts three nodes at once and joins the second and third to the first.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let home = home_in(root.path());
        let mut nodes: Vec<BrokerNode> = ["a", "b", "c"]
            .iter()
            .map(|label| BrokerNode::spawn_new(root.path(), label, &home))
            .collect();
        for node in &mut nodes {
            node.wait_up().await;
        }
        let seed = nodes[0].name.clone();
        for node in &nodes[1..] {
            node.ctl(&["stop_app"]);
            node.ctl(&["join_cluster", &seed]);
            node.ctl(&["start_app"]);
        }
        for node in &mut nodes {
            node.wait_up().await;
        }
        let running = nodes[0].ctl(&["eval", "length(rabbit_nodes:all_running())."]);
        assert_eq!(running.trim(), "3", "the cluster did not form");
        Self { nodes, _root: root }
    }

    /// Every node's URL, comma-joined as oslo.messaging writes a node list.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(BrokerNode::url).collect()
    }
}

/// A test's own standalone node with its temp dir.
pub struct OwnNode {
    pub node: BrokerNode,
    _root: tempfile::TempDir,
}

impl OwnNode {
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let node = BrokerNode::start(root.path(), "solo").await;
        Self { node, _root: root }
    }
}

/// A HOME with an Erlang cookie of the test's own.
fn home_in(root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = root.join("home");
    let cookie = home.join(".erlang.cookie");
    if !cookie.exists() {
        std::fs::create_dir_all(&home).unwrap();
        let value = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        std::fs::write(&cookie, value).unwrap();
        std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    home
}

/// A loopback port free right now. RabbitMQ binds it itself, so it cannot be
/// handed over; the window for another process to take it is the node's
/// start-up, and a node that cannot bind exits, which `wait_up` reports.
fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// A port free right now on a loopback address.
fn free_port_on(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
