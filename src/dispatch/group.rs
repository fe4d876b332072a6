//! Grouping a request's deliverable events by host (pure).
//!
//! One message per host per request: each host gets every event whose
//! server it hosts or is migrating to or from, in request order.

use std::collections::BTreeMap;

use crate::model::HostName;

/// The events (request indexes) bound for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBatch {
    pub host: HostName,
    pub events: Vec<usize>,
}

/// Groups `(event index, its hosts)` pairs by host, hosts in name order,
/// events in request order.
pub fn by_host<'a>(targets: impl IntoIterator<Item = (usize, &'a [HostName])>) -> Vec<HostBatch> {
    let mut groups: BTreeMap<&HostName, Vec<usize>> = BTreeMap::new();
    for (index, hosts) in targets {
        for host in hosts {
            groups.entry(host).or_default().push(index);
        }
    }
    groups
        .into_iter()
        .map(|(host, events)| HostBatch {
            host: host.clone(),
            events,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str) -> HostName {
        HostName::parse(name).unwrap()
    }

    #[test]
    fn groups_in_request_order_per_host() {
        let a = [h("a")];
        let b = [h("b")];
        let ab = [h("a"), h("b")];
        let groups = by_host([(0, &b[..]), (1, &a[..]), (2, &ab[..]), (3, &b[..])]);
        assert_eq!(
            groups,
            vec![
                HostBatch {
                    host: h("a"),
                    events: vec![1, 2]
                },
                HostBatch {
                    host: h("b"),
                    events: vec![0, 2, 3]
                },
            ]
        );
    }

    #[test]
    fn same_server_twice_is_two_events() {
        let a = [h("a")];
        let groups = by_host([(0, &a[..]), (1, &a[..])]);
        assert_eq!(
            groups,
            vec![HostBatch {
                host: h("a"),
                events: vec![0, 1]
            }]
        );
    }

    #[test]
    fn nothing_to_group() {
        assert!(by_host(std::iter::empty()).is_empty());
    }
}
