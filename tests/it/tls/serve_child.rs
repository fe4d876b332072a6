//! The built `herald serve` as a child process whose log the test reads:
//! where a test must see what serve *logged* (a TLS failure's reason, and
//! that it is not repeated on every attempt). The harness's [`HeraldChild`]
//! on a TOML config of the test's writing (the TLS keys as users write them).

use std::net::SocketAddr;

use serde_json::Value;

use crate::support::HeraldChild;
use crate::support::child::HeraldCommand;
use crate::support::http::get_with;

/// A running `herald serve` and where it listens.
pub struct ServeChild {
    child: HeraldChild,
    pub addr: SocketAddr,
}

impl ServeChild {
    /// Starts serve on `config` (TOML; `[http] listen` must be
    /// `127.0.0.1:0`) and waits until it listens.
    pub async fn start(config: &str) -> Self {
        let mut child = HeraldCommand::new(&["serve"]).config_text(config).spawn();
        let addr = child.addr().await;
        Self { child, addr }
    }

    /// `GET path` with an optional `X-Auth-Token`: status (0 when
    /// unreachable) and body as text.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let token: Vec<_> = token.map(|t| ("x-auth-token", t)).into_iter().collect();
        let (status, body) = get_with(self.addr, path, &token).await;
        let text = match body {
            Value::String(text) => text,
            Value::Null => String::new(),
            json => json.to_string(),
        };
        (status, text)
    }

    /// A counter or gauge from `/metrics` (0 when absent or unreachable).
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.get("/metrics", None).await;
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// Kills serve and returns its log.
    pub async fn stop(mut self) -> Vec<String> {
        self.child.kill().await;
        self.child.log()
    }
}
