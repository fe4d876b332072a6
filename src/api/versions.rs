//! Version discovery: `GET /` (the version list) and `GET /v2.1` (the
//! version document), so that clients which discover versions work.

use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::microversion::Microversion;
use crate::web::Body;
use crate::web::fault::json_response;

/// When v2.1 was first released (Nova's own value).
const UPDATED: &str = "2013-07-23T11:33:21Z";

/// The base URL clients reached us on, from the `Host` header.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn v21(headers: &HeaderMap) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": Microversion::MAX.to_string(),
        "min_version": Microversion::MIN.to_string(),
        "updated": UPDATED,
        "links": [
            {"rel": "self", "href": format!("{}/v2.1/", base_url(headers))},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
        ]
    })
}

/// `GET /`
pub fn list(headers: &HeaderMap) -> http::Response<Body> {
    json_response(StatusCode::OK, &json!({"versions": [v21(headers)]}))
}

/// `GET /v2.1` and `GET /v2.1/`
pub fn document(headers: &HeaderMap) -> http::Response<Body> {
    json_response(StatusCode::OK, &json!({"version": v21(headers)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_fields() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8774".parse().unwrap());
        let doc = v21(&h);
        assert_eq!(doc["id"], "v2.1");
        assert_eq!(doc["status"], "CURRENT");
        assert_eq!(doc["version"], "2.104");
        assert_eq!(doc["min_version"], "2.1");
        assert_eq!(doc["links"][0]["href"], "http://127.0.0.1:8774/v2.1/");
    }
}
