//! The built `herald agent` as a child process with a config of the test's
//! making, its stdout lines parsed and forwarded to a channel.

use std::path::Path;
use std::process::Stdio;

use herald::broker::AmqpConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Starts `herald agent --host host` on `amqp`'s names with `url_toml` (a
/// TOML value: a string or an array of node URLs) and extra `[agent]` lines.
pub fn spawn(
    amqp: &AmqpConfig,
    url_toml: &str,
    host: &str,
    agent_toml: &str,
    dir: &Path,
) -> (Child, mpsc::UnboundedReceiver<serde_json::Value>) {
    let toml = format!(
        "[auth]\nmode = \"noauth\"\n\n[amqp]\nurl = {url_toml}\nexchange = \"{}\"\n\
         routing_prefix = \"{}\"\nqueue_prefix = \"{}\"\n\
         reconnect_min_backoff = \"50ms\"\nreconnect_max_backoff = \"500ms\"\n\n\
         [agent]\nwaiter_listen = \"127.0.0.1:0\"\n{agent_toml}\n",
        amqp.exchange, amqp.routing_prefix, amqp.queue_prefix
    );
    let path = dir.join("herald-agent.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["agent", "--config"])
        .arg(&path)
        .args(["--host", host])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
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
    (child, rx)
}
