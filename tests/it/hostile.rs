//! Hostile clients against a `herald serve` child process: more idle
//! sockets than `http.max_connections` must not stall `/healthz` nor make
//! serve run out of descriptors; eight clients sending maximum-size and
//! oversize bulk directory bodies must leave serve's peak memory bounded
//! and its resident memory back near steady. Figures are printed, not timed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "hostile-admin";
const DEADLINE: Duration = Duration::from_secs(30);
/// The bulk route's default body limit (`http.max_bulk_body_bytes`).
const MAX_BULK: usize = 262_144;
const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_past_the_cap_neither_stall_healthz_nor_exhaust_descriptors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let serve = Serve::start(
        dir.path(),
        "max_connections = 16\nheader_read_timeout = \"2s\"\n",
    )?;
    let addr = serve.wait_listening().await?;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(
            TcpStream::connect(addr)
                .await
                .context("connect an idle socket")?,
        );
    }
    let started = Instant::now();
    let status = until(DEADLINE, || get(addr, "/healthz")).await?;
    eprintln!(
        "hostile: /healthz answered {status} {:?} after 200 idle sockets (cap 16)",
        started.elapsed()
    );
    let metrics = get_body(addr, "/metrics").await?;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("herald_http_connections"))
    {
        eprintln!("hostile: {line}");
    }
    ensure!(
        metrics.contains("herald_http_connections_evicted_total"),
        "no eviction counter"
    );
    drop(idle);
    let log = serve.stop()?;
    ensure!(
        !log.iter()
            .any(|l| l.contains("Too many open files") || l.contains("accept failed")),
        "serve logged a descriptor error"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_abuse_keeps_memory_bounded() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let serve = Serve::start(dir.path(), "")?;
    let addr = serve.wait_listening().await?;
    until(DEADLINE, || get(addr, "/healthz")).await?;
    let pid = serve.pid();
    eprintln!(
        "hostile: serve RSS at start {} MiB",
        status_kib(pid, "VmRSS")? / 1024
    );
    let full = Arc::new(bulk_body(MAX_BULK));
    let oversize = Arc::new(vec![b'{'; 8 * 1024 * 1024]);
    let mut clients = Vec::new();
    for client in 0..8 {
        let (full, oversize) = (Arc::clone(&full), Arc::clone(&oversize));
        clients.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for round in 0..6 {
                let body = if (client + round) % 2 == 0 {
                    &full
                } else {
                    &oversize
                };
                codes.push(post_bulk(addr, body).await.unwrap_or(0));
            }
            codes
        }));
    }
    let mut codes = Vec::new();
    for client in clients {
        codes.extend(client.await?);
    }
    eprintln!("hostile: bulk answers {codes:?}");
    ensure!(
        codes.contains(&200) && codes.contains(&413),
        "both sizes answered: {codes:?}"
    );
    let hwm = status_kib(pid, "VmHWM")? * 1024;
    let settled = until(DEADLINE, || async {
        let rss = status_kib(pid, "VmRSS")? * 1024;
        if rss <= 64 * MIB {
            Ok(rss)
        } else {
            bail!("RSS {} MiB", rss / MIB)
        }
    })
    .await;
    eprintln!(
        "hostile: serve VmHWM {} MiB, RSS after {:?}",
        hwm / MIB,
        settled.as_ref().map(|r| r / MIB)
    );
    serve.stop()?;
    ensure!(hwm <= 256 * MIB, "peak RSS {} MiB over 256 MiB", hwm / MIB);
    settled.context("RSS did not settle at or under 64 MiB")?;
    Ok(())
}

/// A bulk upsert body of 1000 entries padded to just under `limit` bytes.
fn bulk_body(limit: usize) -> Vec<u8> {
    let entry = |i: usize, pad: usize| {
        let uuid = uuid::Uuid::from_u128(i as u128 + 1);
        format!(
            r#"{{"uuid":"{uuid}","host":"h{i:04}{}","migration":null}}"#,
            "x".repeat(pad)
        )
    };
    let bare = 20 + 1000 * (entry(0, 0).len() + 1);
    let pad = ((limit - bare) / 1000).min(190);
    let entries: Vec<String> = (0..1000).map(|i| entry(i, pad)).collect();
    format!(r#"{{"servers":[{}]}}"#, entries.join(",")).into_bytes()
}

async fn post_bulk(addr: SocketAddr, body: &[u8]) -> Result<u16> {
    let head = format!(
        "POST /directory/servers HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    // An oversize body is refused part-way: the write may fail, the answer is still there.
    let _ = stream.write_all(body).await;
    status_of(&mut stream).await
}

async fn get(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = request(addr, path).await?;
    status_of(&mut stream).await
}

async fn get_body(addr: SocketAddr, path: &str) -> Result<String> {
    let mut stream = request(addr, path).await?;
    let mut all = String::new();
    stream.read_to_string(&mut all).await?;
    Ok(all)
}

async fn request(addr: SocketAddr, path: &str) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

async fn status_of(stream: &mut TcpStream) -> Result<u16> {
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    let text = std::str::from_utf8(&head[9..12])?;
    Ok(text.parse()?)
}

/// Retries `attempt` until it succeeds or `deadline` passes.
async fn until<T, F, Fut>(deadline: Duration, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        let error = match tokio::time::timeout(Duration::from_secs(5), attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(_) => anyhow::anyhow!("attempt timed out"),
        };
        if Instant::now() >= end {
            return Err(error.context(format!("not within {deadline:?}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A field of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .with_context(|| format!("{field} in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("a number")?
        .parse()?)
}

/// `herald serve` as a child process with its log collected.
struct Serve {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts serve with SQLite in `dir`, a broker that is not there (these
    /// tests need none, and so declare nothing), and `http` added to `[http]`.
    fn start(dir: &Path, http: &str) -> Result<Self> {
        let config = dir.join("herald.toml");
        let sqlite = dir.join("herald.sqlite3");
        std::fs::write(
            &config,
            format!(
                "[http]\nlisten = \"127.0.0.1:0\"\n{http}\n[auth]\nmode = \"token\"\n\n\
                 [[auth.tokens]]\ntoken = \"{TOKEN}\"\nroles = [\"admin\"]\n\n\
                 [amqp]\nurl = \"amqp://guest:guest@127.0.0.1:1/%2f\"\n\n\
                 [directory]\nbackend = \"sqlite\"\nurl = {sqlite:?}\n\n[log]\nlevel = \"info\"\n",
                sqlite = sqlite.display().to_string(),
            ),
        )?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("start herald serve")?;
        let stderr = child.stderr.take().context("serve's stderr")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Ok(Self { child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address from serve's "herald serve listening addr=..." line.
    async fn wait_listening(&self) -> Result<SocketAddr> {
        until(DEADLINE, || async {
            let log = self.log.lock().unwrap();
            log.iter()
                .filter(|l| l.contains("herald serve listening"))
                .flat_map(|l| l.split_whitespace())
                .find_map(|w| w.strip_prefix("addr=").and_then(|a| a.parse().ok()))
                .context("serve has not said where it listens")
        })
        .await
    }

    /// Kills serve and returns its log.
    fn stop(mut self) -> Result<Vec<String>> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(self.log.lock().unwrap().clone())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
