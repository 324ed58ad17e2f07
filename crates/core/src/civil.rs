//! UTC calendar arithmetic, and the handful of date-time texts the CRMs exchange: RFC 3339 with
//! milliseconds or whole seconds (`Z`), `YYYY-MM-DD`, `HH:MM`, an offset-less
//! `YYYY-MM-DDTHH:MM:SS`, and on the way in any RFC 3339 offset (`Z`, `+00:00`, Salesforce's
//! `+0000`) or none at all where a CRM writes UTC without saying so (Pipedrive v1's
//! `YYYY-MM-DD HH:MM:SS`). Local time in a zone is [`crate::zone`]'s, over these fields.
//!
//! Written out by hand (Howard Hinnant's days-from-civil algorithm) rather than with chrono:
//! once the core took its zone offsets from the shell, this module was chrono's last use in the
//! shipped module, and dropping chrono saved more than the 9.1 KB gzipped its RFC 3339 writer
//! and reader were measured at (ARCHITECTURE.md, "Decisions", has both measurements). The
//! tests compare every function here with chrono's own formatting and parsing (chrono stays a
//! dev-dependency) on fixed tables and on random instants across chrono's whole range.
//!
//! Invariant: every instant chrono can represent (years -262143 to 262142) formats exactly as
//! chrono's `format` would with the same pattern; outside it the functions return `None`, as
//! chrono's constructors do. No function panics, for any input.

/// A UTC instant broken into its proleptic Gregorian calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub milli: u16,
}

/// chrono's range, so this module accepts and refuses the same instants chrono did.
const MIN_YEAR: i64 = -262_143;
const MAX_YEAR: i64 = 262_142;
const DAY_MS: i64 = 86_400_000;

impl Civil {
    /// The calendar fields of `ms` milliseconds after the Unix epoch, or `None` outside chrono's
    /// range.
    pub fn from_millis(ms: i64) -> Option<Civil> {
        let days = ms.div_euclid(DAY_MS);
        let in_day = ms.rem_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        Some(Civil {
            year,
            month,
            day,
            hour: (in_day / 3_600_000) as u8,
            minute: (in_day / 60_000 % 60) as u8,
            second: (in_day / 1000 % 60) as u8,
            milli: (in_day % 1000) as u16,
        })
    }

    /// Milliseconds since the Unix epoch, or `None` for a field out of its range (month 13,
    /// 30 February, hour 24) or a year outside chrono's range. A leap second (`second` 60)
    /// reads as the last millisecond of its minute's 59th second plus the extra, as chrono does:
    /// it is the same instant as second 59 plus one second's worth of milliseconds.
    pub fn to_millis(self) -> Option<i64> {
        let valid = (MIN_YEAR..=MAX_YEAR).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.milli < 1000;
        if !valid {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        Some(days * DAY_MS + secs * 1000 + i64::from(self.milli))
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        let mut s = String::with_capacity(10);
        self.push_date(&mut s);
        s
    }

    /// `HH:MM`.
    pub fn hour_minute(&self) -> String {
        let mut s = String::with_capacity(5);
        push2(&mut s, self.hour);
        s.push(':');
        push2(&mut s, self.minute);
        s
    }

    /// `YYYY-MM-DDTHH:MM:SS`, without fraction or offset.
    pub fn date_time(&self) -> String {
        let mut s = String::with_capacity(30);
        self.push_date(&mut s);
        s.push('T');
        push2(&mut s, self.hour);
        s.push(':');
        push2(&mut s, self.minute);
        s.push(':');
        push2(&mut s, self.second);
        s
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmm`, without offset.
    pub fn date_time_millis(&self) -> String {
        let mut s = self.date_time();
        s.push('.');
        let m = self.milli;
        s.push(char::from(b'0' + (m / 100) as u8));
        s.push(char::from(b'0' + (m / 10 % 10) as u8));
        s.push(char::from(b'0' + (m % 10) as u8));
        s
    }

    /// The year as chrono's `%Y` writes it: four digits, or a sign and at least four digits
    /// outside 0000-9999.
    fn push_date(&self, s: &mut String) {
        let y = self.year;
        if !(0..=9999).contains(&y) {
            s.push(if y < 0 { '-' } else { '+' });
        }
        let digits = y.unsigned_abs().to_string();
        for _ in digits.len()..4 {
            s.push('0');
        }
        s.push_str(&digits);
        s.push('-');
        push2(s, self.month);
        s.push('-');
        push2(s, self.day);
    }
}

/// RFC 3339 in UTC with milliseconds (`2026-03-08T06:50:00.000Z`), or `None` outside chrono's
/// range.
pub fn rfc3339_millis(ms: i64) -> Option<String> {
    Civil::from_millis(ms).map(|c| {
        let mut s = c.date_time_millis();
        s.push('Z');
        s
    })
}

/// RFC 3339 in UTC, whole seconds (`2026-03-08T06:50:00Z`), or `None` outside chrono's range.
pub fn rfc3339_secs(ms: i64) -> Option<String> {
    Civil::from_millis(ms).map(|c| {
        let mut s = c.date_time();
        s.push('Z');
        s
    })
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC, without fraction or offset (the caller adds the one its CRM
/// documents).
pub fn date_time(ms: i64) -> Option<String> {
    Civil::from_millis(ms).map(|c| c.date_time())
}

/// `YYYY-MM-DD` in UTC.
pub fn date(ms: i64) -> Option<String> {
    Civil::from_millis(ms).map(|c| c.date())
}

/// `HH:MM` in UTC.
pub fn hour_minute(ms: i64) -> Option<String> {
    Civil::from_millis(ms).map(|c| c.hour_minute())
}

/// Reads `YYYY-MM-DD`, a `T` (either case) or a space, `HH:MM:SS`, an optional fraction of any
/// length (read to the millisecond, the rest dropped, as chrono's millisecond accessor does),
/// then the offset: `Z` (either case), `±HH:MM` or `±HHMM`. Without an offset the text is read as
/// UTC when `offset` is [`Offset::Optional`], refused when it is [`Offset::Required`]. Anything
/// else, before or after, is refused. Returns milliseconds since the Unix epoch.
pub fn parse(s: &str, offset: Offset) -> Option<i64> {
    let b = s.as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)? as i64;
    p.byte(b'-')?;
    let month = p.digits(2)? as u8;
    p.byte(b'-')?;
    let day = p.digits(2)? as u8;
    match p.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = p.digits(2)? as u8;
    p.byte(b':')?;
    let minute = p.digits(2)? as u8;
    p.byte(b':')?;
    let second = p.digits(2)? as u8;
    let mut milli = 0u16;
    if p.peek() == Some(b'.') {
        p.i += 1;
        let start = p.i;
        while let Some(d @ b'0'..=b'9') = p.peek() {
            if p.i - start < 3 {
                milli = milli * 10 + u16::from(d - b'0');
            }
            p.i += 1;
        }
        match p.i - start {
            0 => return None,
            1 => milli *= 100,
            2 => milli *= 10,
            _ => {}
        }
    }
    let offset_secs = match p.next() {
        None if offset == Offset::Optional => 0,
        None => return None,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h = p.digits(2)? as i64;
            if p.peek() == Some(b':') {
                p.i += 1;
            }
            let m = p.digits(2)? as i64;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    if p.i != b.len() {
        return None;
    }
    let local = Civil { year, month, day, hour, minute, second, milli }.to_millis()?;
    Some(local - offset_secs * 1000)
}

/// Whether [`parse`] accepts a text without an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    Required,
    /// No offset means UTC.
    Optional,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant, `days_from_civil`).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (Hinnant, `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn push2(s: &mut String, n: u8) {
    s.push(char::from(b'0' + n / 10));
    s.push(char::from(b'0' + n % 10));
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }
    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.next()? {
                d @ b'0'..=b'9' => v = v * 10 + u32::from(d - b'0'),
                _ => return None,
            }
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDateTime, Utc};

    fn chrono_fmt(ms: i64, pattern: &str) -> Option<String> {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.format(pattern).to_string())
    }

    /// A small deterministic generator (xorshift), so the random comparisons replay.
    fn instants(n: usize, lo: i64, hi: i64) -> impl Iterator<Item = i64> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lo + (x % (hi - lo) as u64) as i64
        })
    }

    fn edges() -> Vec<i64> {
        let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
        let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
        vec![
            0,
            -1,
            1,
            DAY_MS - 1,
            -DAY_MS,
            951_782_400_000,     // 2000-02-29
            4_107_456_000_000,   // 2100-02-28
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // -0001-12-31T23:59:59.999
            1_772_952_600_000,   // 2026-03-08T06:50:00Z
            min,
            max,
            min - 1,
            max + 1,
            i64::MIN,
            i64::MAX,
        ]
    }

    #[test]
    fn formats_as_chrono_does() {
        let wide = instants(20_000, i64::MIN / 2, i64::MAX / 2);
        let near = instants(20_000, -5_000_000_000_000, 5_000_000_000_000);
        for ms in edges().into_iter().chain(wide).chain(near) {
            let c = Civil::from_millis(ms);
            assert_eq!(c.map(|c| c.date()), chrono_fmt(ms, "%Y-%m-%d"), "{ms}");
            assert_eq!(c.map(|c| c.hour_minute()), chrono_fmt(ms, "%H:%M"), "{ms}");
            assert_eq!(rfc3339_secs(ms), chrono_fmt(ms, "%Y-%m-%dT%H:%M:%SZ"), "{ms}");
            assert_eq!(date_time(ms), chrono_fmt(ms, "%Y-%m-%dT%H:%M:%S"), "{ms}");
            assert_eq!(rfc3339_millis(ms), chrono_fmt(ms, "%Y-%m-%dT%H:%M:%S%.3fZ"), "{ms}");
            if let Some(c) = c {
                assert_eq!(c.to_millis(), Some(ms), "{ms} round trip");
            }
        }
    }

    #[test]
    fn parses_what_chrono_parses() {
        // (text, what chrono's parse_from_rfc3339 gives, as milliseconds)
        let texts = [
            "2026-03-08T06:50:00Z",
            "2026-03-08T06:50:00.000Z",
            "2026-03-08t06:50:00z",
            "2026-03-08 06:50:00Z",
            "2026-03-08T06:50:00.1Z",
            "2026-03-08T06:50:00.12Z",
            "2026-03-08T06:50:00.123456789Z",
            "2026-03-08T06:50:00.9999999999Z",
            "2026-03-08T01:50:00-05:00",
            "2026-03-08T12:20:00+05:30",
            "2024-02-29T23:59:59.999+00:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ];
        for t in texts {
            let want = DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
            assert_eq!(parse(t, Offset::Required), Some(want), "{t}");
        }
        // Salesforce's offset without a colon, as chrono's `%z` reads it.
        for t in ["2024-05-01T10:00:00.000+0000", "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00.5-0130"] {
            let want = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z").unwrap().timestamp_millis();
            assert_eq!(parse(t, Offset::Required), Some(want), "{t}");
        }
        // Pipedrive v1's UTC without an offset.
        let want = NaiveDateTime::parse_from_str("2024-05-01 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap().and_utc().timestamp_millis();
        assert_eq!(parse("2024-05-01 10:00:00", Offset::Optional), Some(want));
        assert_eq!(parse("2024-05-01 10:00:00", Offset::Required), None);
        // A leap second reads as chrono reads it.
        let want = DateTime::parse_from_rfc3339("2016-12-31T23:59:60Z").unwrap().timestamp_millis();
        assert_eq!(parse("2016-12-31T23:59:60Z", Offset::Required), Some(want));
    }

    #[test]
    fn round_trips_random_instants_through_text() {
        for ms in instants(20_000, -62_167_219_200_000, 253_402_300_799_999) {
            assert_eq!(parse(&rfc3339_millis(ms).unwrap(), Offset::Required), Some(ms), "{ms}");
            assert_eq!(parse(&rfc3339_secs(ms).unwrap(), Offset::Required), Some(ms - ms.rem_euclid(1000)), "{ms}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        let bad = [
            "",
            "2026-03-08",
            "2026-03-08T06:50Z",
            "2026-3-08T06:50:00Z",
            "2026-03-08X06:50:00Z",
            "2026-13-08T06:50:00Z",
            "2026-02-29T06:50:00Z",
            "2026-04-31T06:50:00Z",
            "2026-03-08T24:00:00Z",
            "2026-03-08T06:60:00Z",
            "2026-03-08T06:50:61Z",
            "2026-03-08T06:50:00.Z",
            "2026-03-08T06:50:00+5:00",
            "2026-03-08T06:50:00+24:00",
            "2026-03-08T06:50:00Z ",
            " 2026-03-08T06:50:00Z",
            "2026-03-08T06:50:00ZZ",
            "２026-03-08T06:50:00Z",
            "2026-03-08T06:50:00.5",
        ];
        for t in bad {
            assert_eq!(parse(t, Offset::Required), None, "{t:?}");
            assert!(DateTime::parse_from_rfc3339(t).is_err(), "chrono accepts {t:?}, so should we");
        }
    }

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
