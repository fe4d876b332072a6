//! The waiter API's query strings: `/events/wait`'s key and timeout,
//! `/events/recent`'s limit, each bounded where it is parsed and each fault
//! naming the parameter.

use std::time::Duration;

use super::store::EventKey;
use crate::model::{EventName, ServerId};
use crate::web::fault::Fault;

/// Default and largest `timeout` of a wait, in seconds.
pub const DEFAULT_WAIT_SECS: u64 = 30;
pub const MAX_WAIT_SECS: u64 = 300;
/// Default and largest `limit` of `/events/recent`.
pub const DEFAULT_RECENT: usize = 100;
pub const MAX_RECENT: usize = 1000;

/// A parsed `/events/wait` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitQuery {
    pub key: EventKey,
    pub timeout: Duration,
}

impl WaitQuery {
    /// Parses `server_uuid=U&name=N[&tag=T][&timeout=S]`; each fault names the parameter.
    pub fn parse(query: Option<&str>) -> Result<Self, Fault> {
        let (mut server, mut name, mut tag, mut timeout) = (None, None, None, None);
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match &*k {
                "server_uuid" => &mut server,
                "name" => &mut name,
                "tag" => &mut tag,
                "timeout" => &mut timeout,
                _ => continue, // unknown parameters are ignored, as the lines' unknown fields are
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(Fault::bad_request(format!(
                    "Query parameter '{k}' is given more than once."
                )));
            }
        }
        let server = server.ok_or_else(|| missing("server_uuid"))?;
        let server_uuid = ServerId::parse(&server).ok_or_else(|| {
            Fault::bad_request(format!(
                "Query parameter 'server_uuid' is not a UUID: {server:?}."
            ))
        })?;
        let name = name.ok_or_else(|| missing("name"))?;
        let name = EventName::parse(&name).ok_or_else(|| {
            Fault::bad_request(format!(
                "Query parameter 'name' is not a known event name: {name:?}."
            ))
        })?;
        let timeout = match timeout {
            None => Duration::from_secs(DEFAULT_WAIT_SECS),
            Some(text) => parse_timeout(&text)?,
        };
        Ok(Self {
            key: EventKey {
                server_uuid,
                name,
                tag,
            },
            timeout,
        })
    }
}

fn missing(param: &str) -> Fault {
    Fault::bad_request(format!("Query parameter '{param}' is required."))
}

fn parse_timeout(text: &str) -> Result<Duration, Fault> {
    let secs: f64 = text.parse().unwrap_or(f64::NAN);
    if !(0.0..=MAX_WAIT_SECS as f64).contains(&secs) {
        return Err(Fault::bad_request(format!(
            "Query parameter 'timeout' must be a number of seconds from 0 to {MAX_WAIT_SECS}, got {text:?}."
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_limit(query: Option<&str>) -> Result<usize, Fault> {
    let text = form_urlencoded::parse(query.unwrap_or("").as_bytes()).find(|(k, _)| k == "limit");
    let Some((_, text)) = text else {
        return Ok(DEFAULT_RECENT);
    };
    match text.parse::<usize>() {
        Ok(limit) if limit > 0 => Ok(limit.min(MAX_RECENT)),
        _ => Err(Fault::bad_request(format!(
            "Query parameter 'limit' must be a positive integer, got {text:?}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    const UUID: &str = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";

    #[test]
    fn a_full_query_parses() {
        let q = WaitQuery::parse(Some(
            "server_uuid=3DF201CF245144F28D25A4CA826FC1F3&name=network-vif-plugged&tag=a%20b&timeout=2.5",
        ))
        .unwrap();
        assert_eq!(q.key.server_uuid, ServerId::parse(UUID).unwrap());
        assert_eq!(q.key.name, EventName::NetworkVifPlugged);
        assert_eq!(q.key.tag.as_deref(), Some("a b"));
        assert_eq!(q.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn defaults_no_tag_and_thirty_seconds() {
        let q =
            WaitQuery::parse(Some(&format!("server_uuid={UUID}&name=network-changed"))).unwrap();
        assert_eq!(q.key.tag, None);
        assert_eq!(q.timeout, Duration::from_secs(30));
        let q = WaitQuery::parse(Some(&format!(
            "server_uuid={UUID}&name=network-changed&tag="
        )))
        .unwrap();
        assert_eq!(q.key.tag.as_deref(), Some(""), "an empty tag is a tag");
    }

    #[test]
    fn bad_queries_name_the_parameter() {
        let cases = [
            (None, "server_uuid"),
            (Some("name=network-changed".to_owned()), "server_uuid"),
            (
                Some("server_uuid=nope&name=network-changed".to_owned()),
                "server_uuid",
            ),
            (Some(format!("server_uuid={UUID}")), "name"),
            (Some(format!("server_uuid={UUID}&name=bogus")), "name"),
            (
                Some(format!(
                    "server_uuid={UUID}&name=network-changed&timeout=301"
                )),
                "timeout",
            ),
            (
                Some(format!(
                    "server_uuid={UUID}&name=network-changed&timeout=-1"
                )),
                "timeout",
            ),
            (
                Some(format!("server_uuid={UUID}&name=network-changed&timeout=x")),
                "timeout",
            ),
            (
                Some(format!(
                    "server_uuid={UUID}&name=network-changed&name=power-update"
                )),
                "name",
            ),
        ];
        for (query, param) in cases {
            let fault = WaitQuery::parse(query.as_deref()).unwrap_err();
            assert_eq!(fault.status, StatusCode::BAD_REQUEST);
            assert!(
                fault.message.contains(param),
                "{query:?}: {}",
                fault.message
            );
        }
    }

    #[test]
    fn recent_limit_is_bounded() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_RECENT);
        assert_eq!(parse_limit(Some("limit=5")).unwrap(), 5);
        assert_eq!(parse_limit(Some("limit=99999")).unwrap(), MAX_RECENT);
        assert!(parse_limit(Some("limit=0")).is_err());
    }
}
