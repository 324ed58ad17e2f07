//! The handful of date-time texts the CRMs exchange, written and read with chrono: RFC 3339 with
//! milliseconds or whole seconds (`Z`), `YYYY-MM-DD`, `HH:MM`, an offset-less
//! `YYYY-MM-DDTHH:MM:SS`, and on the way in any RFC 3339 offset (`Z`, `+00:00`, Salesforce's
//! `+0000`) or none at all where a CRM writes UTC without saying so (Pipedrive v1's
//! `YYYY-MM-DD HH:MM:SS`).
//!
//! Only chrono's dedicated RFC 3339 writer and reader and its `Display` for dates are used, never
//! its strftime format strings (a general machine, about 26 KB of the shipped wasm for these
//! fixed forms). ARCHITECTURE.md ("Decisions") has the measurement that settled it.
//!
//! Invariant: every function answers `None` rather than panicking, for any input.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Timelike, Utc};

/// `ms` milliseconds after the Unix epoch as a UTC date-time, or `None` outside chrono's range.
fn utc(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// RFC 3339 in UTC with milliseconds (`2026-03-08T06:50:00.000Z`).
pub fn rfc3339_millis(ms: i64) -> Option<String> {
    utc(ms).map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// RFC 3339 in UTC, whole seconds (`2026-03-08T06:50:00Z`).
pub fn rfc3339_secs(ms: i64) -> Option<String> {
    utc(ms).map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC, without fraction or offset (the caller adds the one its CRM
/// documents).
pub fn date_time(ms: i64) -> Option<String> {
    utc(ms).map(|d| format!("{}T{:02}:{:02}:{:02}", d.date_naive(), d.hour(), d.minute(), d.second()))
}

/// `YYYY-MM-DD` in UTC.
pub fn date(ms: i64) -> Option<String> {
    utc(ms).map(|d| d.date_naive().to_string())
}

/// `HH:MM` in UTC.
pub fn hour_minute(ms: i64) -> Option<String> {
    utc(ms).map(|d| format!("{:02}:{:02}", d.hour(), d.minute()))
}

/// Reads a date-time as RFC 3339 relaxed the way chrono's `FromStr` for `DateTime<FixedOffset>`
/// does (a `T` or a space between date and time, a fraction of any length, an offset written
/// `Z`, `±HH:MM` or `±HHMM`). Without an offset the text is read as UTC when `offset` is
/// [`Offset::Optional`], refused when it is [`Offset::Required`]. Returns milliseconds since
/// the Unix epoch.
pub fn parse(s: &str, offset: Offset) -> Option<i64> {
    if let Ok(d) = s.parse::<DateTime<FixedOffset>>() {
        return Some(d.timestamp_millis());
    }
    if offset == Offset::Required {
        return None;
    }
    let iso = s.replacen(' ', "T", 1);
    iso.parse::<NaiveDateTime>().ok().map(|n| n.and_utc().timestamp_millis())
}

/// Whether [`parse`] accepts a text without an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    Required,
    /// No offset means UTC.
    Optional,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_772_952_600_000; // 2026-03-08T06:50:00Z

    #[test]
    fn writes_the_forms_the_crms_read() {
        assert_eq!(rfc3339_millis(T + 7).as_deref(), Some("2026-03-08T06:50:00.007Z"));
        assert_eq!(rfc3339_secs(T + 999).as_deref(), Some("2026-03-08T06:50:00Z"));
        assert_eq!(date_time(T).as_deref(), Some("2026-03-08T06:50:00"));
        assert_eq!(date(T).as_deref(), Some("2026-03-08"));
        assert_eq!(hour_minute(T).as_deref(), Some("06:50"));
        assert_eq!(date(-1).as_deref(), Some("1969-12-31"));
        assert_eq!(rfc3339_millis(951_782_400_000).as_deref(), Some("2000-02-29T00:00:00.000Z"));
        for out_of_range in [i64::MIN, i64::MAX] {
            assert_eq!((rfc3339_millis(out_of_range), date(out_of_range), hour_minute(out_of_range)), (None, None, None));
        }
    }

    #[test]
    fn reads_every_offset_the_crms_write() {
        let cases = [
            ("2026-03-08T06:50:00Z", Offset::Required, Some(T)),
            ("2026-03-08T06:50:00.000Z", Offset::Required, Some(T)),
            ("2026-03-08t06:50:00z", Offset::Required, Some(T)),
            ("2026-03-08 06:50:00Z", Offset::Required, Some(T)),
            ("2026-03-08T06:50:00.123456789Z", Offset::Required, Some(T + 123)),
            ("2026-03-08T01:50:00-05:00", Offset::Required, Some(T)),
            ("2026-03-08T12:20:00+05:30", Offset::Required, Some(T)),
            ("2026-03-08T06:50:00.000+0000", Offset::Required, Some(T)),
            ("2026-03-08T06:50:00", Offset::Required, None),
            ("2026-03-08T06:50:00", Offset::Optional, Some(T)),
            ("2026-03-08 06:50:00", Offset::Optional, Some(T)),
            ("2026-03-08T06:50:00.5", Offset::Optional, Some(T + 500)),
            ("2026-02-30T06:50:00Z", Offset::Optional, None),
            ("2026-03-08T24:00:00Z", Offset::Optional, None),
            ("2026-03-08", Offset::Optional, None),
            ("2026-03-08T06:50:00Zjunk", Offset::Optional, None),
            ("", Offset::Optional, None),
            ("２０２６-03-08T06:50:00Z", Offset::Optional, None),
        ];
        for (text, offset, want) in cases {
            assert_eq!(parse(text, offset), want, "{text:?} {offset:?}");
        }
    }

    #[test]
    fn what_it_writes_it_reads_back() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x % 8_000_000_000_000) as i64 - 1_000_000_000_000;
            assert_eq!(rfc3339_millis(ms).and_then(|s| parse(&s, Offset::Required)), Some(ms));
            assert_eq!(rfc3339_secs(ms).and_then(|s| parse(&s, Offset::Required)), Some(ms - ms.rem_euclid(1000)));
            assert_eq!(date_time(ms).and_then(|s| parse(&s, Offset::Optional)), Some(ms - ms.rem_euclid(1000)));
        }
    }
}
