//! The README's front door, kept true by running it. The `sh` blocks of its
//! "A curl session" section, read from README.md itself (so the two cannot
//! drift), run with bash against the built `herald serve` and `herald agent
//! --host compute-1` on config/herald.toml, the default config the section
//! names, with only the listen addresses (free ports) and the broker names
//! (the test's own) overridden; in the extracted text only the addresses
//! are substituted. The answers must be what the section shows: the PUTs
//! answer 200, the POST 207 with the documented head and body (codes 200,
//! 404, 422 in order), the agent prints the event, and the waiter answers
//! 200 with it. The control: the waiter line without its tag answers 408.

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald::broker::Topology;
use herald::config::Config;
use herald::model::HostName;
use serde_json::Value;

use crate::support::child::HeraldCommand;
use crate::support::http::codes;
use crate::support::{BrokerCleanup, HeraldChild, unique_config, within};

const SECTION: &str = "A curl session";
/// What the wrapped `curl` prints after each transfer: a marker and the status.
const MARK: &str = "@@readme-test-status ";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The text under the `## title` heading, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, title: &str) -> &'a str {
    let heading = format!("\n## {title}\n");
    let start = markdown
        .find(&heading)
        .unwrap_or_else(|| panic!("README.md has no section \"## {title}\""))
        + heading.len();
    let rest = &markdown[start..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The fenced code blocks of `text` whose info string is `lang` ("" for
/// plain fences), in order.
fn code_blocks(text: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<(bool, String)> = None;
    for line in text.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim() == lang, String::new())),
            (Some((wanted, block)), Some(_)) => {
                if *wanted {
                    blocks.push(std::mem::take(block));
                }
                open = None;
            }
            (Some((_, block)), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code fence");
    blocks
}

/// `text` with every `from` replaced by `to`; `from` must occur.
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from} does not occur in:\n{text}");
    text.replace(from, to)
}

/// The waiter line as it was before the fix: no `&tag=…`, and a 1 s timeout.
fn untagged(waiter: &str) -> String {
    let start = waiter.find("&tag=").expect("the waiter asks for a tag");
    let end = waiter[start + 1..]
        .find(['&', '\''])
        .map_or(waiter.len(), |i| start + 1 + i);
    let without = format!("{}{}", &waiter[..start], &waiter[end..]);
    substitute(&without, "timeout=10", "timeout=1")
}

/// Runs `script` with bash, `curl` wrapped to mark where each transfer's
/// output ends and its status; returns (status, output) per transfer.
async fn run_sh(script: &str) -> Vec<(u16, String)> {
    let wrapped = format!(
        "curl() {{ command curl --write-out '\\n{MARK}%{{http_code}}\\n' \"$@\"; }}\n{script}"
    );
    let run = tokio::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &wrapped])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = within(Duration::from_secs(60), "the README's commands", run)
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut transfers = Vec::new();
    let mut output = String::new();
    for line in stdout.lines() {
        match line.strip_prefix(MARK) {
            Some(code) => {
                transfers.push((code.parse().expect("a status"), std::mem::take(&mut output)))
            }
            None => output.push_str(&format!("{line}\n")),
        }
    }
    transfers
}

/// An HTTP answer as `curl -i` prints it: (status line, headers, body).
fn split_answer(text: &str) -> (String, Vec<(String, String)>, Value) {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines.next().expect("a status line").trim().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (
        status,
        headers,
        serde_json::from_str(body).expect("a JSON body"),
    )
}

/// The real answer has the documented status line and body, and every
/// documented header (a value with `…` stands for its prefix).
fn assert_as_documented(real: &str, documented: &str) {
    let (status, headers, body) = split_answer(real);
    let (want_status, want_headers, want_body) = split_answer(documented);
    assert_eq!(status, want_status);
    for (name, want) in want_headers {
        let value = headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str());
        let prefix = want.split('…').next().unwrap_or_default();
        assert!(
            value.is_some_and(|v| v.starts_with(prefix)),
            "{name}: {value:?}, documented {want}"
        );
    }
    assert_eq!(body, want_body, "the documented body");
}

/// `herald <args>` on config/herald.toml with `overrides`.
fn herald(args: &[&str], overrides: &[(&str, &str)]) -> HeraldChild {
    let command = HeraldCommand::new(args).config_file(&repo("config/herald.toml"));
    overrides
        .iter()
        .fold(command, |c, (k, v)| c.env(k, v))
        .spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_curl_session_answers_as_documented() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md reads");
    let text = section(&readme, SECTION);
    let (session, waiter) = match code_blocks(text, "sh").as_slice() {
        [session, waiter] => (session.clone(), waiter.clone()),
        other => panic!("two sh blocks in \"{SECTION}\", found {}", other.len()),
    };
    let documented = code_blocks(text, "")
        .into_iter()
        .next()
        .expect("the documented answer");
    let defaults = Config::load(&repo("config/herald.toml"), std::iter::empty())
        .expect("the default config loads");

    let names = unique_config().amqp;
    let dir = tempfile::tempdir().expect("a temp dir");
    let sqlite = dir.path().join("herald.sqlite3").display().to_string();
    let broker = [
        ("HERALD__AMQP__EXCHANGE", names.exchange.as_str()),
        ("HERALD__AMQP__QUEUE_PREFIX", &names.queue_prefix),
    ];
    let mut cleanup = BrokerCleanup::exchange(&names.exchange);
    cleanup.queue(&Topology::new(&names).queue(&HostName::parse("compute-1").expect("a host")));
    let mut serve = herald(
        &["serve"],
        &[
            ("HERALD__HTTP__LISTEN", "127.0.0.1:0"),
            ("HERALD__DIRECTORY__URL", &sqlite),
            broker[0],
            broker[1],
        ],
    );
    let mut agent = herald(
        &["agent", "--host", "compute-1"],
        &[
            ("HERALD__AGENT__WAITER_LISTEN", "127.0.0.1:0"),
            broker[0],
            broker[1],
        ],
    );
    let serve_addr = serve.wait_ok("/readyz").await.to_string();
    let agent_addr = agent.wait_ok("/readyz").await.to_string();
    let mut printed = agent.lines();
    let at_serve = |sh: &str| substitute(sh, &defaults.http.listen.to_string(), &serve_addr);
    let at_agent =
        |sh: &str| substitute(sh, &defaults.agent.waiter_listen.to_string(), &agent_addr);

    let answers = run_sh(&at_serve(&session)).await;
    let [(put_1, placed), (put_2, unplaced), (post, events)] = answers.as_slice() else {
        panic!("three curl calls in the session: {answers:?}");
    };
    assert_eq!((put_1, put_2), (&200, &200), "{placed}\n{unplaced}");
    let placed: Value = serde_json::from_str(placed).expect("a JSON answer");
    assert_eq!(placed["server"]["host"], "compute-1");
    assert_eq!(*post, 207, "{events}");
    assert_as_documented(events, &documented);
    let (_, _, body) = split_answer(events);
    assert_eq!(codes(&body), [200, 404, 422]);

    let line = within(
        Duration::from_secs(30),
        "the agent prints the event",
        printed.recv(),
    )
    .await
    .expect("its stdout is open");
    let delivered = &body["events"][0];
    for key in ["name", "server_uuid", "tag", "status"] {
        assert_eq!(line[key], delivered[key], "{key} of {line}");
    }

    let waited = run_sh(&at_agent(&waiter)).await;
    let [(200, event)] = waited.as_slice() else {
        panic!("the waiter answers 200 with the event: {waited:?}");
    };
    let event: Value = serde_json::from_str(event).expect("a JSON event");
    assert_eq!(event["message_id"], line["message_id"], "{event}");
    assert_eq!(event["tag"], delivered["tag"]);

    // The control: the waiter as it was, untagged, never sees the tagged event.
    let control = run_sh(&at_agent(&untagged(&waiter))).await;
    assert!(matches!(control.as_slice(), [(408, _)]), "{control:?}");

    assert!(serve.stop().await.success(), "serve exits 0 on SIGTERM");
    assert!(agent.stop().await.success(), "the agent exits 0 on SIGTERM");
    cleanup.clean().await;
}

const SAMPLE: &str = "intro\n\n## A curl session\n\ntext\n\n```sh\necho one\n```\n\n```\nplain\n```\n\n```rust\nfn x() {}\n```\n\n```sh\necho two\n```\n\n## Next\n\n```sh\necho elsewhere\n```\n";

#[test]
fn the_sections_sh_blocks_are_extracted_in_order_and_only_theirs() {
    let text = section(SAMPLE, SECTION);
    assert_eq!(code_blocks(text, "sh"), ["echo one\n", "echo two\n"]);
    assert_eq!(code_blocks(text, ""), ["plain\n"]);
}

#[test]
#[should_panic(expected = "README.md has no section \"## A curl walk\"")]
fn a_renamed_section_fails_rather_than_running_nothing() {
    section(SAMPLE, "A curl walk");
}

#[test]
#[should_panic(expected = "127.0.0.1:8774 does not occur")]
fn an_address_the_text_does_not_hold_fails_the_substitution() {
    substitute("curl -s 127.0.0.1:9999/x", "127.0.0.1:8774", "127.0.0.1:1");
}

#[test]
fn the_control_is_the_waiter_without_its_tag() {
    let waiter = "curl -s '127.0.0.1:8775/events/wait?server_uuid=u&name=n&tag=t-1&timeout=10'\n";
    assert_eq!(
        untagged(waiter),
        "curl -s '127.0.0.1:8775/events/wait?server_uuid=u&name=n&timeout=1'\n"
    );
}

#[test]
fn a_documented_header_with_an_ellipsis_stands_for_its_prefix() {
    let documented = "HTTP/1.1 207 Multi-Status\nx-id: req-…\n\n{\"a\": 1}";
    assert_as_documented(
        "HTTP/1.1 207 Multi-Status\r\nX-Id: req-42\r\n\r\n{\"a\":1}\n",
        documented,
    );
    let wrong = std::panic::catch_unwind(|| {
        assert_as_documented(
            "HTTP/1.1 207 Multi-Status\r\nX-Id: 42\r\n\r\n{\"a\":1}",
            documented,
        )
    });
    assert!(
        wrong.is_err(),
        "a header without the prefix is not as documented"
    );
}
