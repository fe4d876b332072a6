//! Reading a request body: media type (415), size limit enforced while
//! reading (413, without reading the rest), and a deadline for slow senders.
//! A request refused with its body unread drains a bounded part of it and
//! answers `Connection: close`, so the client reads the answer, not a reset.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::web::Body;

use super::error::ApiError;

/// Media types read as JSON; a missing `Content-Type` is read as JSON too.
const JSON_TYPES: [&str; 2] = ["application/json", "application/vnd.openstack.compute+json"];

/// 415 unless the `Content-Type` is JSON (or absent).
pub fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let media = text.split(';').next().unwrap_or("").trim();
    if JSON_TYPES
        .iter()
        .any(|json| json.eq_ignore_ascii_case(media))
    {
        Ok(())
    } else {
        Err(ApiError::MediaType(text.to_owned()))
    }
}

/// 413 at once when `Content-Length` already says the body is too large.
pub fn check_declared_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(ApiError::TooLarge(limit)),
        _ => Ok(()),
    }
}

/// At most this much of a refused body is read (and dropped) before the
/// answer, so that a client still sending gets the answer rather than a reset.
const DRAIN_BYTES: usize = 1 << 20;
/// ... and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Whether the request says it carries a body (a non-zero length, or chunks).
pub fn declares_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    match headers.get(header::CONTENT_LENGTH) {
        None => false,
        Some(value) => value.to_str().map_or(true, |v| v.trim() != "0"),
    }
}

/// Marks a response as the connection's last one.
pub fn close_connection(response: &mut Response<Body>) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Reads and drops up to `DRAIN_BYTES` of a body that will not be read.
pub async fn drain(mut body: Incoming) {
    let drained = async {
        let mut seen = 0usize;
        while seen < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    seen += frame.data_ref().map_or(0, Bytes::len);
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
}

/// Answers `fault` for a request whose body was not read: drains a bounded
/// part of the body, and closes the connection when there was one.
pub async fn refuse(req: Request<Incoming>, error: ApiError) -> Response<Body> {
    refuse_with(req, error.into_response()).await
}

/// [`refuse`] with a response already made.
pub async fn refuse_with(req: Request<Incoming>, mut response: Response<Body>) -> Response<Body> {
    if declares_body(req.headers()) {
        drain(req.into_body()).await;
        close_connection(&mut response);
    }
    response
}

/// The JSON body of a request: media type, declared length, then the body
/// itself, at most `limit` bytes and `timeout` of waiting. A refusal is
/// answered with the connection closed (see [`refuse`]).
pub async fn take(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Response<Body>> {
    if let Err(error) =
        check_declared_length(req.headers(), limit).and_then(|()| check_media_type(req.headers()))
    {
        return Err(refuse(req, error).await);
    }
    let mut body = req.into_body();
    match tokio::time::timeout(timeout, read(&mut body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let too_large = matches!(error, ApiError::TooLarge(_));
            let mut response = error.into_response();
            if too_large {
                drain(body).await;
            }
            close_connection(&mut response);
            Err(response)
        }
        Err(_) => {
            let mut response = ApiError::BodyTimeout.into_response();
            close_connection(&mut response);
            Err(response)
        }
    }
}

/// Why a request got no ordinary answer.
pub enum Refused {
    /// A whole-request error, answered as is.
    Error(ApiError),
    /// Answered already, its body unread (413, 415, 408: see [`take`]).
    Answered(Response<Body>),
}

impl<E: Into<ApiError>> From<E> for Refused {
    fn from(error: E) -> Self {
        Self::Error(error.into())
    }
}

impl Refused {
    pub fn into_response(self) -> Response<Body> {
        match self {
            Self::Error(error) => error.into_response(),
            Self::Answered(response) => response,
        }
    }
}

/// Reads the body to its end, refusing more than `limit` bytes. A body
/// that comes in one piece (the usual small one) is kept as it came.
async fn read(body: &mut Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let mut first: Option<Bytes> = None;
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ApiError::BodyRead)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let seen = first.as_ref().map_or(0, Bytes::len) + collected.len();
        if seen + data.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        match first.take() {
            None if collected.is_empty() => first = Some(data),
            Some(earlier) => {
                collected.extend_from_slice(&earlier);
                collected.extend_from_slice(&data);
            }
            None => collected.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| collected.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn typed(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn json_types_pass_and_others_are_415() {
        assert!(check_media_type(&HeaderMap::new()).is_ok());
        assert!(check_media_type(&typed("application/json")).is_ok());
        assert!(check_media_type(&typed("Application/JSON; charset=utf-8")).is_ok());
        assert!(check_media_type(&typed("application/vnd.openstack.compute+json")).is_ok());
        for bad in [
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "",
        ] {
            let f = check_media_type(&typed(bad)).unwrap_err();
            assert_eq!(
                f.status(),
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{bad}"
            );
        }
    }

    #[test]
    fn declared_length_over_the_limit_is_413() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("200"));
        assert!(check_declared_length(&h, 200).is_ok());
        assert_eq!(
            check_declared_length(&h, 199).unwrap_err().status(),
            http::StatusCode::PAYLOAD_TOO_LARGE
        );
        assert!(check_declared_length(&HeaderMap::new(), 1).is_ok());
    }

    #[test]
    fn bodies_declared() {
        let with = |name, value| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        assert!(!declares_body(&HeaderMap::new()));
        assert!(!declares_body(&with(header::CONTENT_LENGTH, "0")));
        assert!(declares_body(&with(header::CONTENT_LENGTH, "5")));
        assert!(declares_body(&with(header::TRANSFER_ENCODING, "chunked")));
    }
}
