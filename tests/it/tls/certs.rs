//! Certificates made by the tests (rcgen, ECDSA P-256, PEM files in a temp
//! dir, keys mode 0600 as PostgreSQL wants them): a CA; a server certificate
//! for `localhost` and `127.0.0.1`; a client certificate; a certificate for
//! another name; a second CA nobody trusts with a server certificate of its
//! own; and an expired server certificate. Also used by `src/tls/tests.rs`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The PEM files of one test's PKI.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes every certificate and writes them to a fresh temp dir.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Self { dir };
        let ca = pki.ca("ca", "herald test CA");
        pki.leaf(
            "server",
            &ca,
            &["localhost", "127.0.0.1"],
            Role::Server,
            false,
        );
        pki.leaf("client", &ca, &["herald-client"], Role::Client, false);
        pki.leaf(
            "other-name",
            &ca,
            &["elsewhere.invalid"],
            Role::Server,
            false,
        );
        pki.leaf(
            "expired",
            &ca,
            &["localhost", "127.0.0.1"],
            Role::Server,
            true,
        );
        let rogue = pki.ca("rogue-ca", "an unknown CA");
        pki.leaf(
            "rogue-server",
            &rogue,
            &["localhost", "127.0.0.1"],
            Role::Server,
            false,
        );
        pki
    }

    /// `<name>.pem` (a certificate) or `<name>.key` (its key).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn ca(&self, name: &str, common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("CA");
        self.write(&format!("{name}.pem"), &ca.pem());
        ca
    }

    fn leaf(
        &self,
        name: &str,
        ca: &CertifiedIssuer<'static, KeyPair>,
        names: &[&str],
        role: Role,
        expired: bool,
    ) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
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
        let cert = params.signed_by(&key, ca).expect("signed");
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}.key"), &key.serialize_pem());
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.path(file);
        std::fs::write(&path, text).expect("temp dir is writable");
        let mode = if file.ends_with(".key") { 0o600 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

#[derive(Clone, Copy)]
enum Role {
    Server,
    Client,
}
