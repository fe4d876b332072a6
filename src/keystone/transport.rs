//! The HTTP client under the Keystone conversation: plain for an `http://`
//! `auth_url`, rustls (the config of `crate::tls`, `auth.cafile` etc.) for
//! an `https://` one. The URL's scheme decides once, at start; an https
//! URL is never tried over plain HTTP, and the plain client refuses https.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::tls::{ClientTls, TlsError};

/// One Keystone's HTTP client.
#[derive(Debug, Clone)]
pub enum Transport {
    Plain(HyperClient<HttpConnector, Full<Bytes>>),
    Tls(HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

impl Transport {
    /// The client `auth_url`'s scheme asks for; TLS settings are read only for https.
    pub fn new(auth_url: &str, timeout: Duration, tls: &ClientTls) -> Result<Self, TlsError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let builder = HyperClient::builder(TokioExecutor::new());
        if !is_https(auth_url) {
            return Ok(Self::Plain(builder.build(connector)));
        }
        // The TLS layer gets the https URIs; let the TCP layer take them.
        connector.enforce_http(false);
        let config = Arc::unwrap_or_clone(tls.client_config()?);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .wrap_connector(connector);
        Ok(Self::Tls(builder.build(https)))
    }

    pub async fn request(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        match self {
            Self::Plain(client) => client.request(req).await,
            Self::Tls(client) => client.request(req).await,
        }
    }
}

/// Does this URL ask for TLS?
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}
