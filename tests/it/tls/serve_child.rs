//! The built `herald serve` as a child process whose log the test reads:
//! where a test must see what serve *logged* (a TLS failure's reason, and
//! that it is not repeated on every attempt).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::support::poll_until;

/// A running `herald serve` and the lines of its log so far.
pub struct ServeChild {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    pub addr: SocketAddr,
}

impl ServeChild {
    /// Writes `config` (TOML; `[http] listen` must be `127.0.0.1:0`) to
    /// `dir`, starts serve on it and waits until it says where it listens.
    pub async fn start(config: &str, dir: &Path) -> Self {
        let path = dir.join("herald-serve.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut serve = Self {
            child,
            log,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        poll_until("serve logs its address", Duration::from_secs(30), || {
            let found = serve.listening();
            async move { found.is_some() }
        })
        .await;
        serve.addr = serve.listening().unwrap();
        serve
    }

    /// The address of serve's "herald serve listening addr=..." line.
    fn listening(&self) -> Option<SocketAddr> {
        self.lines()
            .iter()
            .filter(|l| l.contains("herald serve listening"))
            .flat_map(|l| l.split_whitespace())
            .find_map(|w| w.strip_prefix("addr=").and_then(|a| a.parse().ok()))
    }

    /// `GET path` with an optional `X-Auth-Token`: status (0 when
    /// unreachable) and body as text.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(self.addr).await else {
            return (0, String::new());
        };
        let token = token
            .map(|t| format!("X-Auth-Token: {t}\r\n"))
            .unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: herald\r\n{token}Connection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).await.is_err() {
            return (0, String::new());
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_owned())
    }

    /// A counter or gauge from `/metrics` (0 when absent or unreachable).
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.get("/metrics", None).await;
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// Every line logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Kills serve and returns its log.
    pub async fn stop(mut self) -> Vec<String> {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
        self.lines()
    }
}
