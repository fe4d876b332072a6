//! The connection edges of the events route, driven over raw sockets:
//! bodies refused before they end (413), slow and idle senders (408, close),
//! an answer and a close for a refused body, Host headers and transfer
//! codings. Each read waits for a whole response head, never one `read`.

use http::{Method, StatusCode};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::http_edges::one_event;
use crate::support::raw::{BULK, EVENTS, chunk, head, read_head, read_to_close, send};
use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp, new_uuid};

const JSON: &str = "content-type: application/json";
const CHUNKED: &str = "transfer-encoding: chunked";

/// A refusal that closes the connection: `status`, and `connection: close`.
fn assert_refused_and_closed(reply: &str, status: &str) {
    let lower = reply.to_ascii_lowercase();
    assert!(lower.starts_with(&format!("http/1.1 {status}")), "{reply}");
    assert!(lower.contains("connection: close"), "{reply}");
}

#[tokio::test]
async fn oversized_chunked_body_is_413_before_it_ends() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 1024).await;
    let request = head(EVENTS, &[JSON, CHUNKED]) + &chunk(&"x".repeat(2048));
    let mut stream = send(app.addr, request.as_bytes()).await;
    // The body never ends, yet the answer comes.
    let reply = read_head(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn slow_sender_gets_408_not_a_hang() {
    let app = TestApp::spawn().await;
    let request = head(EVENTS, &["content-length: 100"]) + "{\"ev";
    let reply = read_to_close(&mut send(app.addr, request.as_bytes()).await).await;
    assert_refused_and_closed(&reply, "408");
    // Contract §2: anything unnamed is computeFault, as Nova's fault wrapper says.
    assert!(reply.contains("\"computeFault\""), "{reply}");
    assert!(!reply.contains("requestTimeout"), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn bulk_body_over_its_own_bound_is_413_before_it_ends() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_body_bytes = 1024;
        c.http.max_bulk_body_bytes = 4096;
    })
    .await;
    // Content-Length over the bound: refused at once, the body never sent.
    let request = head(BULK, &[JSON, "content-length: 1073741824"]);
    let reply = read_to_close(&mut send(app.addr, request.as_bytes()).await).await;
    assert_refused_and_closed(&reply, "413");
    assert!(reply.contains("\"overLimit\""), "{reply}");
    assert!(
        reply.contains("4096 bytes"),
        "the bulk bound, not the events one: {reply}"
    );
    // Chunked: refused once it passes the bound, though it never ends.
    let part = chunk(&format!("{{\"servers\": [{}", " ".repeat(3000)));
    let request = head(BULK, &[JSON, CHUNKED]) + &part + &part;
    let reply = read_to_close(&mut send(app.addr, request.as_bytes()).await).await;
    assert_refused_and_closed(&reply, "413");
    assert!(reply.contains("\"overLimit\""), "{reply}");
    // A bulk body under its bound but over the events bound is served.
    let body = json!({"servers": [{"uuid": new_uuid(), "host": "h".repeat(200),
        "migration": {"source_compute": "s".repeat(200), "dest_compute": "d".repeat(200)}},
        {"uuid": new_uuid(), "host": "h".repeat(200)}, {"uuid": new_uuid(), "host": "h".repeat(200)}]});
    assert!(body.to_string().len() > 1024);
    let reply = app
        .request(Method::POST, "/directory/servers", Some(&body), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    app.stop().await;
}

#[tokio::test]
async fn header_read_timeout_closes_idle_connections() {
    let app = TestApp::spawn().await;
    // The headers never end; the server gives up after header_read_timeout
    // (2 s here) and closes: the read ends, within its deadline.
    let mut stream = send(
        app.addr,
        format!("{EVENTS} HTTP/1.1\r\nhost: x\r\n").as_bytes(),
    )
    .await;
    read_to_close(&mut stream).await;
    app.stop().await;
}

/// Sends `head` then `body_len` bytes of body from another task (ignoring
/// write errors: the server may close once it has answered), and returns
/// the response head.
async fn raw_exchange(app: &TestApp, head: String, body_len: usize) -> String {
    let stream = TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < body_len {
            let n = chunk.len().min(body_len - sent);
            writer.write_all(&chunk[..n]).await?;
            sent += n;
        }
        Ok::<_, std::io::Error>(writer)
    });
    let head = read_head(&mut reader).await;
    sender.abort();
    head
}

#[tokio::test]
async fn a_refused_body_gets_its_answer_and_a_close() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 1024).await;
    let big = 4 << 20;
    let length = format!("content-length: {big}");
    for (token, status) in [(ADMIN_TOKEN, "413"), ("", "401"), (READER_TOKEN, "403")] {
        let token = format!("x-auth-token: {token}");
        let request = head(EVENTS, &[token.as_str(), JSON, &length]);
        assert_refused_and_closed(&raw_exchange(&app, request, big).await, status);
    }
    // A directory PUT over its small bound, and a bulk body over its own.
    let put = format!("PUT /directory/servers/{}", new_uuid());
    let request = head(&put, &["content-length: 8192"]);
    let reply = raw_exchange(&app, request, 8192).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let request = head(BULK, &[&length]);
    assert_refused_and_closed(&raw_exchange(&app, request, big).await, "413");
    app.stop().await;
}

#[tokio::test]
async fn a_missing_or_doubled_host_is_400_and_an_unknown_coding_501() {
    let app = TestApp::spawn().await;
    let body = one_event().to_string();
    let ask =
        async |request: String| read_head(&mut send(app.addr, request.as_bytes()).await).await;
    let no_host = ask("GET /healthz HTTP/1.1\r\n\r\n".into()).await;
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    let two = ask("GET /healthz HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n".into()).await;
    assert!(two.starts_with("HTTP/1.1 400"), "{two}");
    let one = ask("GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n".into()).await;
    assert!(one.starts_with("HTTP/1.1 200"), "{one}");
    // An events POST with the body framed as chunked, with gzip before
    // chunked: on one header line, then on two.
    let chunked = chunk(&body) + "0\r\n\r\n";
    let gzip = ask(head(EVENTS, &["transfer-encoding: gzip, chunked"]) + &chunked).await;
    assert!(gzip.starts_with("HTTP/1.1 501"), "{gzip}");
    let split = head(EVENTS, &["transfer-encoding: gzip", CHUNKED]) + &chunked;
    let split = ask(split).await;
    assert!(split.starts_with("HTTP/1.1 501"), "{split}");
    // A POST with a body and no Host is refused too, not read.
    let no_host_post = format!(
        "{EVENTS} HTTP/1.1\r\ncontent-length: {}\r\nx-auth-token: {ADMIN_TOKEN}\r\n\r\n{body}",
        body.len()
    );
    let no_host_post = ask(no_host_post).await;
    assert!(no_host_post.starts_with("HTTP/1.1 400"), "{no_host_post}");
    app.stop().await;
}
