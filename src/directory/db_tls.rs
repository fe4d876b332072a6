//! TLS to the databases, asked for in the URL as each database's own
//! clients read it. sqlx carries it out with rustls and ring.
//!
//! PostgreSQL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, as libpq);
//! what sqlx does with each `sslmode`:
//!
//! | sslmode | sqlx |
//! | --- | --- |
//! | `disable`, `allow` | plaintext (`allow` is taken as `disable`) |
//! | `prefer` (also without `sslmode`) | TLS when the server offers it, its certificate **not checked**; plaintext when it does not |
//! | `require` | TLS or no connection; the certificate **not checked** |
//! | `verify-ca` | TLS; the chain checked, not the host name |
//! | `verify-full` | TLS; the chain and the host name checked |
//!
//! A chain is checked against `sslrootcert` **and** the system's roots
//! (libpq trusts only `sslrootcert`). herald adds one rule of libpq's: with
//! a root certificate, `require` checks the chain as `verify-ca` does. The
//! modes that encrypt without checking (`prefer` written out, `require`
//! without a root certificate) are accepted with a warning naming the key.
//!
//! MySQL/MariaDB (Nova mode: `ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key`, as
//! the mysql client): `DISABLED`; `PREFERRED` (also without `ssl-mode`: TLS
//! when offered, unchecked, else plaintext); `REQUIRED` (TLS, unchecked, as
//! the mysql client too); `VERIFY_CA`; `VERIFY_IDENTITY` (the chain and the
//! host name). `PREFERRED` written out and `REQUIRED` are warned the same way.

use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// A setting that asks for less than a checked certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// `sslmode=prefer` written out: unchecked, and plaintext as a fallback.
    Prefer,
    /// `sslmode=require` without a root certificate: unchecked.
    Require,
    /// MySQL `ssl-mode=PREFERRED` written out.
    MysqlPreferred,
    /// MySQL `ssl-mode=REQUIRED`.
    MysqlRequired,
}

impl Weakness {
    /// The start-up warning.
    pub fn message(self) -> &'static str {
        match self {
            Self::MysqlPreferred => {
                "directory.url: ssl-mode=PREFERRED uses TLS only when the server offers it, \
                 does not check its certificate, and falls back to plaintext; use \
                 ssl-mode=VERIFY_IDENTITY with ssl-ca"
            }
            Self::MysqlRequired => {
                "directory.url: ssl-mode=REQUIRED encrypts but does not check the server's \
                 certificate; use ssl-mode=VERIFY_IDENTITY with ssl-ca"
            }
            Self::Prefer => {
                "directory.url: sslmode=prefer uses TLS only when the server offers it, \
                 does not check its certificate, and falls back to plaintext; use \
                 sslmode=verify-full with sslrootcert"
            }
            Self::Require => {
                "directory.url: sslmode=require encrypts but does not check the server's \
                 certificate; add sslrootcert (then the chain is checked, as libpq does) \
                 or use sslmode=verify-full"
            }
        }
    }
}

/// The options as herald connects with them, and what they leave unchecked.
pub fn settle(url: &str, options: PgConnectOptions) -> (PgConnectOptions, Option<Weakness>) {
    match options.get_ssl_mode() {
        PgSslMode::Require if has_root_cert(&options) => {
            (options.ssl_mode(PgSslMode::VerifyCa), None)
        }
        PgSslMode::Require => (options, Some(Weakness::Require)),
        PgSslMode::Prefer if mode_written(url, Some("PGSSLMODE")) => {
            (options, Some(Weakness::Prefer))
        }
        _ => (options, None),
    }
}

/// MySQL/MariaDB: what the options leave unchecked (they are used as written).
pub fn mysql_weakness(url: &str, options: &MySqlConnectOptions) -> Option<Weakness> {
    match options.get_ssl_mode() {
        MySqlSslMode::Required => Some(Weakness::MysqlRequired),
        MySqlSslMode::Preferred if mode_written(url, None) => Some(Weakness::MysqlPreferred),
        _ => None,
    }
}

/// `directory.url`'s TLS as in effect (after [`settle`]), for `check-config`.
pub fn describe_url(url: &str) -> String {
    match PgConnectOptions::from_str(url.trim()) {
        Ok(options) => {
            let (options, _) = settle(url, options);
            format!("directory.url: PostgreSQL with {}", describe(&options))
        }
        Err(_) => "directory.url: not a PostgreSQL URL".to_owned(),
    }
}

/// `sslmode=… [sslrootcert=…]` as in effect, for `check-config` (paths only).
pub fn describe(options: &PgConnectOptions) -> String {
    let url = options.to_url_lossy();
    let shown: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| matches!(&**k, "sslmode" | "sslrootcert" | "sslcert" | "sslkey"))
        // sqlx writes a path as `file: /path`.
        .map(|(k, v)| format!("{k}={}", v.strip_prefix("file: ").unwrap_or(&v)))
        .collect();
    shown.join(" ")
}

/// Is a root certificate given (in the URL, or by `PGSSLROOTCERT`)?
fn has_root_cert(options: &PgConnectOptions) -> bool {
    options
        .to_url_lossy()
        .query_pairs()
        .any(|(key, _)| key == "sslrootcert")
}

/// Did the URL (or `env`, a variable sqlx also reads) write a mode out?
fn mode_written(url: &str, env: Option<&str>) -> bool {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let in_url = form_urlencoded::parse(query.as_bytes())
        .any(|(key, _)| key == "sslmode" || key == "ssl-mode");
    in_url || env.is_some_and(|name| std::env::var_os(name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mode in effect (by its URL name) and the warning.
    fn settled(url: &str) -> (&'static str, Option<Weakness>) {
        let options = PgConnectOptions::from_str(url).unwrap();
        let (options, weakness) = settle(url, options);
        let mode = match options.get_ssl_mode() {
            PgSslMode::Disable => "disable",
            PgSslMode::Allow => "allow",
            PgSslMode::Prefer => "prefer",
            PgSslMode::Require => "require",
            PgSslMode::VerifyCa => "verify-ca",
            PgSslMode::VerifyFull => "verify-full",
        };
        (mode, weakness)
    }

    #[test]
    fn checked_modes_pass_as_written() {
        let base = "postgres://u@db.example/herald";
        for (query, mode) in [
            ("?sslmode=verify-full&sslrootcert=/ca.pem", "verify-full"),
            ("?sslmode=verify-ca&sslrootcert=/ca.pem", "verify-ca"),
            ("?sslmode=disable", "disable"),
        ] {
            assert_eq!(settled(&format!("{base}{query}")), (mode, None), "{query}");
        }
    }

    #[test]
    fn require_checks_the_chain_when_a_root_is_given_as_libpq_does() {
        let url = "postgres://u@db.example/herald?sslmode=require&sslrootcert=/ca.pem";
        assert_eq!(settled(url), ("verify-ca", None));
        let url = "postgres://u@db.example/herald?sslmode=require";
        assert_eq!(settled(url), ("require", Some(Weakness::Require)));
    }

    #[test]
    fn prefer_written_out_is_warned_and_the_default_is_not() {
        let url = "postgres://u@db.example/herald?sslmode=prefer";
        assert_eq!(settled(url), ("prefer", Some(Weakness::Prefer)));
        if std::env::var_os("PGSSLMODE").is_none() {
            let url = "postgres://u@db.example/herald";
            assert_eq!(settled(url), ("prefer", None));
        }
        assert!(Weakness::Prefer.message().starts_with("directory.url"));
        assert!(Weakness::Require.message().starts_with("directory.url"));
    }

    #[test]
    fn mysql_required_and_preferred_written_out_are_warned() {
        let weakness =
            |url: &str| mysql_weakness(url, &MySqlConnectOptions::from_str(url).unwrap());
        let base = "mysql://nova:pw@db/nova";
        assert_eq!(
            weakness(&format!("{base}?ssl-mode=REQUIRED")),
            Some(Weakness::MysqlRequired)
        );
        assert_eq!(
            weakness(&format!("{base}?ssl-mode=PREFERRED")),
            Some(Weakness::MysqlPreferred)
        );
        assert_eq!(
            weakness(base),
            None,
            "the mysql client's default, unwritten"
        );
        let checked = format!("{base}?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem");
        assert_eq!(weakness(&checked), None);
    }

    #[test]
    fn description_names_paths_not_contents() {
        let url = "postgres://u:secret@db/h?sslmode=verify-full&sslrootcert=/etc/ca.pem";
        let shown = describe(&PgConnectOptions::from_str(url).unwrap());
        assert_eq!(shown, "sslmode=verify-full sslrootcert=/etc/ca.pem");
        let url = "postgres://u@db/h?sslmode=require&sslrootcert=/etc/ca.pem";
        assert_eq!(
            describe_url(url),
            "directory.url: PostgreSQL with sslmode=verify-ca sslrootcert=/etc/ca.pem"
        );
    }
}
