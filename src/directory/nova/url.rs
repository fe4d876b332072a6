//! Nova's database URLs (SQLAlchemy's form) as sqlx reads them.
//!
//! SQLAlchemy names a driver after the dialect (`mysql+pymysql://`,
//! `postgresql+psycopg2://`) and takes its drivers' own query parameters.
//! herald keeps what sqlx understands, translates `unix_socket` (PyMySQL)
//! to `socket`, and drops the rest, naming what it dropped so the caller can
//! log it. A parameter about TLS that sqlx does not understand is refused,
//! never dropped: dropping it would connect with less security than asked.

use std::fmt;

/// Which database a Nova URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL or MariaDB (`mysql://`, `mysql+pymysql://`, `mariadb://`…).
    Mysql,
    /// PostgreSQL (`postgresql://`, `postgresql+psycopg2://`, `postgres://`).
    Postgres,
}

/// A Nova URL rewritten for sqlx.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlxUrl {
    pub dialect: Dialect,
    /// `mysql://…` or `postgres://…`, with the parameters sqlx reads.
    pub url: String,
    /// The query parameters left out (their names only).
    pub dropped: Vec<String>,
}

impl fmt::Debug for SqlxUrl {
    // The URL holds a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxUrl")
            .field("dialect", &self.dialect)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

/// Why a Nova URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL (no scheme://)")]
    NoScheme,
    #[error("scheme {0:?} is neither MySQL/MariaDB nor PostgreSQL")]
    Scheme(String),
    #[error(
        "parameter {0:?} asks for TLS in a form herald does not read; use sqlx's form (MySQL: ssl-mode, ssl-ca, ssl-cert, ssl-key; PostgreSQL: sslmode, sslrootcert, sslcert, sslkey)"
    )]
    Tls(String),
}

/// The parameters sqlx's MySQL options read.
const MYSQL_KEPT: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslca",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "charset",
    "collation",
    "statement-cache-capacity",
    "socket",
    "timezone",
    "time-zone",
];

/// The parameters sqlx's PostgreSQL options read.
const PG_KEPT: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// `url` (SQLAlchemy's form, or sqlx's own) as sqlx reads it.
pub fn to_sqlx(url: &str) -> Result<SqlxUrl, UrlError> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::NoScheme)?;
    let dialect = match scheme
        .split('+')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "mysql" | "mariadb" => Dialect::Mysql,
        "postgresql" | "postgres" => Dialect::Postgres,
        _ => return Err(UrlError::Scheme(scheme.to_owned())),
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let kept_keys = match dialect {
        Dialect::Mysql => MYSQL_KEPT,
        Dialect::Postgres => PG_KEPT,
    };
    let mut kept = form_urlencoded::Serializer::new(String::new());
    let mut dropped = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let key = match (dialect, key.as_ref()) {
            (Dialect::Mysql, "unix_socket") => "socket".into(),
            _ => key,
        };
        if kept_keys.contains(&key.as_ref()) {
            kept.append_pair(&key, &value);
        } else if key.to_ascii_lowercase().contains("ssl") || key.contains("tls") {
            return Err(UrlError::Tls(key.into_owned()));
        } else {
            dropped.push(key.into_owned());
        }
    }
    let kept = kept.finish();
    let scheme = match dialect {
        Dialect::Mysql => "mysql",
        Dialect::Postgres => "postgres",
    };
    // A socket-only MySQL URL (`user:pw@/nova?unix_socket=…`) has no host,
    // which URL parsers refuse; sqlx ignores the host when a socket is set.
    let base = match base.split_once("@/") {
        Some((user, path)) => format!("{user}@localhost/{path}"),
        None => base.to_owned(),
    };
    let url = if kept.is_empty() {
        format!("{scheme}://{base}")
    } else {
        format!("{scheme}://{base}?{kept}")
    };
    Ok(SqlxUrl {
        dialect,
        url,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SqlxUrl {
        to_sqlx(url).unwrap()
    }

    #[test]
    fn sqlalchemy_schemes_become_sqlx_schemes() {
        let m = ok("mysql+pymysql://nova:pw@db:3306/nova?charset=utf8");
        assert_eq!(m.dialect, Dialect::Mysql);
        assert_eq!(m.url, "mysql://nova:pw@db:3306/nova?charset=utf8");
        assert!(m.dropped.is_empty());
        assert_eq!(ok("mariadb://a@b/c").url, "mysql://a@b/c");
        let p = ok("postgresql+psycopg2://nova:pw@db/nova?sslmode=verify-full");
        assert_eq!(p.dialect, Dialect::Postgres);
        assert_eq!(p.url, "postgres://nova:pw@db/nova?sslmode=verify-full");
        assert_eq!(ok("postgresql://a@b/c").url, "postgres://a@b/c");
        assert_eq!(ok("postgres://a@b/c").url, "postgres://a@b/c");
    }

    #[test]
    fn driver_only_parameters_are_dropped_and_named() {
        let m = ok("mysql+pymysql://n:p@db/nova?charset=utf8&read_timeout=30&plugin=x");
        assert_eq!(m.url, "mysql://n:p@db/nova?charset=utf8");
        assert_eq!(m.dropped, vec!["read_timeout", "plugin"]);
        let p = ok("postgresql+psycopg2://n@db/nova?connect_timeout=5&client_encoding=utf8");
        assert_eq!(p.url, "postgres://n@db/nova");
        assert_eq!(p.dropped, vec!["connect_timeout", "client_encoding"]);
        let s = ok("mysql+pymysql://n:p@/nova?unix_socket=/run/mysqld/mysqld.sock");
        assert_eq!(
            s.url,
            "mysql://n:p@localhost/nova?socket=%2Frun%2Fmysqld%2Fmysqld.sock"
        );
    }

    #[test]
    fn tls_asked_in_another_form_is_refused_not_dropped() {
        assert_eq!(
            to_sqlx("mysql+pymysql://n:p@db/nova?ssl_ca=/ca.pem"),
            Err(UrlError::Tls("ssl_ca".into()))
        );
        assert_eq!(
            to_sqlx("mysql+pymysql://n:p@db/nova?ssl_verify_identity=true"),
            Err(UrlError::Tls("ssl_verify_identity".into()))
        );
        assert!(to_sqlx("mysql://n:p@db/nova?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem").is_ok());
    }

    #[test]
    fn other_schemes_are_refused() {
        assert_eq!(
            to_sqlx("sqlite:///nova.db"),
            Err(UrlError::Scheme("sqlite".into()))
        );
        assert_eq!(to_sqlx("nova.db"), Err(UrlError::NoScheme));
        let debug = format!("{:?}", ok("mysql://n:secret@db/nova"));
        assert!(!debug.contains("secret"), "{debug}");
    }
}
