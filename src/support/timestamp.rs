//! Timestamps as herald writes them: RFC 3339, UTC, milliseconds, a `Z`
//! (message bodies, directory entries, the agent's stdout).

use time::OffsetDateTime;

/// Current UTC time as RFC 3339 with milliseconds and a `Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// Formats a UTC instant as `2026-11-27T10:00:00.000Z`.
pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("the fixed format has only components every date has")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millis_and_z() {
        let at = time::macros::datetime!(2026-11-27 10:00:00.123456 UTC);
        assert_eq!(format_rfc3339(at), "2026-11-27T10:00:00.123Z");
    }
}
