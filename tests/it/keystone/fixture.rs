//! The Keystone side of the keystone tests: the URL scripts/test.sh exports,
//! a throw-away project with users (and, for catalog tests, a region with a
//! `compute` endpoint), and serve started in keystone mode as its own
//! service user.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::support::{ANSWER_DEADLINE, TestApp, new_uuid, within};

use herald::api::auth_config::AuthMode;

/// Keystone's URL, or a clear failure under CI (never a silent pass).
pub fn keystone_url() -> Option<(String, String)> {
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
pub struct Fixture {
    pub url: String,
    http: Client<HttpConnector, Full<Bytes>>,
    admin: String,
    pub project: String,
    pub project_id: String,
    users: Vec<String>,
    /// Catalog entries this fixture made: region, service, endpoint ids.
    catalog: Vec<(&'static str, String)>,
}

impl Fixture {
    pub async fn new(url: &str, admin_password: &str) -> Self {
        let http = Client::builder(TokioExecutor::new()).build_http();
        let mut f = Self {
            url: url.trim_end_matches('/').to_owned(),
            http,
            admin: String::new(),
            project: format!("herald-test-{}", new_uuid()),
            project_id: String::new(),
            users: Vec::new(),
            catalog: Vec::new(),
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

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.raw(method, path, body, headers).await;
        (status, body)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, Value) {
        self.raw_at(&self.url, method, path, body, headers).await
    }

    /// As [`Self::raw`], against another Keystone on the same database.
    async fn raw_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", base.trim_end_matches('/')))
            .header("content-type", "application/json");
        if !self.admin.is_empty() {
            b = b.header("x-auth-token", &self.admin);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let bytes = body.map(|v| Bytes::from(v.to_string())).unwrap_or_default();
        let request = b.body(Full::new(bytes)).expect("request");
        let what = format!("Keystone answering {} {}", request.method(), request.uri());
        let response = within(ANSWER_DEADLINE, &what, self.http.request(request))
            .await
            .expect("Keystone answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, value)
    }

    /// A project-scoped token for `user` on `project`, or Keystone's refusal.
    pub async fn token(&self, user: &str, password: &str, project: &str) -> Result<String, String> {
        self.token_at(&self.url, user, password, project).await
    }

    /// A token issued by the Keystone at `base` (one a test runs).
    pub async fn token_at(
        &self,
        base: &str,
        user: &str,
        password: &str,
        project: &str,
    ) -> Result<String, String> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let (status, headers, body) = self
            .raw_at(
                base,
                Method::POST,
                "/auth/tokens?nocatalog",
                Some(body),
                &[],
            )
            .await;
        match headers.get("x-subject-token") {
            Some(token) if status == StatusCode::CREATED => {
                Ok(token.to_str().expect("ascii").to_owned())
            }
            _ => Err(format!("{status}: {body}")),
        }
    }

    /// A user with `roles` on this fixture's project; returns (name, password).
    pub async fn user(&mut self, roles: &[&str]) -> (String, String) {
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

    pub async fn user_token(&mut self, roles: &[&str]) -> String {
        let (name, password) = self.user(roles).await;
        let project = self.project.clone();
        self.token(&name, &password, &project)
            .await
            .expect("user token")
    }

    pub async fn revoke(&self, token: &str) {
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

    /// Names `url` as the public `compute` endpoint in a region of this
    /// fixture's own (callers that pass the region find herald, nobody else
    /// does); returns the region.
    pub async fn compute_endpoint(&mut self, url: &str) -> String {
        let region = format!("herald-test-{}", new_uuid());
        let (status, body) = self
            .call(
                Method::POST,
                "/regions",
                Some(json!({"region": {"id": region}})),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self
            .call(
                Method::POST,
                "/services",
                Some(json!({"service": {"type": "compute", "name": region}})),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let service = body["service"]["id"]
            .as_str()
            .expect("service id")
            .to_owned();
        let (status, body) = self
            .call(
                Method::POST,
                "/endpoints",
                Some(
                    json!({"endpoint": {"service_id": service, "interface": "public",
                                          "region_id": region, "url": url}}),
                ),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let endpoint = body["endpoint"]["id"]
            .as_str()
            .expect("endpoint id")
            .to_owned();
        // Deleted in reverse order of creation.
        self.catalog.push(("regions", region.clone()));
        self.catalog.push(("services", service));
        self.catalog.push(("endpoints", endpoint));
        region
    }

    pub async fn cleanup(self) {
        for (kind, id) in self.catalog.iter().rev() {
            self.call(Method::DELETE, &format!("/{kind}/{id}"), None, &[])
                .await;
        }
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
pub async fn herald(f: &mut Fixture, cache: Duration, password_override: Option<&str>) -> TestApp {
    let url = f.url.clone();
    herald_at(f, &url, cache, password_override).await
}

/// serve in keystone mode against the Keystone at `url` (the fixture's own
/// or one a test runs).
pub async fn herald_at(
    f: &mut Fixture,
    url: &str,
    cache: Duration,
    password_override: Option<&str>,
) -> TestApp {
    herald_with(f, url, cache, password_override, |_| {}).await
}

/// As [`herald_at`], with the config adjusted by `adjust` (TLS settings).
pub async fn herald_with(
    f: &mut Fixture,
    url: &str,
    cache: Duration,
    password_override: Option<&str>,
    adjust: impl FnOnce(&mut herald::config::Config),
) -> TestApp {
    let (user, password) = f.user(&["service"]).await;
    let password = password_override.map(str::to_owned).unwrap_or(password);
    let url = url.to_owned();
    let project = f.project.clone();
    TestApp::spawn_with(move |c| {
        c.auth.mode = AuthMode::Keystone;
        c.keystone.auth_url = url;
        c.keystone.username = user;
        c.keystone.password = password;
        c.keystone.project_name = project;
        c.keystone.token_cache_time = cache;
        // Keystone serves one request at a time here (SQLite): allow queueing.
        c.keystone.request_timeout = Duration::from_secs(30);
        c.keystone.www_authenticate_uri = "http://keystone.example/v3".into();
        adjust(c);
    })
    .await
}

/// A route behind auth that needs no broker: the directory answers 404.
pub fn probe_path() -> String {
    format!("/directory/servers/{}", new_uuid())
}
