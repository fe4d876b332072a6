//! The ceiling of `herald load` itself, for `bench/run.sh`: an HTTP server
//! that does no work. It reads each request body whole and answers an
//! events batch with code 200 for every event in it (one per
//! `"server_uuid"` it counts), anything else with `{}`. Run `herald load
//! --agents-running` against it (nothing to consume): if the generator's
//! requests/s here is well above herald's, the generator is not what limits
//! herald's figures.
//!
//! `fixed_server SECONDS` — listens on a free loopback port, prints
//! `listening 127.0.0.1:PORT` on stdout, and stops after SECONDS.

#![allow(clippy::unwrap_used)] // a measuring tool: a failed unwrap is its error message

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(60), |s| s.parse())?
        .clamp(1, 3600);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    if tokio::time::timeout(Duration::from_secs(seconds), accept(listener))
        .await
        .is_ok_and(|result| result.is_err())
    {
        anyhow::bail!("accepting connections failed");
    }
    Ok(())
}

async fn accept(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let events = req.uri().path().ends_with("/os-server-external-events");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = if events {
        let count = body
            .windows(13)
            .filter(|w| *w == b"\"server_uuid\"")
            .count();
        let items = vec![r#"{"code":200,"status":"completed"}"#; count].join(",");
        format!(r#"{{"events":[{items}]}}"#)
    } else {
        "{}".to_owned()
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
