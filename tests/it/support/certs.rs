//! The tests' certificates, made here with rcgen (ECDSA P-256): [`TestCa`],
//! a CA of the test's own that issues server and client certificates
//! ([`Leaf`]), and [`TestPki`], a whole PKI written as PEM files in a temp
//! dir (keys mode 0600, as PostgreSQL wants them) for the TLS tests against
//! RabbitMQ, Keystone and PostgreSQL. Also compiled into `src/tls/tests.rs`
//! by `#[path]`, so it uses nothing else of the harness.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;

/// What a certificate is for.
#[derive(Clone, Copy)]
pub enum Role {
    Server,
    Client,
}

/// A CA of the test's own. Its name ends in a fresh uuid, so another test
/// CA is another issuer, not a same-named one with a bad signature.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new() -> Self {
        Self::named("herald test CA")
    }

    /// A CA whose name starts with `common_name`.
    pub fn named(common_name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("{common_name} {}", uuid::Uuid::new_v4()),
        );
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA");
        Self { issuer }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A new server certificate (new key) for `localhost` and `127.0.0.1`,
    /// named `common_name`.
    pub fn leaf(&self, common_name: &str) -> Leaf {
        self.issue(
            common_name,
            &["localhost", "127.0.0.1"],
            Role::Server,
            false,
        )
    }

    /// A new certificate (new key) for `names`; `expired` ended yesterday.
    pub fn issue(&self, common_name: &str, names: &[&str], role: Role, expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match role {
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        if expired {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(30);
            params.not_after = now - time::Duration::days(1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// The PEM files of one test's PKI: `ca` with `server` (localhost and
/// 127.0.0.1), `client`, `other-name` (a server certificate for another
/// name) and `expired`; and `rogue-ca`, a CA nobody trusts, with
/// `rogue-server`.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes every certificate and writes them to a fresh temp dir.
    pub fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let ca = TestCa::named("herald test CA");
        pki.write("ca.pem", &ca.pem());
        let both = ["localhost", "127.0.0.1"];
        pki.write_leaf("server", &ca.issue("localhost", &both, Role::Server, false));
        pki.write_leaf(
            "client",
            &ca.issue("herald-client", &["herald-client"], Role::Client, false),
        );
        pki.write_leaf(
            "other-name",
            &ca.issue(
                "elsewhere.invalid",
                &["elsewhere.invalid"],
                Role::Server,
                false,
            ),
        );
        pki.write_leaf("expired", &ca.issue("localhost", &both, Role::Server, true));
        let rogue = TestCa::named("an unknown CA");
        pki.write("rogue-ca.pem", &rogue.pem());
        pki.write_leaf("rogue-server", &rogue.leaf("localhost"));
        pki
    }

    /// `<name>.pem` (a certificate) or `<name>.key` (its key).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn write_leaf(&self, name: &str, leaf: &Leaf) {
        self.write(&format!("{name}.pem"), &leaf.cert_pem);
        self.write(&format!("{name}.key"), &leaf.key_pem);
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.path(file);
        std::fs::write(&path, text).expect("temp dir is writable");
        let mode = if file.ends_with(".key") { 0o600 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}
