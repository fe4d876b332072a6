//! HTTP/1.1 spelled out over a plain socket, for what a well-behaved client
//! never sends (bodies cut short, chunked bodies that never end, requests
//! abandoned mid-flight) and for answers read as the bytes that came.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ADMIN_TOKEN, within};

/// The events route's request line.
pub const EVENTS: &str = "POST /os-server-external-events";
/// The bulk directory route's request line.
pub const BULK: &str = "POST /directory/servers";

/// How long an answer (or the server's close) may take to come.
const ANSWER: Duration = Duration::from_secs(15);

/// The head of `request` (`POST /path`) with `host: x`, the admin token
/// unless `headers` name one, and `headers` (`name: value` each).
pub fn head<S: AsRef<str>>(request: &str, headers: &[S]) -> String {
    let mut head = format!("{request} HTTP/1.1\r\nhost: x\r\n");
    if !headers
        .iter()
        .any(|h| h.as_ref().to_ascii_lowercase().starts_with("x-auth-token:"))
    {
        head.push_str(&format!("x-auth-token: {ADMIN_TOKEN}\r\n"));
    }
    for header in headers {
        head.push_str(header.as_ref());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// One chunk of a chunked body.
pub fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// Connects to `addr` and sends `bytes`; the socket, its answer unread.
pub async fn send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("send");
    stream
}

/// Reads until the other end closes (a server its connection, a child its
/// stdout): all that came, as text.
pub async fn read_to_close(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    let read = reader.read_to_end(&mut out);
    within(ANSWER, "all of it, then a close", read)
        .await
        .expect("it reads");
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until a whole response head has come (never just one `read`).
pub async fn read_head(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let found = within(ANSWER, "a response head", async {
        loop {
            let n = reader.read(&mut buf).await.expect("the socket reads");
            if n == 0 {
                return false;
            }
            out.extend_from_slice(&buf[..n]);
            if out.windows(4).any(|w| w == b"\r\n\r\n") {
                return true;
            }
        }
    })
    .await;
    assert!(found, "connection closed before a whole head: {out:?}");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_head_carries_the_admin_token_unless_it_names_one() {
    let plain = head(EVENTS, &["content-length: 2"]);
    assert_eq!(
        plain,
        format!(
            "POST /os-server-external-events HTTP/1.1\r\nhost: x\r\n\
             x-auth-token: {ADMIN_TOKEN}\r\ncontent-length: 2\r\n\r\n"
        )
    );
    let own = head(BULK, &["X-Auth-Token: other"]);
    assert!(!own.contains(ADMIN_TOKEN) && own.contains("X-Auth-Token: other\r\n"));
    assert_eq!(chunk("abc"), "3\r\nabc\r\n");
}
