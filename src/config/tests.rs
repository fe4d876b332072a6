//! The hub's tests: defaults, the shipped files, overrides, unknown keys,
//! each owner reading its keys from the section users write, redaction.

use std::time::Duration;

use super::*;
use crate::broker::QueueType;
use crate::directory::config::DirectoryBackend;
use crate::telemetry::LogFormat;

const MINIMAL: &str = "[[auth.tokens]]\ntoken = \"secret\"\nroles = [\"admin\"]\n";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_contract() {
    let c = Config::from_toml(MINIMAL, env(&[])).unwrap();
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8774");
    assert_eq!(c.http.max_body_bytes, 114_688);
    assert_eq!(c.auth.required_roles, ["admin", "service"]);
    assert_eq!(c.amqp.exchange, "herald");
    assert_eq!(c.amqp.routing_prefix, "events");
    assert_eq!(c.amqp.queue_prefix, "herald.events");
    assert_eq!(c.dispatch.confirm_timeout, Duration::from_secs(5));
    assert_eq!(c.directory.backend, DirectoryBackend::Sqlite);
    assert_eq!(c.agent.prefetch, 64);
    assert_eq!(c.agent.retention, Duration::from_secs(300));
    assert_eq!(c.log.format, LogFormat::Text);
}

#[test]
fn the_shipped_config_file_is_valid() {
    let text = include_str!("../../config/herald.toml");
    Config::from_toml(text, env(&[])).unwrap();
}

#[test]
fn the_compose_config_is_valid_with_its_overrides() {
    let text = include_str!("../../config/compose.toml");
    let c = Config::from_toml(
        text,
        env(&[
            (
                "HERALD__AMQP__URL",
                "amqp://herald:herald@rabbitmq:5672/%2f",
            ),
            (
                "HERALD__DIRECTORY__URL",
                "postgres://herald:herald@postgres:5432/herald",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(c.directory.backend, DirectoryBackend::Postgres);
}

#[test]
fn environment_overrides_scalars() {
    let c = Config::from_toml(
        MINIMAL,
        env(&[
            ("HERALD__AMQP__URL", "amqp://u:p@10.0.0.1:5672/%2f"),
            ("HERALD__AMQP__CONFIRM_TIMEOUT", "250ms"),
            ("HERALD__HTTP__MAX_BODY_BYTES", "1024"),
            ("HERALD__LOG__FORMAT", "json"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.amqp.url, "amqp://u:p@10.0.0.1:5672/%2f".into());
    assert_eq!(c.dispatch.confirm_timeout, Duration::from_millis(250));
    assert_eq!(c.http.max_body_bytes, 1024);
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_toml(&format!("{MINIMAL}[http]\nlisten_addr = \"x\"\n"), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.listen_addr"), "{err}");
    let err = Config::from_toml(MINIMAL, env(&[("HERALD__AMQP__NOPE", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("amqp.nope"), "{err}");
    let err = Config::from_toml(&format!("{MINIMAL}[nope]\nx = 1\n"), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    let err = Config::from_toml(&format!("{MINIMAL}[agent]\nprefetch = \"x\"\n"), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("agent.prefetch"), "{err}");
}

#[test]
fn every_section_and_key_reads_back_as_written() {
    let text = include_str!("../../config/herald.toml");
    let c = Config::from_toml(text, env(&[])).unwrap();
    let again = Config::from_toml(&toml::to_string(&c).unwrap(), env(&[])).unwrap();
    assert_eq!(
        toml::to_string(&again).unwrap(),
        toml::to_string(&c).unwrap()
    );
    let shown = toml::to_string(&c).unwrap();
    for line in ["confirm_timeout = ", "queue_type = ", "token_cache_time = "] {
        assert!(shown.contains(line), "{line} missing from {shown}");
    }
}

#[test]
fn owners_of_one_section_declare_no_key_twice() {
    use sections::declared_keys;
    let pairs = [
        (
            declared_keys::<AuthConfig>(),
            declared_keys::<KeystoneConfig>(),
        ),
        (
            declared_keys::<AmqpConfig>(),
            declared_keys::<DispatchConfig>(),
        ),
        (
            declared_keys::<AgentConfig>(),
            declared_keys::<QueueSettings>(),
        ),
    ];
    for (first, second) in pairs {
        assert!(!first.is_empty() && !second.is_empty());
        for key in first {
            assert!(!second.contains(key), "{key} has two owners");
        }
    }
    assert!(declared_keys::<DispatchConfig>().contains(&"coalesce_in_flight"));
    assert!(declared_keys::<QueueSettings>().contains(&"message_ttl"));
}

#[test]
fn keys_of_every_owner_are_read_from_the_section_users_write() {
    let text = format!(
        "{MINIMAL}[amqp]\nexchange = \"e\"\ncoalesce = false\n\
         [agent]\nprefetch = 7\nqueue_type = \"quorum\"\n\
         [auth]\nrequired_roles = [\"admin\"]\ntoken_cache_size = 9\n"
    );
    let c = Config::from_toml(&text, env(&[("HERALD__AGENT__MESSAGE_TTL", "10m")])).unwrap();
    assert_eq!(c.amqp.exchange, "e");
    assert!(!c.dispatch.coalesce);
    assert_eq!(c.agent.prefetch, 7);
    assert_eq!(c.queue.queue_type, QueueType::Quorum);
    assert_eq!(c.queue.message_ttl, Some(Duration::from_secs(600)));
    assert_eq!(c.auth.required_roles, ["admin"]);
    assert_eq!(c.keystone.token_cache_size, 9);
}

#[test]
fn bad_values_are_named() {
    let cases = [
        ("[amqp]\nurl = \"http://x\"\n", "amqp.url"),
        ("[amqp]\nexchange = \"\"\n", "amqp.exchange"),
        ("[amqp]\nconfirm_timeout = \"0s\"\n", "amqp.confirm_timeout"),
        ("[amqp]\ncoalesce_queue = 0\n", "amqp.coalesce_queue"),
        ("[agent]\nmessage_ttl = \"0s\"\n", "agent.message_ttl"),
        ("[agent]\nprefetch = 0\n", "agent.prefetch"),
        ("[agent]\nshutdown_grace = \"0s\"\n", "agent.shutdown_grace"),
        (
            "[agent]\nwaiter_header_read_timeout = \"2h\"\n",
            "agent.waiter_header_read_timeout",
        ),
        ("[log]\nlevel = \"info,[\"\n", "log.level"),
    ];
    for (extra, key) in cases {
        let err = Config::from_toml(&format!("{MINIMAL}{extra}"), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{extra}: {err}");
    }
    let err = Config::from_toml("[http]\nlisten = \"nowhere\"\n", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn token_mode_needs_tokens_and_hashes_are_checked() {
    let err = Config::from_toml("", env(&[])).unwrap_err().to_string();
    assert!(err.contains("auth.tokens"), "{err}");
    let err = Config::from_toml("[[auth.tokens]]\ntoken_sha256 = \"abc\"\n", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("token_sha256"), "{err}");
    Config::from_toml("[auth]\nmode = \"noauth\"\n", env(&[])).unwrap();
}

#[test]
fn redaction_hides_secrets() {
    let c = Config::from_toml(
        &format!("{MINIMAL}[amqp]\nurl = \"amqp://bob:hunter2@h:5672/%2f\"\n"),
        env(&[]),
    )
    .unwrap();
    let shown = c.redacted_toml();
    let keystone = Config::from_toml(&format!("{MINIMAL}[auth]\npassword = \"pw-9\"\n"), env(&[]))
        .unwrap()
        .redacted_toml();
    assert!(
        !keystone.contains("pw-9") && keystone.contains("***"),
        "{keystone}"
    );
    assert!(!shown.contains("secret"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("amqp://bob:***@h:5672/%2f"), "{shown}");
}

#[test]
fn the_nova_wire_needs_the_nova_directory() {
    use crate::broker::NovaTopic;
    let nova_wire = format!("{MINIMAL}[amqp]\nwire = \"nova\"\n");
    let err = Config::from_toml(&nova_wire, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("amqp.wire") && err.contains("directory.backend"),
        "{err}"
    );
    let both = format!(
        "{nova_wire}[directory]\nbackend = \"nova\"\nurl = \"mysql://u:p@127.0.0.1/nova_api\"\n"
    );
    let c = Config::from_toml(&both, env(&[])).unwrap();
    assert_eq!(c.amqp.nova_exchange, "nova");
    assert_eq!(c.amqp.nova_topic, NovaTopic::Auto);
    // Nova's own spelling of the broker (rabbit://, an empty vhost) is fine here.
    let rabbit = Config::from_toml(
        &both,
        env(&[("HERALD__AMQP__URL", "rabbit://u:p@h1:5672,u:p@h2:5672/")]),
    );
    assert!(rabbit.is_ok(), "{:?}", rabbit.err());
    let topic =
        Config::from_toml(&both, env(&[("HERALD__AMQP__NOVA_TOPIC", "compute-alt")])).unwrap();
    assert_eq!(topic.amqp.nova_topic, NovaTopic::ComputeAlt);
    let bad = Config::from_toml(&both, env(&[("HERALD__AMQP__NOVA_TOPIC", "alt")]));
    assert!(bad.unwrap_err().to_string().contains("alt"));
    // The herald wire on Nova's directory is a mix that makes sense.
    let herald_wire = both.replace("wire = \"nova\"", "wire = \"herald\"");
    assert!(Config::from_toml(&herald_wire, env(&[])).is_ok());
}

#[test]
fn nova_database_urls_are_masked() {
    let c = Config::from_toml(
        &format!(
            "{MINIMAL}[directory]\nbackend = \"nova\"\n\
             url = \"mysql+pymysql://herald:pw1@db/nova_api?charset=utf8\"\n\
             nova_database_url = \"mysql+pymysql://herald:pw2@db/nova\"\n"
        ),
        env(&[]),
    )
    .unwrap();
    let shown = c.redacted_toml();
    assert!(!shown.contains("pw1") && !shown.contains("pw2"), "{shown}");
    assert!(
        shown.contains("mysql+pymysql://herald:***@db/nova\""),
        "{shown}"
    );
}
