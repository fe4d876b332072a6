//! Reading a request body: media type (415), size limit enforced while
//! reading (413, without reading the rest), and a deadline for slow senders.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::http::fault::Fault;

/// Media types read as JSON; a missing `Content-Type` is read as JSON too.
const JSON_TYPES: [&str; 2] = ["application/json", "application/vnd.openstack.compute+json"];

/// 415 unless the `Content-Type` is JSON (or absent).
pub fn check_media_type(headers: &HeaderMap) -> Result<(), Fault> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if JSON_TYPES.contains(&media.as_str()) {
        Ok(())
    } else {
        Err(Fault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Content-Type {text:?}; use application/json."),
        ))
    }
}

/// 413 at once when `Content-Length` already says the body is too large.
pub fn check_declared_length(headers: &HeaderMap, limit: usize) -> Result<(), Fault> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// Reads the whole body, refusing more than `limit` bytes or more than
/// `timeout` of waiting.
pub async fn read(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Fault> {
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    match collected {
        Err(_) => Err(Fault::new(
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time.",
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(too_large(limit))
        }
        Ok(Err(error)) => Err(Fault::bad_request(format!(
            "The request body could not be read: {error}"
        ))),
    }
}

fn too_large(limit: usize) -> Fault {
    Fault::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request is too large: the limit is {limit} bytes."),
    )
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
            assert_eq!(f.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
    }

    #[test]
    fn declared_length_over_the_limit_is_413() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("200"));
        assert!(check_declared_length(&h, 200).is_ok());
        assert_eq!(
            check_declared_length(&h, 199).unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert!(check_declared_length(&HeaderMap::new(), 1).is_ok());
    }
}
