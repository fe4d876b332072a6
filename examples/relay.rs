//! The relay limit, for `bench/run.sh`: the least an HTTP→broker relay can
//! do for herald's job on this machine. It keeps the directory in a map
//! (`POST /directory/servers`, `DELETE /directory/servers/{id}`), answers
//! `GET /readyz`, and for each `POST /os-server-external-events` looks the
//! servers up, publishes one herald v1 message per host (mandatory,
//! persistent, confirmed, on one of CHANNELS confirm channels taken in turn),
//! and answers 200, or 207 with 404/422/503 per event. No auth, no
//! validation beyond parsing, no coalescing, no metrics, no logs: `herald
//! load` drives it unchanged (same generator, consumers and broker as
//! herald), so the two are measured alike.
//!
//! `relay SECONDS EXCHANGE ROUTING_PREFIX [AMQP_URL] [CHANNELS]` — the
//! exchange is declared by `herald load`; prints `listening 127.0.0.1:PORT`
//! on stdout and stops after SECONDS. Local broker only.

#![allow(clippy::unwrap_used)] // a measuring tool: a failed unwrap is its error message

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::support::timestamp::now_rfc3339;
use herald::wire::{Message, WireEvent};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

struct Relay {
    /// server → host (`None`: known, no host yet).
    directory: RwLock<HashMap<ServerId, Option<HostName>>>,
    channels: Vec<Channel>,
    next: AtomicUsize,
    exchange: String,
    prefix: String,
}

#[derive(Deserialize)]
struct Seed {
    servers: Vec<SeedEntry>,
}

#[derive(Deserialize)]
struct SeedEntry {
    uuid: ServerId,
    host: Option<HostName>,
}

#[derive(Deserialize)]
struct Batch {
    events: Vec<InEvent>,
}

#[derive(Deserialize, Serialize, Clone)]
struct InEvent {
    name: EventName,
    server_uuid: ServerId,
    status: EventStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
}

#[derive(Serialize)]
struct OutEvent<'a> {
    #[serde(flatten)]
    event: &'a InEvent,
    code: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).map_or(Ok(600), |s| s.parse())?.clamp(1, 3600);
    let (exchange, prefix) = (args[2].clone(), args[3].clone());
    let url = args
        .get(4)
        .map_or("amqp://guest:guest@127.0.0.1:5672/%2f", |s| s);
    let count: usize = args.get(5).map_or(Ok(8), |s| s.parse())?.clamp(1, 64);
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    let relay = Arc::new(Relay {
        directory: RwLock::default(),
        channels,
        next: AtomicUsize::new(0),
        exchange,
        prefix,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let _ = tokio::time::timeout(Duration::from_secs(seconds), accept(listener, relay)).await;
    let _ = conn.close(200, "relay done".into()).await;
    Ok(())
}

async fn accept(listener: TcpListener, relay: Arc<Relay>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let relay = relay.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(relay.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    relay: Arc<Relay>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, text) = match (method, path.as_str()) {
        (Method::GET, "/readyz") => (StatusCode::OK, "{}".to_owned()),
        (Method::POST, "/directory/servers") => match serde_json::from_slice::<Seed>(&body) {
            Ok(seed) => {
                let mut directory = relay.directory.write().unwrap();
                directory.extend(seed.servers.into_iter().map(|s| (s.uuid, s.host)));
                (StatusCode::OK, "{}".to_owned())
            }
            Err(_) => (StatusCode::BAD_REQUEST, "{}".to_owned()),
        },
        (Method::DELETE, p) if p.starts_with("/directory/servers/") => {
            let id = ServerId::parse(&p["/directory/servers/".len()..]);
            match id.and_then(|id| relay.directory.write().unwrap().remove(&id)) {
                Some(_) => (StatusCode::NO_CONTENT, String::new()),
                None => (StatusCode::NOT_FOUND, "{}".to_owned()),
            }
        }
        (Method::POST, "/os-server-external-events") => match serde_json::from_slice(&body) {
            Ok(batch) => relay.events(batch).await,
            Err(_) => (StatusCode::BAD_REQUEST, "{}".to_owned()),
        },
        _ => (StatusCode::NOT_FOUND, "{}".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

impl Relay {
    /// Looks every event up, publishes one message per host, and answers
    /// each event by its lookup and its host's confirm.
    async fn events(&self, batch: Batch) -> (StatusCode, String) {
        // Per event: Ok(host index) or the code it already has.
        let mut hosts: Vec<(HostName, Vec<WireEvent>)> = Vec::new();
        let verdicts: Vec<Result<usize, u16>> = {
            let directory = self.directory.read().unwrap();
            let mut verdict = |e: &InEvent| match directory.get(&e.server_uuid) {
                None => Err(404),
                Some(None) => Err(422),
                Some(Some(host)) => {
                    let i = match hosts.iter().position(|(h, _)| h == host) {
                        Some(i) => i,
                        None => {
                            hosts.push((host.clone(), Vec::new()));
                            hosts.len() - 1
                        }
                    };
                    hosts[i].1.push(WireEvent {
                        name: e.name,
                        server_uuid: e.server_uuid,
                        status: e.status,
                        tag: e.tag.clone(),
                    });
                    Ok(i)
                }
            };
            batch.events.iter().map(&mut verdict).collect()
        };
        let confirmed = self.publish(hosts).await;
        let events: Vec<OutEvent<'_>> = batch
            .events
            .iter()
            .zip(&verdicts)
            .map(|(event, verdict)| OutEvent {
                event,
                code: match verdict {
                    Ok(i) if confirmed[*i] => 200,
                    Ok(_) => 503,
                    Err(code) => *code,
                },
            })
            .collect();
        let status = if events.iter().all(|e| e.code == 200) {
            StatusCode::OK
        } else {
            StatusCode::MULTI_STATUS
        };
        let body = serde_json::json!({ "events": events });
        (status, body.to_string())
    }

    /// Publishes each host's message on one channel; whether each was
    /// confirmed (acked and not returned).
    async fn publish(&self, hosts: Vec<(HostName, Vec<WireEvent>)>) -> Vec<bool> {
        let channel =
            &self.channels[self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len()];
        let request_id = format!("req-{}", uuid::Uuid::new_v4());
        let publishes = hosts.into_iter().map(|(host, events)| {
            let message = Message {
                version: 1,
                message_id: uuid::Uuid::new_v4().to_string(),
                request_id: request_id.clone(),
                global_request_id: None,
                sent_at: now_rfc3339(),
                host,
                events,
            };
            let routing_key = format!("{}.{}", self.prefix, message.host);
            async move {
                let properties = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2) // persistent
                    .with_message_id(message.message_id.as_str().into());
                let options = BasicPublishOptions {
                    mandatory: true, // unroutable comes back: not confirmed
                    immediate: false,
                };
                let body = message.encode();
                let publish = channel.basic_publish(
                    self.exchange.as_str().into(),
                    routing_key.as_str().into(),
                    options,
                    &body,
                    properties,
                );
                match publish.await {
                    Ok(confirm) => matches!(confirm.await, Ok(Confirmation::Ack(None))),
                    Err(_) => false,
                }
            }
        });
        join_all(publishes).await
    }
}
