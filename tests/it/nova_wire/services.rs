//! An unmodified nova-compute (fake virt driver) with a real nova-conductor
//! and a placement stub of the tests' own (`tests/nova/placement_stub.py`),
//! as the probe ran them (`reference/nova-probe/`): each in a process group
//! of its own, stopped by that group's id (TERM, then KILL), never by name;
//! their files in a temp dir that goes with them. Ready means the broker
//! shows a consumer on the conductor's queue and on both of the compute's
//! (`compute.<host>` and `compute-alt.<host>`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lapin::Connection;

use crate::support::broker::queue_now;
use crate::support::group::ProcessGroup;
use crate::support::parts::NovaVenv;
use crate::support::poll::poll;
use crate::support::poll_until;

/// How long a service may take to come up on a loaded two-core machine.
const START_DEADLINE: Duration = Duration::from_secs(180);

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

/// nova-conductor, nova-compute and the placement stub, running.
pub struct NovaServices {
    services: Vec<ProcessGroup>,
    dir: tempfile::TempDir,
}

impl NovaServices {
    /// Starts the stub, then the conductor, then the compute, and waits
    /// until the broker shows each consuming.
    pub async fn start(nova: &NovaVenv, setup: &Setup<'_>, broker: &Connection) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut services = Self {
            services: Vec::new(),
            dir,
        };
        let port = services.start_placement(nova).await;
        let d = services.dir.path().to_owned();
        services.spawn(nova, "nova-conductor", &conductor_conf(setup, &d, port));
        services.wait_consumed(broker, "conductor").await;
        services.spawn(nova, "nova-compute", &compute_conf(setup, &d, port));
        for topic in ["compute", "compute-alt"] {
            let queue = format!("{topic}.{}", setup.host);
            services.wait_consumed(broker, &queue).await;
        }
        services
    }

    /// Starts the venv's `service` (`nova-compute`…) on the config `conf`.
    fn spawn(&mut self, nova: &NovaVenv, service: &'static str, conf: &str) {
        let d = self.dir.path();
        let path = d.join(format!("{service}.conf"));
        std::fs::write(&path, conf).unwrap();
        let mut command = Command::new(nova.bin.join(service));
        command.arg("--config-file").arg(&path);
        let out = d.join(format!("{}.out", service.trim_start_matches("nova-")));
        self.services
            .push(ProcessGroup::spawn(service, command, &out));
    }

    async fn start_placement(&mut self, nova: &NovaVenv) -> u16 {
        let out = self.dir.path().join("placement.out");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nova/placement_stub.py");
        let mut command = Command::new(&nova.python);
        command.arg(script);
        self.services
            .push(ProcessGroup::spawn("placement stub", command, &out));
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

    /// Waits until `queue` has a consumer, failing early (with the services'
    /// output) if a service exits, or at [`START_DEADLINE`].
    async fn wait_consumed(&mut self, broker: &Connection, queue: &str) {
        let dir = self.dir.path().to_owned();
        let consumed = poll(|| {
            let gone = self
                .services
                .iter_mut()
                .find_map(|s| s.exited().map(|status| format!("{} ({status})", s.name())));
            if let Some(gone) = gone {
                panic!("{gone} exited while starting:\n{}", output_tail(&dir));
            }
            async move {
                let consumers = queue_now(broker, queue).await.map(|q| q.consumer_count());
                consumers.filter(|n| *n > 0).map(|_| ())
            }
        });
        if tokio::time::timeout(START_DEADLINE, consumed)
            .await
            .is_err()
        {
            let tail = output_tail(self.dir.path());
            panic!("no consumer on {queue} after {START_DEADLINE:?}:\n{tail}");
        }
    }

    /// nova-compute's log so far.
    pub fn compute_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nova-compute.log")).unwrap_or_default()
    }

    /// Stops every service, the compute first: TERM, up to 10 s, then KILL.
    pub async fn stop(mut self) {
        while let Some(mut service) = self.services.pop() {
            service.stop(Duration::from_secs(10)).await;
        }
    }
}

/// The last lines each service wrote in `dir`, for a failure message.
fn output_tail(dir: &Path) -> String {
    let mut text = String::new();
    for name in [
        "placement.out",
        "conductor.out",
        "compute.out",
        "nova-conductor.log",
        "nova-compute.log",
    ] {
        let all = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        let lines: Vec<&str> = all.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        text.push_str(&format!("--- {name} (last lines)\n{tail}\n"));
    }
    text
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
