//! `herald serve`: opens the directory, starts the dispatcher, serves the
//! API until shutdown, then stops in order (HTTP drained first, so in-flight
//! confirms are not cut off, then the broker connection).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::App;
use crate::api::auth::Authenticator;
use crate::config::Config;
use crate::directory::{Directory, DirectoryError};
use crate::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::support::error_chain::error_chain;
use crate::web::server::{ServerOptions, serve};

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("directory.url")]
    Directory(#[from] DirectoryError),
    #[error("cannot serve HTTPS")]
    Tls(#[from] crate::web::tls::TlsSetupError),
}

/// Runs `herald serve` on `listener` until `shutdown`, then drains in-flight
/// requests (confirms included) and closes the broker connection.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let auth = Authenticator::new(&config.auth, &config.keystone);
    if auth.is_noauth() {
        tracing::warn!(
            "auth.mode = noauth: every request is accepted as admin; do not run this in production"
        );
    }
    if let Some(keystone) = auth.keystone().cloned() {
        // Start anyway; a refusal of herald's own credentials is logged naming
        // the key, and /readyz stays 503 until Keystone accepts them.
        tokio::spawn(async move {
            match keystone.probe().await {
                Ok(()) => tracing::info!("Keystone answers and accepts herald's credentials"),
                Err(error) => tracing::error!(
                    error = %error_chain(&error),
                    "Keystone check at start-up failed; /readyz answers 503 until it passes"
                ),
            }
        });
    }
    let tls = crate::web::tls::start(&config.http.tls, &shutdown)?;
    let directory = Directory::open(&config.directory).await?;
    let metrics = Metrics::new();
    let dispatcher = Dispatcher::start(&config.amqp, &config.dispatch, metrics.clone());
    let app = Arc::new(App {
        auth,
        directory,
        dispatcher,
        metrics,
        http: config.http.clone(),
        amqp_url: config.amqp.url.clone(),
        nova_log: crate::support::rate_log::RateLog::new(std::time::Duration::from_secs(10)),
    });
    crate::api::nova_events::spawn_topic_refresh(&app, shutdown.clone());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "herald serve listening");
    }
    let options = ServerOptions {
        header_read_timeout: config.http.header_read_timeout,
        shutdown_grace: config.http.shutdown_grace,
        max_connections: crate::support::limits::connection_cap(config.http.max_connections),
        metrics: crate::web::slots::ConnectionMetrics {
            open: app.metrics.connections_open.clone(),
            deferred: app.metrics.connections_deferred.clone(),
            evicted: app.metrics.connections_evicted.clone(),
        },
        tls,
    };
    tracing::info!(
        max_connections = options.max_connections,
        "connection bound"
    );
    let handler_app = app.clone();
    serve(
        listener,
        move |req, peer| handler_app.clone().handle(req, peer),
        options,
        shutdown,
    )
    .await;
    tracing::info!("HTTP drained; closing the broker connection");
    app.dispatcher.stop().await;
    Ok(())
}
