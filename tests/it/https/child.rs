//! The built `herald serve` as a child process (serving HTTPS when given a
//! pair), its stderr (JSON log lines) collected so a test can wait for a
//! line and read the address it listens on.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::certs::PairFiles;
use super::in_process::absent_broker;
use crate::support::poll_until;

pub struct ServeChild {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl ServeChild {
    /// Starts `herald serve` on 127.0.0.1:0 with `pair`; waits until it listens.
    pub async fn start(dir: &Path, pair: &PairFiles) -> Self {
        let tls = format!(
            "[http.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            pair.cert.display().to_string(),
            pair.key.display().to_string(),
        );
        Self::start_with(dir, "", &tls).await
    }

    /// Starts `herald serve` on 127.0.0.1:0 with `http_toml` lines in its
    /// `[http]` table and `tables` (e.g. `[http.tls]`) after it.
    pub async fn start_with(dir: &Path, http_toml: &str, tables: &str) -> Self {
        let config = format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n{http_toml}\n{tables}\n\
             [auth]\nmode = \"noauth\"\n\
             [amqp]\nurl = \"{}\"\n\
             [directory]\nurl = {:?}\n\
             [log]\nformat = \"json\"\nlevel = \"info\"\n",
            absent_broker(),
            dir.join("directory.sqlite3").display().to_string(),
        );
        let path = dir.join("herald-serve.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let log: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let parsed = serde_json::from_str(&line);
                    let value = parsed.unwrap_or(serde_json::Value::String(line));
                    log.lock().unwrap().push(value);
                }
            }
        });
        let mut serve = Self {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
        };
        let listening = serve.wait_for_log(0, "herald serve listening").await;
        serve.addr = listening["fields"]["addr"]
            .as_str()
            .and_then(|addr| addr.parse().ok())
            .expect("the listening line names the address");
        serve
    }

    /// The first log line from the `from`th on whose message contains `message`.
    fn find_log(&self, from: usize, message: &str) -> Option<serde_json::Value> {
        let log = self.log.lock().unwrap();
        log.iter()
            .skip(from)
            .find(|line| {
                line["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(message))
            })
            .cloned()
    }

    /// Waits (with a deadline) until a log line from the `from`th on has a
    /// message containing `message`; that line.
    pub async fn wait_for_log(&self, from: usize, message: &str) -> serde_json::Value {
        poll_until(
            &format!("serve logs {message:?}"),
            Duration::from_secs(20),
            || async { self.find_log(from, message).is_some() },
        )
        .await;
        self.find_log(from, message).expect("just seen")
    }

    /// How many log lines so far (a `from` for [`Self::wait_for_log`]).
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Sends SIGHUP to the child (the `kill` command: no libc in the tests).
    pub async fn hangup(&self) {
        let pid = self.child.id().expect("the child runs").to_string();
        let status = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -HUP {pid}");
    }

    /// SIGTERM, then waits for the child to exit (killed after a deadline).
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("the child runs").to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
            panic!("serve did not stop within 20 s of SIGTERM");
        }
    }
}
