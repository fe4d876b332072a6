//! The TLS settings turned into rustls configs: file errors name the file,
//! and each verifier accepts exactly what it should, checked by running
//! the verifier on certificates made for the test.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::*;

// Shared with the integration tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../../tests/it/support/certs.rs"]
mod certs;
use certs::TestPki;

fn settings(pki: &TestPki, ca: &str, verify: Verify) -> ClientTls {
    ClientTls {
        ca_file: Some(pki.path(ca)),
        identity: None,
        verify,
    }
}

/// Runs the verifier `settings` build on `cert`, presented for `name`.
fn check(settings: &ClientTls, cert: &str, pki: &TestPki, name: &str) -> Result<(), rustls::Error> {
    let verifier = settings.verifier(provider()).unwrap();
    let der: CertificateDer<'static> =
        rustls_pki_types::pem::PemObject::from_pem_file(pki.path(cert)).unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    verifier
        .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
        .map(|_| ())
}

#[test]
fn the_full_check_wants_a_known_issuer_the_right_name_and_a_live_certificate() {
    let pki = TestPki::new();
    let full = settings(&pki, "ca.pem", Verify::Full);
    check(&full, "server.pem", &pki, "localhost").unwrap();
    check(&full, "server.pem", &pki, "127.0.0.1").unwrap();
    let wrong_name = check(&full, "other-name.pem", &pki, "localhost").unwrap_err();
    assert!(
        wrong_name.to_string().contains("not valid for name"),
        "{wrong_name}"
    );
    let unknown = check(&full, "rogue-server.pem", &pki, "localhost").unwrap_err();
    assert!(unknown.to_string().contains("UnknownIssuer"), "{unknown}");
    let expired = check(&full, "expired.pem", &pki, "localhost").unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

#[test]
fn chain_only_accepts_another_name_and_nothing_else() {
    let pki = TestPki::new();
    let chain = settings(&pki, "ca.pem", Verify::ChainOnly);
    check(&chain, "other-name.pem", &pki, "localhost").unwrap();
    let unknown = check(&chain, "rogue-server.pem", &pki, "localhost").unwrap_err();
    assert!(unknown.to_string().contains("UnknownIssuer"), "{unknown}");
    let expired = check(&chain, "expired.pem", &pki, "localhost").unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

#[test]
fn nothing_accepts_any_certificate() {
    let pki = TestPki::new();
    let none = settings(&pki, "ca.pem", Verify::Nothing);
    check(&none, "rogue-server.pem", &pki, "elsewhere.invalid").unwrap();
}

#[test]
fn a_client_identity_is_loaded_and_must_match_its_key() {
    let pki = TestPki::new();
    let mut tls = settings(&pki, "ca.pem", Verify::Full);
    tls.identity = Some(Identity {
        cert_file: pki.path("client.pem"),
        key_file: pki.path("client.key"),
    });
    assert!(
        tls.client_config()
            .unwrap()
            .client_auth_cert_resolver
            .has_certs()
    );
    tls.identity = Some(Identity {
        cert_file: pki.path("client.pem"),
        key_file: pki.path("server.key"),
    });
    let error = tls.client_config().unwrap_err();
    assert!(matches!(error, TlsError::BadIdentity { .. }), "{error:?}");
}

#[test]
fn file_errors_name_the_file() {
    let pki = TestPki::new();
    let missing = PathBuf::from("/nonexistent/ca.pem");
    let tls = ClientTls {
        ca_file: Some(missing),
        identity: None,
        verify: Verify::Full,
    };
    let error = crate::support::error_chain::error_chain(&tls.client_config().unwrap_err());
    assert!(error.contains("CA file /nonexistent/ca.pem"), "{error}");
    // A key where certificates should be, and a certificate where a key should be.
    let tls = settings(&pki, "server.key", Verify::Full);
    let error = tls.client_config().unwrap_err().to_string();
    assert!(
        error.contains("server.key holds no PEM certificate"),
        "{error}"
    );
    let mut tls = settings(&pki, "ca.pem", Verify::Full);
    tls.identity = Some(Identity {
        cert_file: pki.path("client.pem"),
        key_file: pki.path("client.pem"),
    });
    let error = tls.client_config().unwrap_err().to_string();
    assert!(
        error.contains("client.pem holds no PEM private key"),
        "{error}"
    );
}

#[test]
fn tls_failures_are_told_from_other_io_errors() {
    let io = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
    );
    assert!(is_tls_failure(&io));
    // hyper-rustls wraps tokio-rustls's io::Error in another one.
    assert!(is_tls_failure(&std::io::Error::other(io)));
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(!is_tls_failure(&refused));
}
