//! `--nova-servers`: the servers a run drives when they live in Nova's own
//! databases. herald cannot seed those (Nova's directory is read-only to it),
//! so a fixture makes the rows with nova's objects (`bench/nova_api/seed.py`)
//! and lists them in a file, `{"servers": [{"uuid": U, "host": H}, …]}`;
//! the run reads it into a [`Plan`] with the hosts in the order they first
//! appear. The same file drives nova-api and herald in Nova mode, so both
//! get the same rows and, batch for batch, the same events.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::plan::Plan;
use crate::model::{HostName, ServerId};

/// Most servers a file may list.
pub const MAX_SERVERS: usize = 1_000_000;
/// Largest file read.
const MAX_BYTES: u64 = 128 << 20;

/// Why the file cannot make a plan.
#[derive(Debug, thiserror::Error)]
pub enum ServersFileError {
    #[error("--nova-servers {path}: cannot read it")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--nova-servers {path}: larger than {MAX_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("--nova-servers {path}: not {{\"servers\": [{{\"uuid\": …, \"host\": …}}]}}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("--nova-servers {path}: lists {count} servers; 1 to {MAX_SERVERS} are needed")]
    Count { path: PathBuf, count: usize },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Listing {
    servers: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    uuid: ServerId,
    host: HostName,
}

/// Reads `path` into a plan of `batch_size`-event requests.
pub fn read(path: &Path, batch_size: u32) -> Result<Plan, ServersFileError> {
    let read = |source| ServersFileError::Read {
        path: path.to_owned(),
        source,
    };
    if std::fs::metadata(path).map_err(read)?.len() > MAX_BYTES {
        return Err(ServersFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    parse(&bytes, batch_size).map_err(|e| match e {
        Parse::Json(source) => ServersFileError::Json {
            path: path.to_owned(),
            source,
        },
        Parse::Count(count) => ServersFileError::Count {
            path: path.to_owned(),
            count,
        },
    })
}

enum Parse {
    Json(serde_json::Error),
    Count(usize),
}

fn parse(bytes: &[u8], batch_size: u32) -> Result<Plan, Parse> {
    let listing: Listing = serde_json::from_slice(bytes).map_err(Parse::Json)?;
    let count = listing.servers.len();
    if !(1..=MAX_SERVERS).contains(&count) {
        return Err(Parse::Count(count));
    }
    let mut index: HashMap<HostName, usize> = HashMap::new();
    let mut hosts: Vec<HostName> = Vec::new();
    let mut by_host: Vec<Vec<ServerId>> = Vec::new();
    for Entry { uuid, host } in listing.servers {
        match index.get(&host) {
            Some(&i) => by_host[i].push(uuid),
            None => {
                index.insert(host.clone(), hosts.len());
                hosts.push(host);
                by_host.push(vec![uuid]);
            }
        }
    }
    Ok(Plan::placed(hosts, by_host, batch_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(n: u128, hosts: u128) -> String {
        let servers: Vec<_> = (0..n)
            .map(|i| {
                serde_json::json!({
                    "uuid": uuid::Uuid::from_u128(i + 1).to_string(),
                    "host": format!("cmp-{}", i % hosts),
                })
            })
            .collect();
        serde_json::json!({ "servers": servers }).to_string()
    }

    fn plan(text: &str) -> Plan {
        parse(text.as_bytes(), 2).unwrap_or_else(|_| panic!("{text}"))
    }

    #[test]
    fn hosts_come_in_file_order_and_events_walk_them() {
        let p = plan(&listing(6, 3));
        let names: Vec<_> = p.hosts().iter().map(HostName::as_str).collect();
        assert_eq!(names, ["cmp-0", "cmp-1", "cmp-2"]);
        // Server i on host i mod 3, as the seed script places them: event n
        // goes to server n, as with a plan load makes itself.
        for n in 0..6u64 {
            let (host, server) = p.event_target(n);
            assert_eq!(host.as_str(), format!("cmp-{}", n % 3));
            assert_eq!(
                *server,
                ServerId::from_uuid(uuid::Uuid::from_u128(u128::from(n) + 1))
            );
        }
        assert_eq!(p.batch_size(), 2);
        assert_eq!(p.servers().count(), 6);
    }

    #[test]
    fn bad_files_are_refused() {
        for bad in [
            "",
            "{}",
            r#"{"servers": [{"uuid": "nope", "host": "cmp-1"}]}"#,
            r#"{"servers": [{"uuid": "00000000-0000-0000-0000-000000000001", "host": "a b"}]}"#,
            r#"{"servers": [{"uuid": "00000000-0000-0000-0000-000000000001"}]}"#,
            r#"{"servers": [], "extra": 1}"#,
        ] {
            assert!(
                matches!(parse(bad.as_bytes(), 1), Err(Parse::Json(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(br#"{"servers": []}"#, 1),
            Err(Parse::Count(0))
        ));
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = read(Path::new("/nonexistent/servers.json"), 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--nova-servers /nonexistent/servers.json: cannot read it"
        );
    }
}
