//! The TLS side of a test's own node: its listeners' config lines, the
//! URLs to reach them, and starting a node that takes TLS.

use std::path::PathBuf;
use std::time::Duration;

use super::{BrokerNode, OwnNode, free_port_on, home_in};

/// The PEM files of a node's TLS listeners.
pub struct NodeTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The ports of a node's TLS listeners.
#[derive(Debug, Clone, Copy)]
pub struct TlsPorts {
    /// On 127.0.0.1, a name its certificate carries (as `localhost` is).
    pub named: u16,
    /// On 127.0.0.2, which its certificate does not name.
    pub unnamed: u16,
}

impl TlsPorts {
    pub(super) fn free() -> Self {
        Self {
            named: free_port_on("127.0.0.1"),
            unnamed: free_port_on("127.0.0.2"),
        }
    }
}

/// `rabbitmq.conf` lines: both TLS listeners, and a client certificate
/// signed by the CA required (OpenStack-Helm's mutual-TLS override).
pub(super) fn listeners_conf(tls: &NodeTls, ports: TlsPorts) -> String {
    format!(
        "listeners.ssl.named = 127.0.0.1:{}\n\
         listeners.ssl.unnamed = 127.0.0.2:{}\n\
         ssl_options.cacertfile = {}\n\
         ssl_options.certfile = {}\n\
         ssl_options.keyfile = {}\n\
         ssl_options.verify = verify_peer\n\
         ssl_options.fail_if_no_peer_cert = true\n",
        ports.named,
        ports.unnamed,
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
    )
}

impl BrokerNode {
    /// `amqps://guest:guest@HOST:PORT/%2f` at the TLS listener on 127.0.0.1
    /// (`localhost` or `127.0.0.1`) or, for `127.0.0.2`, the unnamed one.
    pub fn amqps_url(&self, host: &str) -> String {
        let ports = self.tls_ports.expect("a node started with TLS");
        let port = if host == "127.0.0.2" {
            ports.unnamed
        } else {
            ports.named
        };
        format!("amqps://guest:guest@{host}:{port}/%2f")
    }
}

impl OwnNode {
    /// A node with TLS listeners that want a client certificate; waits
    /// until its plain listener takes AMQP and both TLS ports accept.
    pub async fn start_tls(tls: &NodeTls) -> Self {
        let root = tempfile::tempdir().unwrap();
        let home = home_in(root.path());
        let mut node = BrokerNode::spawn_with(root.path(), "tls", &home, Some(tls));
        node.wait_up().await;
        let ports = node.tls_ports.expect("started with TLS");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for (host, port) in [("127.0.0.1", ports.named), ("127.0.0.2", ports.unnamed)] {
            while tokio::net::TcpStream::connect((host, port)).await.is_err() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "node {} has no TLS listener on {host}:{port}; see {}",
                    node.name,
                    node.dir.join("log").display()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Self { node, _root: root }
    }
}
