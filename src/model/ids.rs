//! Identifiers: a server's UUID in canonical form, a compute host's name,
//! and the request ids herald gives and passes on.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A server's UUID in canonical form (lower-case, hyphenated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerId(Uuid);

impl ServerId {
    /// Parses any form Nova's `is_uuid_like` accepts: hyphenated or not, any
    /// case, `{braced}` or `urn:uuid:`-prefixed.
    pub fn parse(text: &str) -> Option<Self> {
        // The canonical form (as stored, and as Nova sends it) directly.
        if Self::looks_hyphenated(text)
            && let Ok(uuid) = Uuid::try_parse(text)
        {
            return Some(Self(uuid));
        }
        // Nova's oslo.utils rule: drop `urn:`/`uuid:` and surrounding braces,
        // ignore hyphens, and what is left must be 32 hex digits.
        let stripped = text.replace("urn:", "").replace("uuid:", "");
        let hex: String = stripped
            .trim_matches(|c| c == '{' || c == '}')
            .chars()
            .filter(|&c| c != '-')
            .collect();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(&hex, 16)
            .ok()
            .map(|n| Self(Uuid::from_u128(n)))
    }

    /// 36 characters with hyphens where the hyphenated form has them.
    fn looks_hyphenated(text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
    }

    /// Whether `text` is this id's canonical form, without allocating.
    pub fn is_canonical(&self, text: &str) -> bool {
        let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
        self.0.hyphenated().encode_lower(&mut buffer).as_bytes() == text.as_bytes()
    }

    /// Wraps an already parsed UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The canonical text form, as stored in the directory and sent on the wire.
    pub fn canonical(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostNameError {
    #[error("host name is empty")]
    Empty,
    #[error("host name is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("host name contains {0:?}, which cannot appear in a routing key")]
    BadCharacter(char),
}

/// A compute host's name. It becomes part of an AMQP routing key and queue
/// name, so it is bounded and excludes whitespace, control characters and the
/// topic-exchange wildcards `*` and `#`. Shared, not copied: a request's
/// path clones a host's name several times (grouping, lanes, outcomes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(Arc<str>);

impl HostName {
    /// Longest accepted name; leaves room for prefixes under AMQP's 255-byte limit.
    pub const MAX_LEN: usize = 200;

    /// Validates and wraps a host name.
    pub fn parse(text: &str) -> Result<Self, HostNameError> {
        if text.is_empty() {
            return Err(HostNameError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(HostNameError::TooLong { max: Self::MAX_LEN });
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '#'))
        {
            return Err(HostNameError::BadCharacter(c));
        }
        Ok(Self(Arc::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for HostName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ids a request carries: its own (`req-<uuid>`, always new) and the
/// caller's global one, when it sent a well-formed `X-OpenStack-Request-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: String,
    pub global_request_id: Option<String>,
}

impl RequestIds {
    /// A fresh local id, keeping `global` only when it is `req-<uuid>`.
    pub fn new(global: Option<&str>) -> Self {
        Self {
            request_id: {
                let mut id = String::with_capacity(4 + uuid::fmt::Hyphenated::LENGTH);
                id.push_str("req-");
                let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
                id.push_str(Uuid::new_v4().hyphenated().encode_lower(&mut buffer));
                id
            },
            global_request_id: global.filter(|g| is_request_id(g)).map(str::to_owned),
        }
    }
}

/// Whether `text` has the form `req-<hyphenated uuid>`.
pub fn is_request_id(text: &str) -> bool {
    text.strip_prefix("req-")
        .is_some_and(|rest| rest.len() == 36 && Uuid::try_parse(rest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_accepts_every_nova_form() {
        let canonical = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";
        for form in [
            canonical,
            "3DF201CF-2451-44F2-8D25-A4CA826FC1F3",
            "3df201cf245144f28d25a4ca826fc1f3",
            "{3df201cf-2451-44f2-8d25-a4ca826fc1f3}",
            "urn:uuid:3df201cf-2451-44f2-8d25-a4ca826fc1f3",
            "{3df201cf245144f28d25a4ca826fc1f3}",
            "URN:UUID:3df201cf-2451-44f2-8d25-a4ca826fc1f3"
                .to_lowercase()
                .as_str(),
        ] {
            let id = ServerId::parse(form).unwrap_or_else(|| panic!("{form} refused"));
            assert_eq!(id.canonical(), canonical);
            assert!(id.is_canonical(canonical));
            assert_eq!(id.is_canonical(form), form == canonical);
        }
    }

    #[test]
    fn server_id_refuses_non_uuids() {
        for bad in [
            "",
            "foo",
            "3df201cf-2451-44f2-8d25",
            "3df201cf-2451-44f2-8d25-a4ca826fc1fz",
            "3df201cf-2451-44f2-8d25-a4ca826fc1f+",
            "3df201cf-2451-44f2-8d2--a4ca826fc1f3",
        ] {
            assert!(ServerId::parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn host_name_rules() {
        assert!(HostName::parse("compute-1.example").is_ok());
        assert_eq!(HostName::parse(""), Err(HostNameError::Empty));
        assert_eq!(
            HostName::parse("a b"),
            Err(HostNameError::BadCharacter(' '))
        );
        assert_eq!(HostName::parse("a*"), Err(HostNameError::BadCharacter('*')));
        assert_eq!(HostName::parse("#"), Err(HostNameError::BadCharacter('#')));
        assert!(matches!(
            HostName::parse(&"x".repeat(201)),
            Err(HostNameError::TooLong { .. })
        ));
    }

    #[test]
    fn request_ids() {
        let ids = RequestIds::new(Some("req-3df201cf-2451-44f2-8d25-a4ca826fc1f3"));
        assert!(is_request_id(&ids.request_id));
        assert_eq!(
            ids.global_request_id.as_deref(),
            Some("req-3df201cf-2451-44f2-8d25-a4ca826fc1f3")
        );
        assert_eq!(RequestIds::new(Some("req-nope")).global_request_id, None);
        assert_eq!(
            RequestIds::new(Some("3df201cf-2451-44f2-8d25-a4ca826fc1f3")).global_request_id,
            None
        );
        assert!(!is_request_id("req-3df201cf245144f28d25a4ca826fc1f3"));
    }
}
