//! Timestamps on the wire: RFC 3339, UTC, milliseconds, e.g. `2026-11-21T14:30:25.123Z`.
//!
//! The server assigns every timestamp, so all clients show one clock. Internally a timestamp is
//! milliseconds since the Unix epoch (`i64`), which is what the store keeps.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Formats epoch milliseconds as RFC 3339 UTC with exactly three fractional digits.
pub fn format_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp back into epoch milliseconds.
pub fn parse_millis(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_763_735_425_123), "2025-11-21T14:30:25.123Z");
    }

    #[test]
    fn round_trips() {
        let ms = 1_800_000_000_042;
        assert_eq!(parse_millis(&format_millis(ms)), Some(ms));
    }
}
