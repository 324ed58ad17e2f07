//! The fake world's time zones, as a native shell has them: the core's `Tzdb` (chrono-tz's whole
//! IANA database behind `ZoneSource`), and quiet hours computed straight from chrono-tz, the
//! oracle the engine's offset tables are checked against (I10).

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;

use calltrail_core::model::Timestamp;
use calltrail_core::settings::DigestSettings;
use calltrail_core::zone::ZoneTable;
pub use calltrail_core::zone::Tzdb;

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
