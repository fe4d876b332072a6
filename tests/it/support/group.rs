//! A service a test starts outside herald (a RabbitMQ node, a Keystone,
//! nova-compute…) as a process group of its own: the script or master and
//! whatever it starts get every signal together and nothing else does;
//! signalled by the group's id, never by name; reaped; killed on drop.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::poll::{poll, poll_until};

/// A running process group, led by the process the test started.
pub struct ProcessGroup {
    name: String,
    leader: Option<Child>,
    /// Sent on drop before SIGKILL, with up to 10 s to exit (`-QUIT` asks
    /// PostgreSQL to stop at once and free its shared memory).
    on_drop: Option<&'static str>,
}

impl ProcessGroup {
    /// Starts `command` as the leader of a new group, its stdout and
    /// stderr appended to `out`.
    pub fn spawn(name: &str, mut command: Command, out: &Path) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .unwrap_or_else(|e| panic!("{}: {e}", out.display()));
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("the output file"))
            .stderr(file)
            .process_group(0);
        let leader = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name: name.to_owned(),
            leader: Some(leader),
            on_drop: None,
        }
    }

    /// On drop, `signal` first, and SIGKILL only if the leader has not
    /// exited 10 s later.
    pub fn on_drop(mut self, signal: &'static str) -> Self {
        self.on_drop = Some(signal);
        self
    }

    /// What the test calls it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The leader's pid (the group's id).
    pub fn pid(&self) -> u32 {
        self.leader.as_ref().expect("the group runs").id()
    }

    /// Sends `signal` (`-STOP`, `-TERM`…) to every process of the group.
    pub fn signal(&self, signal: &str) {
        if let Some(leader) = &self.leader {
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", leader.id())])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Whether the leader has exited (and was reaped), with its status.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.leader
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL to the group, then waits (polling, so the runtime's workers
    /// stay free) until the leader is reaped.
    pub async fn kill(&mut self) {
        self.signal("-CONT");
        self.signal("-KILL");
        let what = format!("{} exits after kill -9", self.name);
        poll_until(&what, Duration::from_secs(20), || {
            std::future::ready(self.leader.is_none() || self.exited().is_some())
        })
        .await;
        self.leader = None;
    }

    /// SIGTERM, up to `grace` for the leader to exit, then [`kill`](Self::kill).
    pub async fn stop(&mut self, grace: Duration) {
        self.signal("-TERM");
        let exited = poll(|| std::future::ready(self.exited().map(|_| ())));
        // Past the grace, the group is killed: not a failure.
        let _ = tokio::time::timeout(grace, exited).await;
        self.kill().await;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(mut leader) = self.leader.take() else {
            return;
        };
        let group = format!("-{}", leader.id());
        let signal = |signal: &str| {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-CONT");
        let Some(first) = self.on_drop else {
            signal("-KILL");
            let _ = leader.wait();
            return;
        };
        signal(first);
        // Drop cannot await: the leader is reaped on a thread, and killed
        // if it has not exited when the wait for that thread ends.
        let (exited, reaped) = std::sync::mpsc::channel();
        let reaper = std::thread::spawn(move || {
            let _ = leader.wait();
            let _ = exited.send(());
        });
        if reaped.recv_timeout(Duration::from_secs(10)).is_err() {
            signal("-KILL");
        }
        let _ = reaper.join();
    }
}
