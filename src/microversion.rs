//! Compute API microversions as domain values: the served range, Nova's
//! `X.Y` syntax, and why a version cannot be served. Pure: choosing one from
//! request headers is the API's job (`api::negotiate`).

use std::fmt;

/// A `major.minor` API version. Ordering compares major, then minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    major: u32,
    minor: u32,
}

impl Microversion {
    /// The oldest version served.
    pub const MIN: Microversion = Microversion::new(2, 1);
    /// The newest version served (Nova's own maximum as of 2026).
    pub const MAX: Microversion = Microversion::new(2, 104);

    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    pub const fn major(self) -> u32 {
        self.major
    }

    pub const fn minor(self) -> u32 {
        self.minor
    }

    /// Parses `X.Y` with Nova's rule `^([1-9]\d*)\.([1-9]\d*|0)$`.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        let number = |s: &str, zero_ok: bool| -> Option<u32> {
            let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let leading_zero = s.starts_with('0') && !(zero_ok && s == "0");
            if !digits || leading_zero {
                return None;
            }
            // Well formed but past u32: out of every range, so still a
            // version (406), not a malformed string (400).
            Some(s.parse().unwrap_or(u32::MAX))
        };
        Some(Self::new(number(major, false)?, number(minor, true)?))
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a requested version cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not of the form `X.Y`: answered with 400.
    #[error("API Version String {0} is of invalid format. Must be of format MajorNum.MinorNum.")]
    Malformed(String),
    /// Well formed but outside the served range: answered with 406.
    #[error(
        "Version {0} is not supported by the API. Minimum is {min} and maximum is {max}.",
        min = Microversion::MIN,
        max = Microversion::MAX
    )]
    Unsupported(Microversion),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_follows_novas_rule() {
        assert_eq!(Microversion::parse("2.1"), Some(Microversion::new(2, 1)));
        assert_eq!(Microversion::parse("2.0"), Some(Microversion::new(2, 0)));
        for bad in ["2", "2.01", "02.1", "2.x", "", ".1", "2.1.1", " 2.1"] {
            assert_eq!(Microversion::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Microversion::parse("2.4294967296"),
            Some(Microversion::new(2, u32::MAX)),
            "past u32 is out of range, not malformed"
        );
        assert!(Microversion::new(2, 10) > Microversion::new(2, 9));
    }
}
