//! `/healthcheck` as oslo.middleware's healthcheck (with its disable-by-file
//! backend) answers it, so haproxy's `option httpchk GET /healthcheck` and
//! Helm's probes work unchanged: `GET` 200 `OK`, `HEAD` 204, and 503
//! `DISABLED BY FILE` while `http.healthcheck_disable_file` exists, so an
//! operator can drain a replica before stopping it. No token; one stat.

use std::path::Path;

use http::{Method, Response, StatusCode};

use crate::web::Body;
use crate::web::fault::text_response;

/// oslo's content type for its plain-text answer.
const TEXT: &str = "text/plain; charset=UTF-8";
/// oslo's reason when its disable-by-file backend finds the file.
const DISABLED: &str = "DISABLED BY FILE";

/// The answer to `method /healthcheck` (GET or HEAD).
pub fn answer(method: &Method, disable_file: &Path) -> Response<Body> {
    let (status, text) = if disabled(disable_file) {
        (StatusCode::SERVICE_UNAVAILABLE, DISABLED)
    } else if method == Method::HEAD {
        (StatusCode::NO_CONTENT, "")
    } else {
        (StatusCode::OK, "OK")
    };
    let text = if method == Method::HEAD { "" } else { text };
    text_response(status, TEXT, text.to_owned())
}

/// Whether the disable file is set and exists now.
fn disabled(disable_file: &Path) -> bool {
    !disable_file.as_os_str().is_empty() && std::fs::metadata(disable_file).is_ok()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn seen(method: Method, file: &Path) -> (StatusCode, String) {
        let response = answer(&method, file);
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn ok_until_the_disable_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("healthcheck_disable");
        for unset in [Path::new(""), file.as_path()] {
            assert_eq!(
                seen(Method::GET, unset).await,
                (StatusCode::OK, "OK".into())
            );
            assert_eq!(
                seen(Method::HEAD, unset).await,
                (StatusCode::NO_CONTENT, "".into())
            );
        }
        std::fs::write(&file, "").unwrap();
        let disabled = (StatusCode::SERVICE_UNAVAILABLE, DISABLED.to_owned());
        assert_eq!(seen(Method::GET, &file).await, disabled);
        assert_eq!(
            seen(Method::HEAD, &file).await,
            (StatusCode::SERVICE_UNAVAILABLE, "".into())
        );
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            seen(Method::GET, &file).await.0,
            StatusCode::OK,
            "back once removed"
        );
    }
}
