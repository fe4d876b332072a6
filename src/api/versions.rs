//! Version discovery: `GET /` (the version list) and `GET /v2.1` (the
//! version document), so that clients which discover versions work.

use http::StatusCode;
use serde_json::{Value, json};

use crate::microversion::Microversion;
use crate::web::Body;
use crate::web::fault::json_response;
use crate::web::forwarded::Origin;

/// When v2.1 was first released (Nova's own value).
const UPDATED: &str = "2013-07-23T11:33:21Z";

/// The base URL clients reached us on: the scheme and `Host` of the
/// request, or those a trusted proxy forwarded.
fn base_url(origin: &Origin) -> String {
    let host = origin.host.as_deref().unwrap_or("localhost");
    format!("{}://{host}", origin.scheme)
}

fn v21(origin: &Origin) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": Microversion::MAX.to_string(),
        "min_version": Microversion::MIN.to_string(),
        "updated": UPDATED,
        "links": [
            {"rel": "self", "href": format!("{}/v2.1/", base_url(origin))},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
        ]
    })
}

/// `GET /`
pub fn list(origin: &Origin) -> http::Response<Body> {
    json_response(StatusCode::OK, &json!({"versions": [v21(origin)]}))
}

/// `GET /v2.1` and `GET /v2.1/`
pub fn document(origin: &Origin) -> http::Response<Body> {
    json_response(StatusCode::OK, &json!({"version": v21(origin)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_fields() {
        let origin = Origin {
            client: "127.0.0.1".parse().unwrap(),
            scheme: "http",
            host: Some("127.0.0.1:8774".into()),
        };
        let doc = v21(&origin);
        assert_eq!(doc["id"], "v2.1");
        assert_eq!(doc["status"], "CURRENT");
        assert_eq!(doc["version"], "2.104");
        assert_eq!(doc["min_version"], "2.1");
        assert_eq!(doc["links"][0]["href"], "http://127.0.0.1:8774/v2.1/");
        let behind = Origin {
            scheme: "https",
            host: Some("compute.example.org".into()),
            ..origin
        };
        assert_eq!(
            v21(&behind)["links"][0]["href"],
            "https://compute.example.org/v2.1/"
        );
    }
}
