//! A TCP proxy the test controls, to simulate a broker outage without
//! touching the shared RabbitMQ: `cut` drops every proxied connection and
//! refuses new ones until `restore`; `freeze` holds every byte in flight
//! (a broker that has gone silent) until `thaw`; `freeze_upstream` holds
//! only what the client sends (its acks never reach the broker) while the
//! broker's deliveries still come through.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

pub struct Proxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    frozen: watch::Sender<bool>,
    upstream_frozen: watch::Sender<bool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (frozen, _) = watch::channel(false);
        let (upstream_frozen, _) = watch::channel(false);
        let accept = tokio::spawn({
            let open = open.clone();
            let links = links.clone();
            let frozen = frozen.clone();
            let upstream_frozen = upstream_frozen.clone();
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        continue;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    for task in [
                        tokio::spawn(pump(
                            in_read,
                            out_write,
                            vec![frozen.subscribe(), upstream_frozen.subscribe()],
                        )),
                        tokio::spawn(pump(out_read, in_write, vec![frozen.subscribe()])),
                    ] {
                        links.lock().expect("lock").push(task.abort_handle());
                    }
                }
            }
        });
        Self {
            addr,
            open,
            frozen,
            upstream_frozen,
            links,
            accept,
        }
    }

    /// The AMQP URL that goes through this proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// How many connections the proxy has accepted (and still holds, or
    /// held until a cut).
    pub fn connections(&self) -> usize {
        self.links.lock().expect("lock").len() / 2
    }

    /// Drops every live connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Holds every byte (both ways) until `thaw`; connections stay open.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    pub fn thaw(&self) {
        self.frozen.send_replace(false);
        self.upstream_frozen.send_replace(false);
    }

    /// Holds what clients send (acks, heartbeats) until `thaw`; what the
    /// target sends still comes through.
    pub fn freeze_upstream(&self) {
        self.upstream_frozen.send_replace(true);
    }
}

/// Copies `from` to `to`, holding data while any of `frozen` is set.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut frozen: Vec<watch::Receiver<bool>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for switch in &mut frozen {
            if switch.wait_for(|f| !*f).await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
