//! The Keystone side of the keystone tests: on the Keystone scripts/test.sh
//! runs (`support::parts::keystone`), a throw-away project with users (and,
//! for catalog tests, a region with a `compute` endpoint); serve started in
//! keystone mode as its own service user; a probe of a route behind auth.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::support::http::HttpClient;
use crate::support::parts::Keystone;
use crate::support::{Reply, TestApp, new_uuid, poll_until, unique_name};

use herald::api::auth_config::AuthMode;

/// A throw-away project with users in Keystone, removed on `cleanup`.
pub struct Fixture {
    pub url: String,
    http: HttpClient,
    admin: String,
    pub project: String,
    pub project_id: String,
    users: Vec<String>,
    /// Catalog entries this fixture made: region, service, endpoint ids.
    catalog: Vec<(&'static str, String)>,
}

impl Fixture {
    pub async fn new(keystone: &Keystone) -> Self {
        let mut f = Self {
            url: keystone.url.trim_end_matches('/').to_owned(),
            http: HttpClient::default(),
            admin: String::new(),
            project: unique_name(),
            project_id: String::new(),
            users: Vec::new(),
            catalog: Vec::new(),
        };
        f.admin = f
            .token("admin", &keystone.admin_password, "admin")
            .await
            .expect("admin token");
        let project = json!({"project": {"name": f.project, "domain_id": "default"}});
        f.project_id = f.create("/projects", project, "/project/id").await;
        f
    }

    /// An admin call to the fixture's Keystone.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call_at(&self.url, method, path, body, headers).await
    }

    /// As [`Self::call`], against another Keystone on the same database.
    async fn call_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
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
        self.http
            .send(b.body(Full::new(bytes)).expect("a request"))
            .await
    }

    /// Creates `body` at `path` (201) and returns the new object's id, read
    /// at `pointer` (`/user/id`).
    async fn create(&self, path: &str, body: Value, pointer: &str) -> String {
        let reply = self.call(Method::POST, path, Some(body), &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply
            .body
            .pointer(pointer)
            .and_then(Value::as_str)
            .expect("an id")
            .to_owned()
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
        let path = "/auth/tokens?nocatalog";
        let reply = self
            .call_at(base, Method::POST, path, Some(body), &[])
            .await;
        match reply.header("x-subject-token") {
            token if reply.status == StatusCode::CREATED && !token.is_empty() => {
                Ok(token.to_owned())
            }
            _ => Err(format!("{}: {}", reply.status, reply.body)),
        }
    }

    /// A user with `roles` on this fixture's project; returns (name, password).
    pub async fn user(&mut self, roles: &[&str]) -> (String, String) {
        let (name, password) = (unique_name(), new_uuid());
        let user = json!({"user": {"name": name, "password": password, "domain_id": "default"}});
        let id = self.create("/users", user, "/user/id").await;
        self.users.push(id.clone());
        for role in roles {
            let found = self.get(&format!("/roles?name={role}")).await;
            let role_id = found.body["roles"][0]["id"].as_str().expect("role exists");
            let grant = format!("/projects/{}/users/{id}/roles/{role_id}", self.project_id);
            let reply = self.call(Method::PUT, &grant, None, &[]).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
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
        let subject = [("x-subject-token", token)];
        let reply = self
            .call(Method::DELETE, "/auth/tokens", None, &subject)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }

    /// Names `url` as the public `compute` endpoint in a region of this
    /// fixture's own (callers that pass the region find herald, nobody else
    /// does); returns the region.
    pub async fn compute_endpoint(&mut self, url: &str) -> String {
        let region = unique_name();
        let created = self
            .create("/regions", json!({"region": {"id": region}}), "/region/id")
            .await;
        assert_eq!(created, region);
        let service = json!({"service": {"type": "compute", "name": region}});
        let service = self.create("/services", service, "/service/id").await;
        let endpoint = json!({"endpoint": {"service_id": service, "interface": "public",
                                           "region_id": region, "url": url}});
        let endpoint = self.create("/endpoints", endpoint, "/endpoint/id").await;
        // Deleted in reverse order of creation.
        self.catalog.push(("regions", region.clone()));
        self.catalog.push(("services", service));
        self.catalog.push(("endpoints", endpoint));
        region
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    /// Deletes what it made: catalog entries (newest first), users, project.
    pub async fn cleanup(self) {
        let catalog = self
            .catalog
            .iter()
            .rev()
            .map(|(kind, id)| format!("/{kind}/{id}"));
        let users = self.users.iter().map(|id| format!("/users/{id}"));
        let project = std::iter::once(format!("/projects/{}", self.project_id));
        for path in catalog.chain(users).chain(project) {
            self.call(Method::DELETE, &path, None, &[]).await;
        }
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

/// `GET` [`probe_path`] with `headers` (tokens): 404 when auth let it through.
pub async fn probe(app: &TestApp, headers: &[(&str, &str)]) -> Reply {
    app.request(Method::GET, &probe_path(), None, headers).await
}

/// [`probe`] with `token` as the `X-Auth-Token`.
pub async fn probe_with(app: &TestApp, token: &str) -> Reply {
    probe(app, &[("x-auth-token", token)]).await
}

/// Polls [`probe_with`] `token` until it answers `want`; until then it may
/// answer only `meanwhile`. `limit` bounds the wait (zero: the first answer).
pub async fn probe_until(
    app: &TestApp,
    token: &str,
    (meanwhile, want): (StatusCode, StatusCode),
    limit: Duration,
) {
    let what = format!("a token answered {meanwhile} is answered {want}");
    poll_until(&what, limit, || async {
        let reply = probe_with(app, token).await;
        if reply.status != want {
            assert_eq!(reply.status, meanwhile, "{:?}", reply.body);
        }
        reply.status == want
    })
    .await;
}
