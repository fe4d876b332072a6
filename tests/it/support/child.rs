//! The built `herald` binary as a child process: `serve` or `agent` on a
//! config of the test's making (or a file of the repository's, with
//! `HERALD__…` overrides), its address read back from the kernel
//! ([`super::listening`]), its log collected, its stdout's JSON lines
//! forwarded on demand, stopped by signal. Killed if the test ends first.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald::config::Config;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

use super::listening::listening;
use super::names::write_config;
use super::raw::read_to_close;
use super::{get, poll_for, within};

/// How long a child may take to listen, answer, or exit once told to.
const DEADLINE: Duration = Duration::from_secs(40);

/// Stdout's JSON lines, as [`HeraldChild::lines`] hands them on.
pub type Lines = mpsc::UnboundedReceiver<Value>;

/// The next line of `lines`, within the deadline.
pub async fn next_line(lines: &mut Lines) -> Value {
    within(DEADLINE, "herald prints a line", lines.recv())
        .await
        .expect("its stdout is open")
}

/// `herald check-config` on `config` (TOML as a user writes it), to its
/// end: whether it passed, and its stderr.
pub fn check_config(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, config).expect("the temp dir is writable");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .env_remove("PGSSLMODE")
        .output()
        .expect("the herald binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr)
}

/// `herald <args>` about to start.
pub struct HeraldCommand {
    command: Command,
    dir: tempfile::TempDir,
}

impl HeraldCommand {
    pub fn new(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let dir = tempfile::tempdir().expect("a temp dir");
        Self { command, dir }
    }

    /// `--config` with `config` written as TOML into the child's temp dir.
    pub fn config(self, config: &Config) -> Self {
        let path = write_config(config, self.dir.path());
        self.config_file(&path)
    }

    /// `--config` with `text` (TOML written as a user would) in the child's temp dir.
    pub fn config_text(self, text: &str) -> Self {
        let path = self.dir.path().join("herald.toml");
        std::fs::write(&path, text).expect("the temp dir is writable");
        self.config_file(&path)
    }

    /// `--config path`.
    pub fn config_file(mut self, path: &Path) -> Self {
        self.command.arg("--config").arg(path);
        self
    }

    /// A `HERALD__…` override (or any other variable).
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn spawn(mut self) -> HeraldChild {
        let mut process = self.command.spawn().expect("the herald binary starts");
        let stderr = process.stderr.take().expect("stderr is piped");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&log);
        // Collects the log, and passes it through to the test's own output.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("{line}");
                sink.lock().expect("the log lock").push(line);
            }
        });
        HeraldChild {
            stdout: process.stdout.take(),
            process,
            log,
            addr: None,
            _dir: self.dir,
        }
    }
}

/// A running `herald` child process.
pub struct HeraldChild {
    process: Child,
    stdout: Option<ChildStdout>,
    log: Arc<Mutex<Vec<String>>>,
    addr: Option<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl HeraldChild {
    /// `herald serve` on `config`.
    pub fn serve(config: &Config) -> Self {
        HeraldCommand::new(&["serve"]).config(config).spawn()
    }

    /// `herald agent --host host` on `config`.
    pub fn agent(config: &Config, host: &str) -> Self {
        HeraldCommand::new(&["agent", "--host", host])
            .config(config)
            .spawn()
    }

    pub fn pid(&self) -> u32 {
        self.process.id().expect("the child has not been reaped")
    }

    /// Its log (stderr) so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("the log lock").clone()
    }

    /// How many log lines so far (a `from` for [`Self::wait_for_log`]).
    pub fn log_len(&self) -> usize {
        self.log.lock().expect("the log lock").len()
    }

    /// Waits until a log line from the `from`th on contains `needle`; that
    /// line, parsed when it is JSON (`log.format = "json"`), else a string.
    pub async fn wait_for_log(&self, from: usize, needle: &str) -> Value {
        let what = format!("herald logs {needle:?}");
        let line = poll_for(&what, DEADLINE, || {
            let log = self.log.lock().expect("the log lock");
            let found = log.iter().skip(from).find(|l| l.contains(needle)).cloned();
            std::future::ready(found)
        })
        .await;
        serde_json::from_str(&line).unwrap_or(Value::String(line))
    }

    /// Panics with the log when the child has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.process.try_wait().expect("try_wait") {
            panic!(
                "herald exited ({status}); its log:\n{}",
                self.log().join("\n")
            );
        }
    }

    /// The one address it listens on (serve's `http.listen`, an agent's
    /// `agent.waiter_listen`), once it does.
    pub async fn addr(&mut self) -> SocketAddr {
        if let Some(addr) = self.addr {
            return addr;
        }
        let pid = self.pid();
        let addr = poll_for("herald listens", DEADLINE, || {
            self.assert_running();
            let found = listening(pid).first().copied();
            async move { found }
        })
        .await;
        self.addr = Some(addr);
        addr
    }

    /// Waits until `GET path` answers 200 (`/healthz`, `/readyz`).
    pub async fn wait_ok(&mut self, path: &str) -> SocketAddr {
        let addr = self.addr().await;
        let what = format!("herald answers 200 to GET {path} on {addr}");
        poll_for(&what, DEADLINE, || {
            self.assert_running();
            async move { (get(addr, path).await.0 == 200).then_some(()) }
        })
        .await;
        addr
    }

    /// Its stdout, one parsed JSON line at a time (only JSON lines allowed).
    pub fn lines(&mut self) -> Lines {
        let stdout = self.stdout.take().expect("stdout is read once");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout holds only JSON lines: {e}: {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Everything on its stdout up to its end (read nothing before: an
    /// unread pipe fills, and a full one holds the child up).
    pub async fn stdout_to_end(&mut self) -> String {
        let mut stdout = self.stdout.take().expect("stdout is read once");
        read_to_close(&mut stdout).await
    }

    /// Sends `signal` (`-TERM`, `-KILL`, …) to the child.
    pub async fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.pid());
    }

    /// Waits for it to exit.
    pub async fn wait(&mut self) -> ExitStatus {
        within(DEADLINE, "herald exits", self.process.wait())
            .await
            .expect("wait works")
    }

    /// SIGTERM, and its exit.
    pub async fn stop(&mut self) -> ExitStatus {
        self.signal("-TERM").await;
        self.wait().await
    }

    /// SIGKILL, and its exit.
    pub async fn kill(&mut self) {
        self.process.start_kill().expect("the child can be killed");
        self.wait().await;
    }
}
