//! Choosing a request's compute microversion from its headers, as Nova's
//! `Request.set_api_version_request` does: the standard
//! `OpenStack-API-Version: compute X.Y` header (last `compute` entry wins),
//! else the legacy `X-OpenStack-Nova-API-Version`, else 2.1.

use http::HeaderMap;

use crate::microversion::{Microversion, VersionError};

/// The header names involved, as Nova spells them.
pub const STANDARD_HEADER: &str = "openstack-api-version";
pub const LEGACY_HEADER: &str = "x-openstack-nova-api-version";
/// The `Vary` value that names both request headers.
pub const VARY_VALUE: &str = "OpenStack-API-Version, X-OpenStack-Nova-API-Version";

/// Chooses the request's microversion from its headers.
pub fn negotiate(headers: &HeaderMap) -> Result<Microversion, VersionError> {
    let requested = standard_value(headers).or_else(|| legacy_value(headers));
    let Some(text) = requested else {
        return Ok(Microversion::MIN);
    };
    if text == "latest" {
        return Ok(Microversion::MAX);
    }
    let version = Microversion::parse(&text).ok_or(VersionError::Malformed(text))?;
    if version < Microversion::MIN || version > Microversion::MAX {
        return Err(VersionError::Unsupported(version));
    }
    Ok(version)
}

/// Every comma-separated item of every occurrence of a header, in order.
fn header_items<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
}

/// The version of the last `compute` entry of `OpenStack-API-Version`.
fn standard_value(headers: &HeaderMap) -> Option<String> {
    header_items(headers, STANDARD_HEADER)
        .filter_map(|item| {
            let mut parts = item.split_whitespace();
            let service = parts.next()?;
            let version = parts.next().unwrap_or("");
            service
                .eq_ignore_ascii_case("compute")
                .then(|| version.to_owned())
        })
        .last()
}

/// The last item of the legacy header.
fn legacy_value(headers: &HeaderMap) -> Option<String> {
    header_items(headers, LEGACY_HEADER).last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn default_is_minimum() {
        assert_eq!(negotiate(&HeaderMap::new()), Ok(Microversion::MIN));
    }

    #[test]
    fn standard_header_and_latest() {
        let h = with(&[(STANDARD_HEADER, "compute 2.76")]);
        assert_eq!(negotiate(&h), Ok(Microversion::new(2, 76)));
        let h = with(&[(STANDARD_HEADER, "compute latest")]);
        assert_eq!(negotiate(&h), Ok(Microversion::MAX));
    }

    #[test]
    fn last_compute_entry_wins_and_others_are_ignored() {
        let h = with(&[(
            STANDARD_HEADER,
            "compute 2.10, volume 3.5, COMPUTE 2.60, image 2.0",
        )]);
        assert_eq!(negotiate(&h), Ok(Microversion::new(2, 60)));
        let h = with(&[
            (STANDARD_HEADER, "compute 2.3"),
            (STANDARD_HEADER, "compute 2.9"),
        ]);
        assert_eq!(negotiate(&h), Ok(Microversion::new(2, 9)));
    }

    #[test]
    fn standard_header_without_compute_falls_back_to_legacy() {
        let h = with(&[(STANDARD_HEADER, "volume 3.5"), (LEGACY_HEADER, "2.51")]);
        assert_eq!(negotiate(&h), Ok(Microversion::new(2, 51)));
        let h = with(&[(STANDARD_HEADER, "volume 3.5")]);
        assert_eq!(negotiate(&h), Ok(Microversion::MIN));
    }

    #[test]
    fn standard_header_beats_legacy() {
        let h = with(&[(STANDARD_HEADER, "compute 2.93"), (LEGACY_HEADER, "2.51")]);
        assert_eq!(negotiate(&h), Ok(Microversion::new(2, 93)));
    }

    #[test]
    fn malformed_versions_are_400() {
        for bad in [
            "2", "2.", ".1", "02.1", "2.01", "x.y", "2.1.1", "-2.1", "2.1 ", "LATEST",
        ] {
            let mut h = HeaderMap::new();
            h.insert(LEGACY_HEADER, HeaderValue::from_str(bad).unwrap());
            let got = negotiate(&h);
            // A value that trims to something valid is fine; everything else is malformed.
            if bad.trim() == "2.1" {
                assert_eq!(got, Ok(Microversion::MIN));
            } else {
                assert!(
                    matches!(got, Err(VersionError::Malformed(_))),
                    "{bad}: {got:?}"
                );
            }
        }
        let h = with(&[(STANDARD_HEADER, "compute")]);
        assert!(matches!(negotiate(&h), Err(VersionError::Malformed(_))));
    }

    #[test]
    fn out_of_range_is_406() {
        for v in [
            "2.0",
            "2.105",
            "3.0",
            "1.1",
            "2.4294967296",
            "99999999999.1",
        ] {
            let mut h = HeaderMap::new();
            h.insert(LEGACY_HEADER, HeaderValue::from_str(v).unwrap());
            assert!(
                matches!(negotiate(&h), Err(VersionError::Unsupported(_))),
                "{v}"
            );
        }
        let msg = VersionError::Unsupported(Microversion::new(2, 105)).to_string();
        assert_eq!(
            msg,
            "Version 2.105 is not supported by the API. Minimum is 2.1 and maximum is 2.104."
        );
    }

    #[test]
    fn range_edges_are_served() {
        for v in ["2.1", "2.104"] {
            let mut h = HeaderMap::new();
            h.insert(LEGACY_HEADER, HeaderValue::from_str(v).unwrap());
            assert!(negotiate(&h).is_ok(), "{v}");
        }
    }
}
