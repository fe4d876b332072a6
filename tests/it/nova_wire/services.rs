//! An unmodified nova-compute (fake virt driver) with a real nova-conductor
//! and a placement stub of the tests' own (`tests/nova/placement_stub.py`),
//! as the probe ran them (`reference/nova-probe/`): each in a process group
//! of its own, stopped by that group's id (TERM, then KILL), never by name;
//! their files in a temp dir that goes with them. Ready means the broker
//! shows a consumer on the conductor's queue and on both of the compute's
//! (`compute.<host>` and `compute-alt.<host>`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

use crate::support::poll_until;

/// How long a service may take to come up on a loaded two-core machine.
const START_DEADLINE: Duration = Duration::from_secs(180);

/// Where the nova venv is, from `scripts/nova.sh`.
pub struct NovaBin {
    pub python: PathBuf,
    pub bin: PathBuf,
}

impl NovaBin {
    /// The venv, or a visible skip (a failure under `CI=true`).
    pub fn find() -> Option<Self> {
        let python = std::env::var("HERALD_TEST_NOVA_PYTHON")
            .ok()
            .map(PathBuf::from);
        let bin = std::env::var("HERALD_TEST_NOVA_BIN")
            .ok()
            .map(PathBuf::from);
        if let (Some(python), Some(bin)) = (python, bin)
            && bin.join("nova-compute").exists()
            && bin.join("nova-conductor").exists()
        {
            return Some(Self { python, bin });
        }
        let why = "HERALD_TEST_NOVA_PYTHON/HERALD_TEST_NOVA_BIN are not set: run scripts/test.sh, \
                   which installs nova in .venv-nova";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        None
    }
}

/// What the services are pointed at.
pub struct Setup<'a> {
    /// oslo's transport URL of the cell's broker.
    pub transport_url: &'a str,
    /// `control_exchange`: a name of the test's own.
    pub exchange: &'a str,
    /// Nova's API and cell databases, SQLAlchemy URLs (the conductor's).
    pub api_db: &'a str,
    pub cell_db: &'a str,
    /// The compute host's name.
    pub host: &'a str,
}

/// One running service: its process group.
struct Service {
    name: &'static str,
    group: Option<Child>,
}

impl Service {
    fn spawn(name: &'static str, mut command: Command, out: &Path) -> Self {
        let file = std::fs::File::create(out).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0);
        let group = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name,
            group: Some(group),
        }
    }

    /// The group's processes, signalled by the group id (the leader's pid).
    fn signal(&self, signal: &str) {
        if let Some(child) = &self.group {
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
        }
    }

    fn exited(&mut self) -> bool {
        self.group
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// TERM, up to 10 s to go, then KILL; reaped either way.
    async fn stop(&mut self) {
        self.signal("-TERM");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.exited() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.signal("-KILL");
        if let Some(mut child) = self.group.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.signal("-KILL");
        if let Some(mut child) = self.group.take() {
            let _ = child.wait();
        }
    }
}

/// nova-conductor, nova-compute and the placement stub, running.
pub struct NovaServices {
    services: Vec<Service>,
    dir: tempfile::TempDir,
}

impl NovaServices {
    /// Starts the stub, then the conductor, then the compute, and waits
    /// until the broker shows each consuming.
    pub async fn start(nova: &NovaBin, setup: &Setup<'_>, broker: &Connection) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut services = Self {
            services: Vec::new(),
            dir,
        };
        let port = services.start_placement(nova).await;
        let d = services.dir.path().to_owned();
        let conductor = d.join("conductor.conf");
        std::fs::write(&conductor, conductor_conf(setup, &d, port)).unwrap();
        let mut command = Command::new(nova.bin.join("nova-conductor"));
        command.arg("--config-file").arg(&conductor);
        services.services.push(Service::spawn(
            "nova-conductor",
            command,
            &d.join("conductor.out"),
        ));
        services.wait_consumed(broker, "conductor").await;
        let compute = d.join("compute.conf");
        std::fs::write(&compute, compute_conf(setup, &d, port)).unwrap();
        let mut command = Command::new(nova.bin.join("nova-compute"));
        command.arg("--config-file").arg(&compute);
        services.services.push(Service::spawn(
            "nova-compute",
            command,
            &d.join("compute.out"),
        ));
        for topic in ["compute", "compute-alt"] {
            let queue = format!("{topic}.{}", setup.host);
            services.wait_consumed(broker, &queue).await;
        }
        services
    }

    async fn start_placement(&mut self, nova: &NovaBin) -> u16 {
        let out = self.dir.path().join("placement.out");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nova/placement_stub.py");
        let mut command = Command::new(&nova.python);
        command.arg(script);
        self.services
            .push(Service::spawn("placement stub", command, &out));
        let mut port = 0;
        poll_until(
            "the placement stub says its port",
            Duration::from_secs(30),
            || {
                let text = std::fs::read_to_string(&out).unwrap_or_default();
                port = serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap_or(""))
                    .ok()
                    .and_then(|v| v["port"].as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0);
                async move { port != 0 }
            },
        )
        .await;
        port
    }

    /// Waits until `queue` has a consumer, failing early (with the service's
    /// output) if a service exits.
    async fn wait_consumed(&mut self, broker: &Connection, queue: &str) {
        let channel = broker.create_channel().await.unwrap();
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            let gone = self
                .services
                .iter_mut()
                .find_map(|s| s.exited().then_some(s.name));
            if let Some(name) = gone {
                panic!("{name} exited while starting:\n{}", self.output_tail());
            }
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            // A missing queue closes the channel: ask on a fresh one.
            let channel = if channel.status().connected() {
                channel.clone()
            } else {
                broker.create_channel().await.unwrap()
            };
            if let Ok(q) = channel
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
                && q.consumer_count() > 0
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no consumer on {queue} after {START_DEADLINE:?}:\n{}",
                self.output_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// nova-compute's log so far.
    pub fn compute_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nova-compute.log")).unwrap_or_default()
    }

    /// The last lines each service wrote, for a failure message.
    pub fn output_tail(&self) -> String {
        let mut text = String::new();
        for name in [
            "placement.out",
            "conductor.out",
            "compute.out",
            "nova-conductor.log",
            "nova-compute.log",
        ] {
            let all = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = all.lines().collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            text.push_str(&format!("--- {name} (last lines)\n{tail}\n"));
        }
        text
    }

    /// Stops every service, the compute first.
    pub async fn stop(mut self) {
        while let Some(mut service) = self.services.pop() {
            service.stop().await;
        }
    }
}

/// What conductor and compute share.
fn common(setup: &Setup<'_>, dir: &Path, log: &str, placement: u16) -> String {
    let d = dir.display();
    // Neutron and Cinder are never reached in these tests; port 9 refuses.
    format!(
        "[DEFAULT]\n\
         transport_url = {transport}\n\
         control_exchange = {exchange}\n\
         debug = True\n\
         log_file = {d}/{log}\n\
         rpc_response_timeout = 30\n\
         [oslo_concurrency]\nlock_path = {d}/lock\n\
         [oslo_messaging_notifications]\ndriver = noop\n\
         [notifications]\nnotification_format = unversioned\n\
         [placement]\nauth_type = none\nendpoint_override = http://127.0.0.1:{placement}\n\
         [neutron]\nauth_type = none\nendpoint_override = http://127.0.0.1:9\n\
         [cinder]\nauth_type = none\nendpoint_override = http://127.0.0.1:9\n",
        transport = setup.transport_url,
        exchange = setup.exchange,
    )
}

fn conductor_conf(setup: &Setup<'_>, dir: &Path, placement: u16) -> String {
    format!(
        "{}[api_database]\nconnection = {}\n[database]\nconnection = {}\n\
         [conductor]\nworkers = 1\n",
        common(setup, dir, "nova-conductor.log", placement).replacen(
            "[DEFAULT]\n",
            &format!("[DEFAULT]\nstate_path = {}/state\n", dir.display()),
            1
        ),
        setup.api_db,
        setup.cell_db,
    )
}

fn compute_conf(setup: &Setup<'_>, dir: &Path, placement: u16) -> String {
    let d = dir.display();
    // No periodic power-state sync or cache healing: they would act on the
    // test's instances, which the fake driver does not know.
    let extra = format!(
        "[DEFAULT]\nhost = {host}\ncompute_driver = fake.FakeDriver\n\
         state_path = {d}/state-compute\ninstances_path = {d}/state-compute/instances\n\
         sync_power_state_interval = -1\nheal_instance_info_cache_interval = -1\n",
        host = setup.host
    );
    common(setup, dir, "nova-compute.log", placement).replacen("[DEFAULT]\n", &extra, 1)
}
