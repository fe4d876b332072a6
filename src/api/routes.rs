//! Which route a method and path go to (pure), and which methods each allows.

use http::Method;

use crate::model::ServerId;

/// Every route of `herald serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    VersionList,
    VersionDocument,
    Events,
    DirectoryCollection,
    /// The raw path segment; the handler parses it (a bad UUID is a 400).
    DirectoryItem(String),
    Healthz,
    /// oslo.middleware's `/healthcheck` (a proxy's check; drainable).
    Healthcheck,
    Readyz,
    Metrics,
    NotFound,
}

impl Route {
    /// Classifies a path (without query string).
    pub fn of(path: &str) -> Self {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            [""] => Self::VersionList,
            ["v2.1"] | ["v2.1", ""] => Self::VersionDocument,
            ["os-server-external-events"] | ["v2.1", "os-server-external-events"] => Self::Events,
            ["v2.1", project, "os-server-external-events"] if !project.is_empty() => Self::Events,
            ["directory", "servers"] => Self::DirectoryCollection,
            ["directory", "servers", id] if !id.is_empty() => Self::DirectoryItem((*id).to_owned()),
            ["healthz"] => Self::Healthz,
            ["healthcheck"] => Self::Healthcheck,
            ["readyz"] => Self::Readyz,
            ["metrics"] => Self::Metrics,
            _ => Self::NotFound,
        }
    }

    /// The `Allow` value: the methods the route answers.
    pub fn allow(&self) -> &'static str {
        match self {
            Self::Events => "POST",
            Self::DirectoryCollection => "GET, POST",
            Self::DirectoryItem(_) => "GET, PUT, DELETE",
            Self::NotFound => "",
            _ => "GET",
        }
    }

    pub fn allows(&self, method: &Method) -> bool {
        let allow = self.allow();
        allow.split(", ").any(|m| m == method.as_str())
            || (method == Method::HEAD && allow.contains("GET"))
    }

    /// The label used in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::VersionList | Self::VersionDocument => "versions",
            Self::Events => "events",
            Self::DirectoryCollection | Self::DirectoryItem(_) => "directory",
            Self::Healthz => "healthz",
            Self::Healthcheck => "healthcheck",
            Self::Readyz => "readyz",
            Self::Metrics => "metrics",
            Self::NotFound => "unknown",
        }
    }

    /// Whether a token is needed.
    pub fn needs_auth(&self) -> bool {
        matches!(
            self,
            Self::Events | Self::DirectoryCollection | Self::DirectoryItem(_)
        )
    }
}

/// Parses the `{uuid}` of a directory path.
pub fn server_id(segment: &str) -> Option<ServerId> {
    let decoded = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    ServerId::parse(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_paths() {
        for p in [
            "/os-server-external-events",
            "/v2.1/os-server-external-events",
            "/v2.1/6f70656e737461636b20726f636b73/os-server-external-events",
        ] {
            assert_eq!(Route::of(p), Route::Events, "{p}");
        }
        for p in [
            "/v2.1//os-server-external-events",
            "/v2/os-server-external-events",
            "/os-server-external-events/x",
        ] {
            assert_eq!(Route::of(p), Route::NotFound, "{p}");
        }
    }

    #[test]
    fn other_paths() {
        assert_eq!(Route::of("/"), Route::VersionList);
        assert_eq!(Route::of("/v2.1"), Route::VersionDocument);
        assert_eq!(Route::of("/v2.1/"), Route::VersionDocument);
        assert_eq!(Route::of("/directory/servers"), Route::DirectoryCollection);
        assert_eq!(
            Route::of("/directory/servers/abc"),
            Route::DirectoryItem("abc".into())
        );
        assert_eq!(Route::of("/directory/servers/"), Route::NotFound);
        assert_eq!(Route::of("/metrics"), Route::Metrics);
        assert_eq!(Route::of("/healthcheck"), Route::Healthcheck);
        assert!(!Route::Healthcheck.needs_auth());
        assert!(Route::Healthcheck.allows(&Method::HEAD));
        assert_eq!(Route::of("/nope"), Route::NotFound);
    }

    #[test]
    fn methods() {
        assert!(Route::Events.allows(&Method::POST));
        assert!(!Route::Events.allows(&Method::GET));
        assert!(Route::DirectoryItem("x".into()).allows(&Method::DELETE));
        assert!(Route::VersionList.allows(&Method::HEAD));
        assert!(!Route::DirectoryCollection.allows(&Method::PUT));
    }
}
