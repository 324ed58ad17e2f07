//! Every IANA zone through the core's offset tables (`calltrail_core::zone`), checked against
//! chrono-tz read directly; twenty years of quiet hours in New York, Berlin and Sydney (I11);
//! and the driver asking the shell's platform about zones.

use calltrail_core::model::Timestamp;
use calltrail_core::settings::{DigestSettings, Settings};
use calltrail_core::zone::{ZoneSource, ZoneTable, Zones};

use crate::support::world::ts;
use crate::support::zones::{self, Tzdb};

/// A deterministic spread of instants (xorshift), so a failure replays.
fn instants(n: usize, from: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let span = (until.0 - from.0) as u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Timestamp(from.0 + (x % span) as i64)
        })
        .collect()
}

#[test]
fn every_zone_s_table_gives_chrono_tz_s_offset_at_every_instant_and_change() {
    let (from, until) = (ts("2025-12-01T00:00:00Z"), ts("2027-02-01T00:00:00Z"));
    let probes = instants(200, from, until);
    let db = Tzdb::default();
    let mut zones_with_changes = 0;
    for tz in chrono_tz::TZ_VARIANTS {
        let name = tz.name();
        let table = ZoneTable::build(&db, name, from, until).unwrap_or_else(|| panic!("{name} unknown"));
        for t in &probes {
            assert_eq!(Some(table.offset_secs(*t)), db.offset_secs(name, t.0), "{name} at {t}");
        }
        // Each change is found to the second: the old offset one second before, the new at it.
        for (at, offset) in table.changes() {
            assert_eq!(db.offset_secs(name, at.0), Some(offset), "{name} changes at {at}");
            assert_ne!(db.offset_secs(name, at.0 - 1000), Some(offset), "{name} changed before {at}");
            zones_with_changes += 1;
        }
    }
    // The span holds two changes of daylight saving for most of the world's zones.
    assert!(zones_with_changes > 300, "{zones_with_changes}");
}

/// Real minutes of quiet in the 24 hours from `noon` (about midday local time, so the next
/// night's 02:00-07:00 falls inside whatever the clocks do), sampled every quarter hour: these
/// zones' offsets and changes fall on whole hours, so the count is exact.
fn quiet_minutes(quiet: impl Fn(Timestamp) -> bool, noon: Timestamp) -> usize {
    (0..24 * 4).filter(|q| quiet(noon.plus_mins(q * 15))).count() * 15
}

#[test]
fn every_day_for_twenty_years_has_the_quiet_hours_of_its_zone_s_clock() {
    // 02:00-07:00 local: 5 real hours; 4 when the clock skips 02:00-03:00 (spring forward in
    // New York, Berlin and Sydney); 6 when 02:00-03:00 happens twice (Berlin and Sydney fall
    // back at 03:00); New York falls back at 02:00, so its repeated hour is 01:00 and stays 5.
    // Midday local time on 2024-01-01 in each zone.
    for (zone, noon, allowed) in [
        ("America/New_York", "2024-01-01T17:00:00Z", [4, 5]),
        ("Europe/Berlin", "2024-01-01T11:00:00Z", [4, 6]),
        ("Australia/Sydney", "2024-01-01T01:00:00Z", [4, 6]),
    ] {
        let d = DigestSettings { quiet_time_zone: zone.into(), ..DigestSettings::default() };
        let table = zones::table(zone, "2023-12-01T00:00:00Z", "2045-01-01T00:00:00Z");
        let (mut short, mut long) = (0, 0);
        let mut day = ts(noon);
        for _ in 0..(365 * 20 + 5) {
            let n = quiet_minutes(|t| d.in_quiet_hours(&table, t), day);
            // chrono-tz read directly agrees.
            let oracle = quiet_minutes(|t| zones::in_quiet_hours(&d, t), day);
            assert_eq!(n, oracle, "{zone} on the day of {day}");
            match n / 60 {
                5 => {}
                h if h == allowed[0] => short += 1,
                h if h == allowed[1] => long += 1,
                h => panic!("{zone}: {h} quiet hours on the day of {day} ({n} minutes)"),
            }
            assert_eq!(n % 60, 0, "{zone} on the day of {day}");
            day = day.plus_hours(24);
        }
        assert_eq!(short, 20, "{zone}: one spring-forward day a year");
        if allowed[1] == 6 {
            assert_eq!(long, 20, "{zone}: one fall-back day a year inside the quiet hours");
        }
    }
}

#[test]
fn quiet_hours_end_at_seven_local_on_the_dst_nights() {
    let cases = [
        // Berlin, spring forward 2026-03-29 (02:00 CET → 03:00 CEST): 07:00 CEST is 05:00 UTC.
        ("Europe/Berlin", "2026-03-29T01:30:00Z", "2026-03-29T05:00:00Z"),
        // Berlin, fall back 2026-10-25 (03:00 CEST → 02:00 CET): 07:00 CET is 06:00 UTC.
        ("Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T06:00:00Z"),
        // Sydney, fall back 2026-04-05 (03:00 AEDT → 02:00 AEST): 07:00 AEST is 21:00 UTC.
        ("Australia/Sydney", "2026-04-04T15:30:00Z", "2026-04-04T21:00:00Z"),
        // Sydney, spring forward 2026-10-04 (02:00 AEST → 03:00 AEDT): 07:00 AEDT is 20:00 UTC.
        ("Australia/Sydney", "2026-10-03T16:30:00Z", "2026-10-03T20:00:00Z"),
    ];
    for (zone, at, end) in cases {
        let d = DigestSettings { quiet_time_zone: zone.into(), ..DigestSettings::default() };
        let table = zones::table(zone, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        assert!(d.in_quiet_hours(&table, ts(at)), "{zone} {at}");
        assert_eq!(d.quiet_end(&table, ts(at)), ts(end), "{zone} {at}");
        assert_eq!(zones::quiet_end(&d, ts(at)), ts(end), "{zone} {at} (oracle)");
    }
}

#[test]
fn the_settings_zones_come_from_the_platform_and_an_unknown_one_is_named() {
    let now = ts("2026-06-10T12:00:00Z");
    let db = Tzdb { local: Some("Australia/Sydney".into()) };
    let mut s = Settings::default();
    s.digest.quiet_time_zone = "Europe/Berlin".into();
    let z = Zones::for_settings(&db, &s, now).unwrap();
    assert_eq!(s.conversation_zone(&z), "Australia/Sydney", "the rep's own zone by default");
    assert_eq!(z.get("Australia/Sydney").unwrap().offset_secs(now), 10 * 3600);
    assert_eq!(z.get("Europe/Berlin").unwrap().offset_secs(now), 2 * 3600);
    s.conversation_time_zone = Some("America/Los_Angeles".into());
    let z = Zones::for_settings(&db, &s, now).unwrap();
    assert_eq!(s.conversation_zone(&z), "America/Los_Angeles");
    assert_eq!(z.get("America/Los_Angeles").unwrap().date(ts("2026-06-11T06:30:00Z")), "2026-06-10");
    s.digest.quiet_time_zone = "Europe/Atlantis".into();
    let e = Zones::for_settings(&db, &s, now).unwrap_err();
    assert_eq!((e.setting, e.zone.as_str()), ("quiet_time_zone", "Europe/Atlantis"));
    // A machine that reports no zone of its own: UTC days.
    let z = Zones::for_settings(&Tzdb::default(), &Settings::default(), now).unwrap();
    assert_eq!(Settings::default().conversation_zone(&z), "UTC");
}
