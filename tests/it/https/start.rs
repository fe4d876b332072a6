//! `herald serve` refuses to start on half a pair or a pair it cannot
//! serve, with one line naming the key and the file: asking for HTTPS never
//! ends in plain HTTP.

use std::process::Command;

use super::certs::{PairFiles, TestCa};

fn serve_fails_with(dir: &std::path::Path, tls_toml: &str) -> String {
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[http.tls]\n{tls_toml}\n\
         [auth]\nmode = \"noauth\"\n[directory]\nurl = \":memory:\"\n"
    );
    let path = dir.join("herald.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started with {tls_toml}");
    // Log lines may come first; the reason is the one `herald:` line.
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let reasons: Vec<&str> = err.lines().filter(|l| l.starts_with("herald: ")).collect();
    assert_eq!(reasons.len(), 1, "{err}");
    reasons[0].to_owned()
}

#[test]
fn serve_refuses_half_a_pair_and_a_pair_it_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let pair = PairFiles::in_dir(dir.path());
    let half = format!("cert_file = {:?}", pair.cert.display().to_string());
    let err = serve_fails_with(dir.path(), &half);
    assert!(err.contains("http.tls.key_file"), "{err}");

    let both = format!(
        "cert_file = {:?}\nkey_file = {:?}",
        pair.cert.display().to_string(),
        pair.key.display().to_string()
    );
    let err = serve_fails_with(dir.path(), &both);
    assert!(
        err.contains("http.tls") && err.contains("cannot read") && err.contains("server-cert.pem"),
        "{err}"
    );

    let ca = TestCa::new();
    let (one, other) = (ca.leaf("one"), ca.leaf("other"));
    pair.write(&one.cert_pem, &other.key_pem);
    let err = serve_fails_with(dir.path(), &both);
    assert!(err.contains("cannot serve the certificate"), "{err}");
}

#[test]
fn check_config_shows_the_pair_in_effect_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let pair = PairFiles::in_dir(dir.path());
    let ca = TestCa::new();
    let leaf = ca.leaf("herald-check");
    pair.write_leaf(&leaf);
    let config = format!(
        "[http.tls]\ncert_file = {:?}\nkey_file = {:?}\n[auth]\nmode = \"noauth\"\n",
        pair.cert.display().to_string(),
        pair.key.display().to_string()
    );
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, config).unwrap();
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["check-config", "--offline", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let ok = check();
    let err = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{err}");
    let shown = format!(
        "cert_file = {}, key_file = {}",
        pair.cert.display(),
        pair.key.display()
    );
    assert!(err.contains(&shown), "{err}");
    assert!(!String::from_utf8_lossy(&ok.stdout).contains("PRIVATE KEY"));

    pair.write(&leaf.cert_pem, &ca.leaf("another").key_pem);
    let broken = check();
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(!broken.status.success());
    assert!(
        err.contains("http.tls") && err.contains("cannot serve the certificate"),
        "{err}"
    );
}
