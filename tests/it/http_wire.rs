//! The connection edges of the events route, driven over raw sockets:
//! bodies refused before they end (413), slow and idle senders (408, close),
//! an answer and a close for a refused body, Host headers and transfer
//! codings. Each read waits for a whole response head, never one `read`.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http_edges::one_event;
use crate::support::{TestApp, new_uuid};

#[tokio::test]
async fn oversized_chunked_body_is_413_before_it_ends() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 1024).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /os-server-external-events HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = "x".repeat(2048);
    stream
        .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
        .await
        .unwrap();
    // The body never ends, yet the answer comes.
    let reply = read_head(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn slow_sender_gets_408_not_a_hang() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /os-server-external-events HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-length: 100\r\n\r\n{\"ev";
    stream.write_all(head.as_bytes()).await.unwrap();
    let reply = read_to_close(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    // Contract §2: anything unnamed is computeFault, as Nova's fault wrapper says.
    assert!(reply.contains("\"computeFault\""), "{reply}");
    assert!(!reply.contains("requestTimeout"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
    app.stop().await;
}

/// Reads the whole answer of a connection the server closes after it.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answer and close in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn bulk_body_over_its_own_bound_is_413_before_it_ends() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_body_bytes = 1024;
        c.http.max_bulk_body_bytes = 4096;
    })
    .await;
    // Content-Length over the bound: refused at once, the body never sent.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /directory/servers HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let reply = read_to_close(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"overLimit\""), "{reply}");
    assert!(
        reply.contains("4096 bytes"),
        "the bulk bound, not the events one: {reply}"
    );
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
    // Chunked: refused once it passes the bound, though it never ends.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /directory/servers HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{{\"servers\": [{}", " ".repeat(3000));
    for _ in 0..2 {
        stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
    }
    let reply = read_to_close(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"overLimit\""), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
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
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /os-server-external-events HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // The headers never end; the server gives up after header_read_timeout (2s here).
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "connection still open after the header read timeout"
    );
    app.stop().await;
}

async fn read_head(stream: &mut TcpStream) -> String {
    read_until_head(stream).await
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
    let head = read_until_head(&mut reader).await;
    sender.abort();
    head
}

async fn read_until_head(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                return false;
            }
            out.extend_from_slice(&buf[..n]);
            if out.windows(4).any(|w| w == b"\r\n\r\n") {
                return true;
            }
        }
    })
    .await
    .expect("answer in time");
    assert!(found, "connection closed before a whole head: {out:?}");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_refused_body_gets_its_answer_and_a_close() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 1024).await;
    let big = 4 << 20;
    for (token, status) in [
        ("admin-secret", "413"),
        ("", "401"),
        ("reader-secret", "403"),
    ] {
        let head = format!(
            "POST /os-server-external-events HTTP/1.1\r\nhost: x\r\nx-auth-token: {token}\r\ncontent-type: application/json\r\ncontent-length: {big}\r\n\r\n"
        );
        let reply = raw_exchange(&app, head, big).await.to_ascii_lowercase();
        assert!(reply.starts_with(&format!("http/1.1 {status}")), "{reply}");
        assert!(reply.contains("connection: close"), "{reply}");
    }
    // A directory PUT over its small bound, and a bulk body over its own.
    let head = format!(
        "PUT /directory/servers/{} HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-length: 8192\r\n\r\n",
        new_uuid()
    );
    let reply = raw_exchange(&app, head, 8192).await.to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 413"), "{reply}");
    let head = format!(
        "POST /directory/servers HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\ncontent-length: {big}\r\n\r\n"
    );
    let reply = raw_exchange(&app, head, big).await.to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 413"), "{reply}");
    assert!(reply.contains("connection: close"), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn a_missing_or_doubled_host_is_400_and_an_unknown_coding_501() {
    let app = TestApp::spawn().await;
    let body = one_event().to_string();
    let ask = |head: String| {
        let app = &app;
        async move {
            let mut stream = TcpStream::connect(app.addr).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            read_until_head(&mut stream).await
        }
    };
    let no_host = ask("GET /healthz HTTP/1.1\r\n\r\n".into()).await;
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    let two = ask("GET /healthz HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n".into()).await;
    assert!(two.starts_with("HTTP/1.1 400"), "{two}");
    let one = ask("GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n".into()).await;
    assert!(one.starts_with("HTTP/1.1 200"), "{one}");
    // An events POST with `headers` (each ending in CRLF) and the body framed
    // as chunked or by length.
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let post = |headers: &str, framed: &str| {
        format!(
            "POST /os-server-external-events HTTP/1.1\r\n{headers}x-auth-token: admin-secret\r\n\r\n{framed}"
        )
    };
    let gzip = ask(post(
        "host: x\r\ntransfer-encoding: gzip, chunked\r\n",
        &chunked,
    ))
    .await;
    assert!(gzip.starts_with("HTTP/1.1 501"), "{gzip}");
    // The same codings on two header lines.
    let split = ask(post(
        "host: x\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n",
        &chunked,
    ))
    .await;
    assert!(split.starts_with("HTTP/1.1 501"), "{split}");
    // A POST with a body and no Host is refused too, not read.
    let no_host_post = ask(post(&format!("content-length: {}\r\n", body.len()), &body)).await;
    assert!(no_host_post.starts_with("HTTP/1.1 400"), "{no_host_post}");
    app.stop().await;
}
