//! Where a server is: its host, or none yet, and during a migration the
//! source and destination hosts its events also go to.

use serde::{Deserialize, Serialize};

use super::ids::HostName;

/// Where a server is: its host, if any, and the hosts of an ongoing migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub host: Option<HostName>,
    pub migration: Option<Migration>,
}

/// The two ends of a migration in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub source_compute: HostName,
    pub dest_compute: HostName,
}

impl Placement {
    /// Every host an event for this server goes to, each once, host first.
    /// Empty when the server has no host yet (a migration alone does not
    /// make it deliverable, as in Nova, which checks `instance.host`).
    pub fn delivery_hosts(&self) -> Vec<HostName> {
        let Some(host) = &self.host else {
            return Vec::new();
        };
        let mut hosts = vec![host.clone()];
        if let Some(m) = &self.migration {
            for h in [&m.source_compute, &m.dest_compute] {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_hosts_include_migration_ends_once() {
        let h = |s| HostName::parse(s).unwrap();
        let p = Placement {
            host: Some(h("a")),
            migration: Some(Migration {
                source_compute: h("a"),
                dest_compute: h("b"),
            }),
        };
        assert_eq!(p.delivery_hosts(), vec![h("a"), h("b")]);
        let none = Placement {
            host: None,
            migration: None,
        };
        assert!(none.delivery_hosts().is_empty());
    }
}
