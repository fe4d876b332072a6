//! `/healthcheck` on a real `herald serve`, as haproxy or a kubelet asks it:
//! no token, GET 200 `OK`, HEAD 204, and 503 while the disable file exists.

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;

use crate::support::{Reply, TestApp};

async fn check(app: &TestApp, method: Method) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(app.url("/healthcheck"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn healthcheck_answers_as_oslo_and_drains_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let disable = dir.path().join("healthcheck_disable");
    let app = TestApp::spawn_with(|c| c.http.healthcheck_disable_file = disable.clone()).await;

    let ok = check(&app, Method::GET).await;
    assert_eq!(ok.status, StatusCode::OK, "no token needed");
    assert_eq!(ok.body, "OK");
    assert_eq!(
        ok.headers[header::CONTENT_TYPE],
        "text/plain; charset=UTF-8"
    );
    let head = check(&app, Method::HEAD).await;
    assert_eq!(head.status, StatusCode::NO_CONTENT);

    std::fs::write(&disable, "").unwrap();
    let drained = check(&app, Method::GET).await;
    assert_eq!(drained.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(drained.body, "DISABLED BY FILE");
    assert_eq!(
        check(&app, Method::HEAD).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Draining is for the proxy's check only: the API still answers.
    assert_eq!(
        app.request(Method::GET, "/v2.1", None, &[]).await.status,
        StatusCode::OK
    );

    std::fs::remove_file(&disable).unwrap();
    assert_eq!(
        check(&app, Method::GET).await.status,
        StatusCode::OK,
        "back in"
    );
    let post = check(&app, Method::POST).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}
