//! The fake world's time zones, as a native shell has them: chrono-tz's whole IANA database
//! behind the core's `ZoneSource`, and quiet hours computed straight from it, the oracle the
//! engine's offset tables are checked against (I10).

use chrono::{Offset, TimeZone, Timelike};
use chrono_tz::Tz;

use calltrail_core::model::Timestamp;
use calltrail_core::settings::DigestSettings;
use calltrail_core::zone::{ZoneSource, ZoneTable};

/// chrono-tz as a zone source; `local` is the zone the rep's machine reports.
#[derive(Clone, Debug, Default)]
pub struct Tzdb {
    pub local: Option<String>,
}

impl ZoneSource for Tzdb {
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32> {
        let tz: Tz = zone.parse().ok()?;
        let at = chrono::DateTime::from_timestamp_millis(at_ms)?;
        Some(tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc())
    }

    fn local_zone(&self) -> Option<String> {
        self.local.clone()
    }

    fn local_offset_secs(&self, at_ms: i64) -> Option<i32> {
        self.local.as_deref().and_then(|z| self.offset_secs(z, at_ms))
    }
}

/// `zone`'s table over the years a test needs, from chrono-tz.
pub fn table(zone: &str, from: &str, until: &str) -> ZoneTable {
    let t = |s: &str| Timestamp::parse(s).unwrap_or_else(|| panic!("bad time {s}"));
    ZoneTable::build(&Tzdb::default(), zone, t(from), t(until)).unwrap_or_else(|| panic!("unknown zone {zone}"))
}

/// Whether `now` is in quiet hours, read from chrono-tz directly (not through a table).
pub fn in_quiet_hours(d: &DigestSettings, now: Timestamp) -> bool {
    let tz: Tz = d.quiet_time_zone.parse().unwrap_or_else(|_| panic!("unknown zone {}", d.quiet_time_zone));
    let Some(at) = chrono::DateTime::from_timestamp_millis(now.0) else { return false };
    let h = tz.from_utc_datetime(&at.naive_utc()).hour() as u8;
    let (s, e) = (d.quiet_start_hour, d.quiet_end_hour);
    match s.cmp(&e) {
        std::cmp::Ordering::Less => s <= h && h < e,
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Greater => h >= s || h < e,
    }
}

/// The first minute at or after `now` outside quiet hours, from chrono-tz directly.
pub fn quiet_end(d: &DigestSettings, now: Timestamp) -> Timestamp {
    let mut t = now;
    while in_quiet_hours(d, t) {
        t = t.plus_mins(1);
    }
    t
}
