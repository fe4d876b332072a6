//! keystone mode against the real Keystone that scripts/test.sh starts
//! (`HERALD_TEST_KEYSTONE_URL`): each test creates its own project and users
//! with random names through Keystone's API and deletes them afterwards.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::support::{TestApp, new_uuid};
use herald::config::AuthMode;

/// Keystone's URL, or a clear failure under CI (never a silent pass).
fn keystone_url() -> Option<(String, String)> {
    match (
        std::env::var("HERALD_TEST_KEYSTONE_URL"),
        std::env::var("HERALD_TEST_KEYSTONE_ADMIN_PASSWORD"),
    ) {
        (Ok(url), Ok(password)) => Some((url, password)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_TEST_KEYSTONE_URL is not set: run scripts/test.sh, which starts Keystone"
            );
            eprintln!("skipped: HERALD_TEST_KEYSTONE_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A throw-away project with users in Keystone, removed on `cleanup`.
struct Fixture {
    url: String,
    http: Client<HttpConnector, Full<Bytes>>,
    admin: String,
    project: String,
    project_id: String,
    users: Vec<String>,
}

impl Fixture {
    async fn new(url: &str, admin_password: &str) -> Self {
        let http = Client::builder(TokioExecutor::new()).build_http();
        let mut f = Self {
            url: url.trim_end_matches('/').to_owned(),
            http,
            admin: String::new(),
            project: format!("herald-test-{}", new_uuid()),
            project_id: String::new(),
            users: Vec::new(),
        };
        f.admin = f
            .token("admin", admin_password, "admin")
            .await
            .expect("admin token");
        let (status, body) = f
            .call(
                Method::POST,
                "/projects",
                Some(json!({"project": {"name": f.project, "domain_id": "default"}})),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        f.project_id = body["project"]["id"]
            .as_str()
            .expect("project id")
            .to_owned();
        f
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.raw(method, path, body, headers).await;
        (status, body)
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        if !self.admin.is_empty() {
            b = b.header("x-auth-token", &self.admin);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let bytes = body.map(|v| Bytes::from(v.to_string())).unwrap_or_default();
        let response = self
            .http
            .request(b.body(Full::new(bytes)).expect("request"))
            .await
            .expect("Keystone answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, value)
    }

    /// A project-scoped token for `user` on `project`, or Keystone's refusal.
    async fn token(&self, user: &str, password: &str, project: &str) -> Result<String, String> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let (status, headers, body) = self
            .raw(Method::POST, "/auth/tokens?nocatalog", Some(body), &[])
            .await;
        match headers.get("x-subject-token") {
            Some(token) if status == StatusCode::CREATED => {
                Ok(token.to_str().expect("ascii").to_owned())
            }
            _ => Err(format!("{status}: {body}")),
        }
    }

    /// A user with `roles` on this fixture's project; returns (name, password).
    async fn user(&mut self, roles: &[&str]) -> (String, String) {
        let name = format!("herald-test-{}", new_uuid());
        let password = new_uuid();
        let (status, body) = self
            .call(
                Method::POST,
                "/users",
                Some(json!({"user": {"name": name, "password": password, "domain_id": "default"}})),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["user"]["id"].as_str().expect("user id").to_owned();
        self.users.push(id.clone());
        for role in roles {
            let (_, found) = self
                .call(Method::GET, &format!("/roles?name={role}"), None, &[])
                .await;
            let role_id = found["roles"][0]["id"].as_str().expect("role exists");
            let (status, body) = self
                .call(
                    Method::PUT,
                    &format!("/projects/{}/users/{id}/roles/{role_id}", self.project_id),
                    None,
                    &[],
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        (name, password)
    }

    async fn user_token(&mut self, roles: &[&str]) -> String {
        let (name, password) = self.user(roles).await;
        let project = self.project.clone();
        self.token(&name, &password, &project)
            .await
            .expect("user token")
    }

    async fn revoke(&self, token: &str) {
        let (status, body) = self
            .call(
                Method::DELETE,
                "/auth/tokens",
                None,
                &[("x-subject-token", token)],
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    async fn cleanup(self) {
        for id in &self.users {
            self.call(Method::DELETE, &format!("/users/{id}"), None, &[])
                .await;
        }
        self.call(
            Method::DELETE,
            &format!("/projects/{}", self.project_id),
            None,
            &[],
        )
        .await;
    }
}

/// serve in keystone mode, as herald's service user (`service` role).
async fn herald(f: &mut Fixture, cache: Duration, password_override: Option<&str>) -> TestApp {
    let (user, password) = f.user(&["service"]).await;
    let password = password_override.map(str::to_owned).unwrap_or(password);
    let url = f.url.clone();
    let project = f.project.clone();
    TestApp::spawn_with(move |c| {
        c.auth.mode = AuthMode::Keystone;
        c.auth.auth_url = url;
        c.auth.username = user;
        c.auth.password = password;
        c.auth.project_name = project;
        c.auth.token_cache_time = cache;
        // Keystone serves one request at a time here (SQLite): allow queueing.
        c.auth.request_timeout = Duration::from_secs(30);
        c.auth.www_authenticate_uri = "http://keystone.example/v3".into();
    })
    .await
}

/// A route behind auth that needs no broker: the directory answers 404.
fn probe_path() -> String {
    format!("/directory/servers/{}", new_uuid())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_roles_decide_and_bad_tokens_are_401() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    let mut f = Fixture::new(&url, &admin).await;
    let app = herald(&mut f, Duration::from_secs(300), None).await;
    app.wait_ready().await;
    let admin_token = f.user_token(&["admin"]).await;
    let member_token = f.user_token(&["member"]).await;

    let ok = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &admin_token)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::NOT_FOUND, "{:?}", ok.body);
    let member = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &member_token)],
        )
        .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN, "{:?}", member.body);
    let garbage = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", "garbage")],
        )
        .await;
    assert_eq!(
        garbage.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        garbage.body
    );
    assert_eq!(
        garbage.headers[http::header::WWW_AUTHENTICATE],
        "Keystone uri=\"http://keystone.example/v3\""
    );
    let events = app
        .post_events(
            &json!({"events": [{"name": "network-changed", "server_uuid": new_uuid()}]}),
            &[("x-auth-token", &admin_token)],
        )
        .await;
    assert_eq!(events.status, StatusCode::MULTI_STATUS, "{:?}", events.body);
    assert_eq!(events.body["events"][0]["code"], 404);

    // Cached: a revoked token stays accepted until its entry expires (as keystonemiddleware).
    f.revoke(&admin_token).await;
    let cached = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &admin_token)],
        )
        .await;
    assert_eq!(cached.status, StatusCode::NOT_FOUND);
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_revoked_token_is_401_at_once_without_cache() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    let mut f = Fixture::new(&url, &admin).await;
    let app = herald(&mut f, Duration::ZERO, None).await;
    let token = f.user_token(&["admin"]).await;
    let before = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &token)],
        )
        .await;
    assert_eq!(before.status, StatusCode::NOT_FOUND, "{:?}", before.body);
    f.revoke(&token).await;
    let after = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &token)],
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{:?}", after.body);
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_short_cache_forgets_a_revoked_token() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    let mut f = Fixture::new(&url, &admin).await;
    let app = herald(&mut f, Duration::from_millis(500), None).await;
    let token = f.user_token(&["admin"]).await;
    let before = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &token)],
        )
        .await;
    assert_eq!(before.status, StatusCode::NOT_FOUND, "{:?}", before.body);
    f.revoke(&token).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = app
            .request(
                Method::GET,
                &probe_path(),
                None,
                &[("x-auth-token", &token)],
            )
            .await;
        if r.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked token stayed accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_wrong_own_password_is_not_ready_and_503() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    let mut f = Fixture::new(&url, &admin).await;
    let app = herald(&mut f, Duration::from_secs(300), Some("wrong-password")).await;
    let ready = app.request(Method::GET, "/readyz", None, &[]).await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        ready.body
    );
    assert_eq!(ready.body["keystone"], "unavailable");
    let token = f.user_token(&["admin"]).await;
    let r = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(r.body.get("serviceUnavailable").is_some(), "{:?}", r.body);
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_unreachable_is_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(move |c| {
        c.auth.mode = AuthMode::Keystone;
        c.auth.auth_url = format!("http://127.0.0.1:{port}/v3");
        c.auth.username = "herald".into();
        c.auth.password = "x".into();
    })
    .await;
    let r = app
        .request(
            Method::GET,
            &probe_path(),
            None,
            &[("x-auth-token", "some-token")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    let ready = app.request(Method::GET, "/readyz", None, &[]).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    app.stop().await;
}
