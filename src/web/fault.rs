//! OpenStack fault bodies (`{"badRequest": {"code": 400, "message": ...}}`)
//! and JSON responses. The one place that maps a status to Nova's fault
//! name, that builds a 405 (its message and `Allow`), and that decides
//! `Retry-After` (every 503), for the API and the agent's waiter API alike.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use super::Body;

/// Content type of every JSON body herald writes.
pub const JSON: &str = "application/json";
/// Content type of fault bodies, as Nova writes them.
pub const JSON_UTF8: &str = "application/json; charset=UTF-8";
/// `Retry-After` of a whole-request 503: the directory is usually back soon.
const RETRY_AFTER_SECS: &str = "1";

/// Nova's fault name for a status; `computeFault` for anything unnamed.
pub fn fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// A whole-request error: status plus a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: StatusCode,
    pub message: String,
    /// A 405's `Allow`: the methods the resource answers.
    pub allow: Option<&'static str>,
}

impl Fault {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            allow: None,
        }
    }

    /// 405: names the methods `allow` lists, in the body and in `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("The method is not allowed for this resource; allowed: {allow}."),
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The fault as a JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            fault_name(self.status): {"code": self.status.as_u16(), "message": self.message}
        })
    }

    /// The fault as a response. A 503 says when to try again; a 405 which
    /// methods to use.
    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status, &self.body());
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes =
        serde_json::to_vec(value).expect("response values serialise: built from owned data");
    let mut response = Response::new(Body::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// A plain-text response (metrics, health).
pub fn text_response(
    status: StatusCode,
    content_type: &'static str,
    text: String,
) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_nova() {
        for (code, name) in [
            (400, "badRequest"),
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "itemNotFound"),
            (405, "badMethod"),
            (413, "overLimit"),
            (415, "badMediaType"),
            (503, "serviceUnavailable"),
            (406, "computeFault"),
            (408, "computeFault"),
            (500, "computeFault"),
        ] {
            assert_eq!(fault_name(StatusCode::from_u16(code).unwrap()), name);
        }
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let r = Fault::unavailable("later").into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert!(
            Fault::bad_request("x")
                .into_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }

    #[test]
    fn a_405_names_the_allowed_methods_twice() {
        let r = Fault::method_not_allowed("GET, PUT").into_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, PUT");
        assert!(
            Fault::bad_request("x")
                .into_response()
                .headers()
                .get(header::ALLOW)
                .is_none()
        );
    }

    #[test]
    fn body_shape() {
        let f = Fault::bad_request("nope");
        assert_eq!(
            f.body(),
            serde_json::json!({"badRequest": {"code": 400, "message": "nope"}})
        );
    }
}
