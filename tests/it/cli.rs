//! The `herald` binary's edges: `--help` everywhere, one-line reasons that
//! name the culprit on a bad config or a busy port, and `check-config`.

use std::process::{Command, Output};

const HERALD: &str = env!("CARGO_BIN_EXE_herald");

fn herald(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(HERALD);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the herald binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

const MINIMAL: &str =
    "[[auth.tokens]]\ntoken = \"t\"\nroles = [\"admin\"]\n[directory]\nurl = \":memory:\"\n";

#[test]
fn help_works_for_every_subcommand() {
    for sub in [
        &["--help"][..],
        &["serve", "--help"],
        &["agent", "--help"],
        &["check-config", "--help"],
    ] {
        let out = herald(sub, &[]);
        assert!(out.status.success(), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{sub:?}"
        );
    }
}

#[test]
fn bad_config_names_the_key_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{MINIMAL}[http]\nlisten_adress = \"127.0.0.1:1\"\n"),
            "listen_adress",
        ),
        (
            format!("{MINIMAL}[amqp]\nconfirm_timeout = \"soon\"\n"),
            "confirm_timeout",
        ),
        (
            format!("{MINIMAL}[agent]\nqueue_type = \"stream\"\n"),
            "queue_type",
        ),
        ("[auth]\nmode = \"token\"\n".to_owned(), "auth.tokens"),
    ];
    for (text, key) in cases {
        let path = write_config(&dir, &text);
        for sub in ["check-config", "serve"] {
            let out = herald(&[sub, "--config", &path], &[]);
            assert!(!out.status.success(), "{sub} accepted {text}");
            let err = stderr(&out);
            assert!(err.contains(key), "{sub}: {key} not named in {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
    let out = herald(
        &["check-config", "--config", &write_config(&dir, MINIMAL)],
        &[("HERALD__AMQP__BOGUS", "1")],
    );
    assert!(stderr(&out).contains("bogus"), "{}", stderr(&out));
}

#[test]
fn busy_port_names_the_address() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, MINIMAL);
    let out = herald(
        &["serve", "--config", &path],
        &[("HERALD__HTTP__LISTEN", &addr)],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("http.listen") && err.contains(&addr), "{err}");
}

#[test]
fn check_config_masks_secrets_and_probes_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        &format!("{MINIMAL}[amqp]\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\n"),
    );
    let ok = herald(&["check-config", "--config", &path], &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let shown = String::from_utf8_lossy(&ok.stdout);
    assert!(shown.contains("guest:***@"), "{shown}");
    assert!(!shown.contains("token = \"t\""), "{shown}");
    let down = herald(
        &["check-config", "--config", &path],
        &[("HERALD__AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    );
    assert!(!down.status.success());
    assert!(stderr(&down).contains("amqp.url"), "{}", stderr(&down));
}
