//! Hostile clients against a `herald serve` child process: more idle
//! sockets than `http.max_connections` must not stall `/healthz` nor make
//! serve run out of descriptors; eight clients sending maximum-size and
//! oversize bulk directory bodies must leave serve's peak memory bounded
//! and its resident memory back near steady. Figures are printed, not timed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use herald::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ADMIN_TOKEN, HeraldChild, get, poll_for, serve_config};

const DEADLINE: Duration = Duration::from_secs(30);
/// The bulk route's default body limit (`http.max_bulk_body_bytes`).
const MAX_BULK: usize = 262_144;
const MIB: u64 = 1024 * 1024;

/// Serve as a child on the test's config with the default HTTP settings,
/// `adjust`ed, and a broker that is not there (these tests need none, and
/// so declare nothing); its address once `/healthz` answers. `dir` holds
/// its SQLite file.
async fn serve(
    dir: &tempfile::TempDir,
    adjust: impl FnOnce(&mut Config),
) -> (HeraldChild, SocketAddr) {
    let mut config = serve_config(dir.path());
    let listen = config.http.listen;
    config.http = Config::default().http;
    config.http.listen = listen;
    config.amqp.url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    adjust(&mut config);
    let mut serve = HeraldChild::serve(&config);
    let addr = serve.wait_ok("/healthz").await;
    (serve, addr)
}

/// The status of `GET path`, polled until it answers within 5 s.
async fn status_within(addr: SocketAddr, path: &str, limit: Duration) -> u16 {
    poll_for(&format!("{path} answers"), limit, || async {
        let attempt = tokio::time::timeout(Duration::from_secs(5), get(addr, path)).await;
        attempt.ok().map(|(status, _)| status).filter(|s| *s != 0)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_past_the_cap_neither_stall_healthz_nor_exhaust_descriptors() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (mut serve, addr) = serve(&dir, |c| {
        c.http.max_connections = Some(16);
        c.http.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(
            TcpStream::connect(addr)
                .await
                .expect("an idle socket connects"),
        );
    }
    let started = Instant::now();
    let status = status_within(addr, "/healthz", DEADLINE).await;
    eprintln!(
        "hostile: /healthz answered {status} {:?} after 200 idle sockets (cap 16)",
        started.elapsed()
    );
    let (_, metrics) = get(addr, "/metrics").await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("herald_http_connections"))
    {
        eprintln!("hostile: {line}");
    }
    assert!(
        metrics.contains("herald_http_connections_evicted_total"),
        "no eviction counter"
    );
    drop(idle);
    serve.kill().await;
    assert!(
        !serve
            .log()
            .iter()
            .any(|l| l.contains("Too many open files") || l.contains("accept failed")),
        "serve logged a descriptor error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_abuse_keeps_memory_bounded() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut serve, addr) = serve(&dir, |_| {}).await;
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
    eprintln!("hostile: serve VmHWM {} MiB", hwm / MIB);
    let settled = poll_for(
        "serve's RSS is at or under 64 MiB again",
        DEADLINE,
        || async {
            let rss = status_kib(pid, "VmRSS").ok()? * 1024;
            (rss <= 64 * MIB).then_some(rss)
        },
    )
    .await;
    eprintln!("hostile: serve RSS after {} MiB", settled / MIB);
    serve.kill().await;
    assert!(hwm <= 256 * MIB, "peak RSS {} MiB over 256 MiB", hwm / MIB);
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
        "POST /directory/servers HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    // An oversize body is refused part-way: the write may fail, the answer is still there.
    let _ = stream.write_all(body).await;
    status_of(&mut stream).await
}

async fn status_of(stream: &mut TcpStream) -> Result<u16> {
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    let text = std::str::from_utf8(&head[9..12])?;
    Ok(text.parse()?)
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
