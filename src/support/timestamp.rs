//! Timestamps as herald writes them: RFC 3339, UTC, milliseconds, a `Z`
//! (message bodies, directory entries, the agent's stdout).

use time::OffsetDateTime;

/// Current UTC time as RFC 3339 with milliseconds and a `Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// Formats a UTC instant as `2026-11-27T10:00:00.000Z` (digits written
/// directly: this runs for every message herald publishes).
pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let year = at.year();
    if !(0..=9999).contains(&year) {
        // Never for a clock's time; the general formatter pads or signs it.
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        return at
            .format(&format)
            .expect("the fixed format has only components every date has");
    }
    let mut out = String::with_capacity(24);
    push_to_seconds(&mut out, year.unsigned_abs(), at);
    push_digits(&mut out, u32::from(at.millisecond()), 3);
    out.push('Z');
    out
}

/// A UTC instant as the log lines' timestamps have it (tracing's own
/// format: microseconds and a `Z`, `2026-11-27T10:00:00.000123Z`); `None`
/// for a year outside 0..=9999, which that format writes differently.
pub fn log_rfc3339(at: OffsetDateTime) -> Option<String> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let mut out = String::with_capacity(27);
    push_to_seconds(&mut out, year, at);
    push_digits(&mut out, at.microsecond(), 6);
    out.push('Z');
    Some(out)
}

/// Appends `YYYY-MM-DDTHH:MM:SS.` (`year` already checked to have four digits).
fn push_to_seconds(out: &mut String, year: u32, at: OffsetDateTime) {
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, u32::from(u8::from(at.month())), 2);
    out.push('-');
    push_digits(out, u32::from(at.day()), 2);
    out.push('T');
    push_digits(out, u32::from(at.hour()), 2);
    out.push(':');
    push_digits(out, u32::from(at.minute()), 2);
    out.push(':');
    push_digits(out, u32::from(at.second()), 2);
    out.push('.');
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millis_and_z() {
        let at = time::macros::datetime!(2026-11-27 10:00:00.123456 UTC);
        assert_eq!(format_rfc3339(at), "2026-11-27T10:00:00.123Z");
        let at = time::macros::datetime!(0987-01-02 03:04:05.006 +02:00);
        assert_eq!(format_rfc3339(at), "0987-01-02T01:04:05.006Z");
    }

    #[test]
    fn log_timestamps_have_micros_and_z() {
        let at = time::macros::datetime!(2026-11-27 10:00:00.000123456 UTC);
        assert_eq!(
            log_rfc3339(at).as_deref(),
            Some("2026-11-27T10:00:00.000123Z")
        );
        let at = time::macros::datetime!(-0001-01-01 00:00:00 UTC);
        assert_eq!(log_rfc3339(at), None);
    }
}
