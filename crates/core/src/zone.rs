//! Civil time in any IANA time zone, without a time-zone database in the core.
//!
//! The core needs local time twice: quiet hours (02:00-07:00 in `digest.quiet_time_zone`) and
//! the conversation day of SMS and fax (the rep's own zone unless `conversation_time_zone` says
//! otherwise). It does not carry the tz database for that: the whole of chrono-tz would add about
//! 144 KB gzipped to a module with a 400 KB budget (ARCHITECTURE.md, "Decisions"). The shells
//! already know every zone (the browser's `Intl`, chrono-tz in the native server and tests), so
//! a shell implements [`ZoneSource`] (one offset for one zone at one instant) and the driver
//! builds, for the few zones the settings name, a [`ZoneTable`]: the zone's UTC offsets over a
//! span around now, sampled once a day and bisected to the second wherever the offset changes.
//! The engine answers every civil-time question from those tables ([`Zones`]), so time and
//! zones are both parameters and the core still never reads the machine's zone.
//!
//! Invariant: a table answers for every instant and never panics; outside the span it vouches
//! for it keeps the nearest offset it knows (the driver rebuilds tables before they run out).

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;
use crate::settings::Settings;
use crate::store::Record;

/// What a shell knows about time zones.
pub trait ZoneSource: std::fmt::Debug {
    /// The UTC offset of `zone` at the instant `at_ms` (epoch milliseconds), in seconds east of
    /// UTC; `None` when the zone is not one the platform knows.
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32>;
    /// The zone the machine is set to (the rep's browser), if the platform says.
    fn local_zone(&self) -> Option<String>;
    /// The machine's own UTC offset at `at_ms`, in seconds east of UTC, found cheaply (a
    /// `Date`'s offset, no zone database): how the driver tells, at a worker start, that the
    /// machine's zone is still the one its stored tables were built for.
    fn local_offset_secs(&self, at_ms: i64) -> Option<i32>;
}

/// How far back and ahead of `now` a table vouches for its offsets. Back: every message a
/// restore reads (the lookback and catch-up reach at most 7 days and 2 hours). Ahead: the
/// driver rebuilds tables [`REFRESH_BEFORE_MS`] before they run out, so a worker or a server
/// that runs for weeks stays covered.
pub const SPAN_BACK_MS: i64 = 8 * DAY_MS;
pub const SPAN_AHEAD_MS: i64 = 40 * DAY_MS;
pub const REFRESH_BEFORE_MS: i64 = 2 * DAY_MS;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Samples are a day apart: no zone changes its offset twice within a day and back.
const SAMPLE_MS: i64 = DAY_MS;

/// One zone's offsets over a span of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneTable {
    /// `(from_ms, offset_secs)` in time order: the offset in force from `from_ms` until the next
    /// entry. The first offset also stands before it, the last one after.
    spans: Vec<(i64, i32)>,
    /// The span the shell vouched for.
    pub from: Timestamp,
    pub until: Timestamp,
}

/// UTC, for a zone no table was given for (the engine reports it as a problem).
pub static UTC: ZoneTable = ZoneTable { spans: Vec::new(), from: Timestamp(i64::MIN), until: Timestamp(i64::MAX) };

impl ZoneTable {
    /// A zone with one offset for ever (UTC, or a test's fixed zone).
    pub fn fixed(offset_secs: i32) -> ZoneTable {
        ZoneTable { spans: vec![(i64::MIN, offset_secs)], from: Timestamp(i64::MIN), until: Timestamp(i64::MAX) }
    }

    /// A table from known changes: `changes` are `(from, offset_secs)` in any order, `before` is
    /// the offset in force before the first (tests and fixtures; shells use [`ZoneTable::build`]).
    pub fn from_changes(before: i32, changes: &[(Timestamp, i32)]) -> ZoneTable {
        let mut spans = vec![(i64::MIN, before)];
        let mut sorted = changes.to_vec();
        sorted.sort_by_key(|(t, _)| *t);
        spans.extend(sorted.into_iter().map(|(t, o)| (t.0, o)));
        ZoneTable { spans, from: Timestamp(i64::MIN), until: Timestamp(i64::MAX) }
    }

    /// Asks `source` for `zone`'s offsets from `from` to `until`: one sample a day, and at every
    /// change between two samples a bisection to the second. `None` when the source does not
    /// know the zone.
    pub fn build(source: &dyn ZoneSource, zone: &str, from: Timestamp, until: Timestamp) -> Option<ZoneTable> {
        // On whole seconds, where every change of offset falls, so a bisection ends on one.
        let from = from.0 - from.0.rem_euclid(1000);
        let until = until.0.max(from).saturating_add(999) / 1000 * 1000;
        let first = source.offset_secs(zone, from)?;
        let mut spans = vec![(from, first)];
        let (mut at, mut offset) = (from, first);
        while at < until {
            let next = at.saturating_add(SAMPLE_MS).min(until);
            // A zone the source knew a moment ago answers again; if not, keep what is known.
            let Some(o) = source.offset_secs(zone, next) else { break };
            changes(source, zone, (at, offset), (next, o), &mut spans);
            (at, offset) = (next, o);
        }
        Some(ZoneTable { spans, from: Timestamp(from), until: Timestamp(until) })
    }

    /// The offset in force at `at`, in seconds east of UTC.
    pub fn offset_secs(&self, at: Timestamp) -> i32 {
        let i = self.spans.partition_point(|(from, _)| *from <= at.0);
        match i {
            0 => self.spans.first().map_or(0, |s| s.1),
            i => self.spans[i - 1].1,
        }
    }

    /// `at` as local wall-clock milliseconds (the epoch read in local time).
    pub fn local_ms(&self, at: Timestamp) -> i64 {
        at.0.saturating_add(i64::from(self.offset_secs(at)) * 1000)
    }

    /// The local hour of `at` (0-23).
    pub fn hour(&self, at: Timestamp) -> u8 {
        (self.local_ms(at).rem_euclid(DAY_MS) / HOUR_MS) as u8
    }

    /// The local calendar day of `at`, `YYYY-MM-DD` (a count of days for an instant no
    /// calendar can name).
    pub fn date(&self, at: Timestamp) -> String {
        let local = self.local_ms(at);
        crate::civil::date(local).unwrap_or_else(|| format!("@{}", local.div_euclid(DAY_MS)))
    }

    /// The instants where the offset changes inside the table, with the new offset.
    pub fn changes(&self) -> impl Iterator<Item = (Timestamp, i32)> + '_ {
        self.spans.iter().skip(1).map(|(t, o)| (Timestamp(*t), *o))
    }
}

/// Finds every change of offset between two samples that differ, to the second (`a` and `b`
/// are whole seconds).
fn changes(source: &dyn ZoneSource, zone: &str, (a, oa): (i64, i32), (b, ob): (i64, i32), out: &mut Vec<(i64, i32)>) {
    if oa == ob {
        return;
    }
    if b - a <= 1000 {
        out.push((b, ob));
        return;
    }
    let mid = a + (b - a) / 2000 * 1000;
    // A source that stops answering mid-way: the change is put at the later sample.
    let om = source.offset_secs(zone, mid).unwrap_or(ob);
    changes(source, zone, (a, oa), (mid, om), out);
    changes(source, zone, (mid, om), (b, ob), out);
}

/// The key of the stored tables in the `meta` store (read whole by every restore).
pub const META_KEY: &str = "zones";

/// The tables the engine works with, and the rep's own zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zones {
    /// At most three (quiet hours, the conversation day, the rep's own): a list, not a map.
    tables: Vec<(String, ZoneTable)>,
    local: Option<String>,
}

/// A zone the settings name that the shell does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownZone {
    /// Which setting names it: `quiet_time_zone` or `conversation_time_zone`.
    pub setting: &'static str,
    pub zone: String,
}

impl Zones {
    /// Tables for `tables` as given, and the rep's zone (tests and fixtures).
    pub fn new(tables: impl IntoIterator<Item = (String, ZoneTable)>, local: Option<String>) -> Zones {
        Zones { tables: tables.into_iter().collect(), local }
    }

    /// The tables `settings` need around `now` (its quiet-hours zone, its conversation zone or
    /// else the rep's own), from `source`. A zone the source does not know is refused; the rep's
    /// own zone, when the source cannot give it, is simply not there (UTC stands in).
    pub fn for_settings(source: &dyn ZoneSource, settings: &Settings, now: Timestamp) -> Result<Zones, UnknownZone> {
        match Zones::gather(source, settings, now) {
            (_, Some(unknown)) => Err(unknown),
            (zones, None) => Ok(zones),
        }
    }

    /// Every table of [`Zones::for_settings`] the source can give, and the first zone it could
    /// not (settings stored before the platform lost a zone still start; UTC stands in for it).
    pub fn gather(source: &dyn ZoneSource, settings: &Settings, now: Timestamp) -> (Zones, Option<UnknownZone>) {
        let (from, until) = (now.plus_ms(-SPAN_BACK_MS), now.plus_ms(SPAN_AHEAD_MS));
        let local = source.local_zone().filter(|z| source.offset_secs(z, now.0).is_some());
        let mut tables: Vec<(String, ZoneTable)> = Vec::new();
        let mut unknown = None;
        let named = [("quiet_time_zone", Some(&settings.digest.quiet_time_zone)), ("conversation_time_zone", settings.conversation_time_zone.as_ref())];
        let wanted = named.into_iter().filter_map(|(setting, z)| Some((Some(setting), z?.clone()))).chain(local.clone().map(|z| (None, z)));
        for (setting, zone) in wanted {
            if tables.iter().any(|(z, _)| *z == zone) {
                continue;
            }
            match ZoneTable::build(source, &zone, from, until) {
                Some(t) => tables.push((zone, t)),
                None => {
                    if let (Some(setting), None) = (setting, &unknown) {
                        unknown = Some(UnknownZone { setting, zone });
                    }
                }
            }
        }
        (Zones { tables, local }, unknown)
    }

    /// The table for `zone`, if the shell gave one.
    pub fn get(&self, zone: &str) -> Option<&ZoneTable> {
        self.tables.iter().find(|(z, _)| z == zone).map(|(_, t)| t)
    }

    /// The rep's own zone, as the shell's platform reports it.
    pub fn local(&self) -> Option<&str> {
        self.local.as_deref()
    }

    /// The earliest end of the tables' spans: the driver rebuilds them before it.
    pub fn until(&self) -> Timestamp {
        self.tables.iter().map(|(_, t)| t.until).min().unwrap_or(Timestamp(i64::MAX))
    }

    /// Whether these tables (read back from the store) still serve `settings` at `now` with
    /// `source`'s machine: not stale, a table for every zone the settings name, and the machine's
    /// offset now the one its recorded zone has (a machine moved to another zone with the same
    /// offset today keeps the old tables, which give the same days until they are rebuilt).
    /// Then a worker start asks the platform for no zone at all: the first `Intl` formatter of a
    /// process costs tens of milliseconds (BENCHMARKS.md, "Time zones").
    pub fn still_serve(&self, source: &dyn ZoneSource, settings: &Settings, now: Timestamp) -> bool {
        let named = [Some(&settings.digest.quiet_time_zone), settings.conversation_time_zone.as_ref()];
        let local_now = self.local.as_deref().and_then(|z| self.get(z)).map(|t| t.offset_secs(now));
        !self.tables.is_empty()
            && !self.is_stale(now)
            && named.into_iter().flatten().all(|z| self.get(z).is_some())
            && local_now == source.local_offset_secs(now.0)
    }

    /// The record the driver keeps them in (`meta/zones`, relaxed: rebuilding them costs only
    /// time).
    pub fn to_record(&self, now: Timestamp) -> Record {
        Record::encode(META_KEY, false, now.0, self)
    }

    /// Whether the tables need rebuilding at `now` (they run out soon, or do not reach back to
    /// it after a clock set back).
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let from = self.tables.iter().map(|(_, t)| t.from).max().unwrap_or(Timestamp(i64::MIN));
        now.plus_ms(REFRESH_BEFORE_MS) > self.until() || now < from.plus_ms(SPAN_BACK_MS / 2)
    }
}

/// A source that knows a few zones, each at one offset for ever: for tests, benchmarks and
/// fixtures that need no daylight saving (shells use the platform's database).
#[derive(Clone, Debug, Default)]
pub struct FixedZones {
    pub zones: Vec<(String, i32)>,
    pub local: Option<String>,
}

impl FixedZones {
    /// New York at -05:00 and UTC; no local zone.
    pub fn standard() -> FixedZones {
        FixedZones { zones: vec![("America/New_York".into(), -5 * 3600), ("UTC".into(), 0)], local: None }
    }
}

impl ZoneSource for FixedZones {
    fn offset_secs(&self, zone: &str, _at_ms: i64) -> Option<i32> {
        self.zones.iter().find(|(z, _)| z == zone).map(|(_, o)| *o)
    }
    fn local_zone(&self) -> Option<String> {
        self.local.clone()
    }
    fn local_offset_secs(&self, at_ms: i64) -> Option<i32> {
        self.local.as_deref().and_then(|z| self.offset_secs(z, at_ms))
    }
}

/// Whether `name` can be an IANA zone name (`Area/Location`, `UTC`, `Etc/GMT+5`): what settings
/// validation checks; whether the zone exists is the shell's to say.
pub fn is_zone_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
}

/// Reads the offset a `timeZoneName: "longOffset"` formatter writes (`GMT`, `GMT+05:30`,
/// `GMT-03:00`, `GMT+05:53:28` for a local mean time), in seconds east of UTC.
pub fn parse_gmt_offset(text: &str) -> Option<i32> {
    let rest = text.trim().strip_prefix("GMT").or_else(|| text.trim().strip_prefix("UTC"))?;
    if rest.is_empty() {
        return Some(0);
    }
    // Intl writes U+2212 MINUS SIGN in some locales; `en-US` writes '-'.
    let (sign, digits) = if let Some(d) = rest.strip_prefix('+') {
        (1, d)
    } else if let Some(d) = rest.strip_prefix('-').or_else(|| rest.strip_prefix('\u{2212}')) {
        (-1, d)
    } else {
        return None;
    };
    let mut secs = 0;
    let mut fields = 0;
    for (part, (max, unit)) in digits.split(':').zip([(23, 3600), (59, 60), (59, 1)]) {
        let ok = (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
        let v: i32 = part.parse().ok().filter(|v| ok && *v <= max)?;
        secs += v * unit;
        fields += 1;
    }
    (fields == digits.split(':').count()).then_some(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// A source with New York's 2026 rules written out, and one zone it does not know.
    #[derive(Debug)]
    struct NewYork2026;

    impl ZoneSource for NewYork2026 {
        fn offset_secs(&self, zone: &str, at: i64) -> Option<i32> {
            match zone {
                "America/New_York" => Some(if at >= utc("2026-03-08T07:00:00Z").0 && at < utc("2026-11-01T06:00:00Z").0 { -4 * 3600 } else { -5 * 3600 }),
                "UTC" => Some(0),
                "Asia/Kathmandu" => Some(5 * 3600 + 45 * 60),
                _ => None,
            }
        }
        fn local_zone(&self) -> Option<String> {
            Some("Asia/Kathmandu".into())
        }
        fn local_offset_secs(&self, at_ms: i64) -> Option<i32> {
            self.offset_secs("Asia/Kathmandu", at_ms)
        }
    }

    /// The machine moved to another offset since the tables were built.
    #[derive(Debug)]
    struct Moved;

    impl ZoneSource for Moved {
        fn offset_secs(&self, zone: &str, at: i64) -> Option<i32> {
            NewYork2026.offset_secs(zone, at)
        }
        fn local_zone(&self) -> Option<String> {
            Some("UTC".into())
        }
        fn local_offset_secs(&self, _: i64) -> Option<i32> {
            Some(0)
        }
    }

    #[test]
    fn stored_tables_serve_a_restart_until_they_run_out_or_the_machine_moves() {
        let now = utc("2026-06-10T12:00:00Z");
        let s = Settings::default();
        let z = Zones::for_settings(&NewYork2026, &s, now).unwrap();
        let back: Zones = z.to_record(now).decode().unwrap();
        assert_eq!(back, z);
        assert!(back.still_serve(&NewYork2026, &s, now.plus_hours(30)));
        assert!(!back.still_serve(&NewYork2026, &s, now.plus_ms(SPAN_AHEAD_MS)), "stale");
        assert!(!back.still_serve(&Moved, &s, now), "the machine's offset changed");
        let mut other = s.clone();
        other.conversation_time_zone = Some("UTC".into());
        assert!(!back.still_serve(&NewYork2026, &other, now), "a zone with no table");
        assert!(!Zones::default().still_serve(&NewYork2026, &s, now));
    }

    #[test]
    fn a_built_table_finds_each_change_to_the_second() {
        let t = ZoneTable::build(&NewYork2026, "America/New_York", utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")).unwrap();
        let changes: Vec<_> = t.changes().collect();
        assert_eq!(changes, vec![(utc("2026-03-08T07:00:00Z"), -4 * 3600), (utc("2026-11-01T06:00:00Z"), -5 * 3600)]);
        assert_eq!(t.offset_secs(utc("2026-03-08T06:59:59Z")), -5 * 3600);
        assert_eq!(t.offset_secs(utc("2026-03-08T07:00:00Z")), -4 * 3600);
        // Outside the span, the nearest offset stands.
        assert_eq!(t.offset_secs(utc("2020-07-01T00:00:00Z")), -5 * 3600);
        assert_eq!(t.offset_secs(utc("2030-07-01T00:00:00Z")), -5 * 3600);
        assert_eq!(ZoneTable::build(&NewYork2026, "Mars/Olympus", utc("2026-01-01T00:00:00Z"), utc("2026-02-01T00:00:00Z")), None);
    }

    #[test]
    fn local_hours_and_days() {
        let ny = ZoneTable::build(&NewYork2026, "America/New_York", utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")).unwrap();
        assert_eq!(ny.hour(utc("2026-03-08T06:59:00Z")), 1);
        assert_eq!(ny.hour(utc("2026-03-08T07:00:00Z")), 3);
        assert_eq!(ny.date(utc("2026-03-08T03:30:00Z")), "2026-03-07");
        assert_eq!(ny.date(utc("2026-03-08T05:30:00Z")), "2026-03-08");
        let ktm = ZoneTable::fixed(5 * 3600 + 45 * 60);
        assert_eq!(ktm.date(utc("2026-06-10T18:14:59Z")), "2026-06-10");
        assert_eq!(ktm.date(utc("2026-06-10T18:15:00Z")), "2026-06-11");
        assert_eq!(UTC.hour(utc("2026-06-10T18:15:00Z")), 18);
        // Instants no calendar can name still get a day.
        assert!(ktm.date(Timestamp(i64::MAX)).starts_with('@'));
        assert!(UTC.date(Timestamp(i64::MIN)).starts_with('@'));
    }

    #[test]
    fn zones_for_settings_cover_the_named_zones_and_the_reps_own() {
        let now = utc("2026-06-10T12:00:00Z");
        let mut s = Settings::default();
        let z = Zones::for_settings(&NewYork2026, &s, now).unwrap();
        assert!(z.get("America/New_York").is_some());
        assert_eq!(z.local(), Some("Asia/Kathmandu"));
        assert!(z.get("Asia/Kathmandu").is_some());
        assert_eq!(z.until(), now.plus_ms(SPAN_AHEAD_MS));
        assert!(!z.is_stale(now) && !z.is_stale(now.plus_ms(SPAN_AHEAD_MS - REFRESH_BEFORE_MS - 1)));
        assert!(z.is_stale(now.plus_ms(SPAN_AHEAD_MS - REFRESH_BEFORE_MS + 1)));
        assert!(z.is_stale(now.plus_ms(-SPAN_BACK_MS)));
        s.conversation_time_zone = Some("Mars/Olympus".into());
        assert_eq!(Zones::for_settings(&NewYork2026, &s, now), Err(UnknownZone { setting: "conversation_time_zone", zone: "Mars/Olympus".into() }));
        s.conversation_time_zone = None;
        s.digest.quiet_time_zone = "Mars/Olympus".into();
        assert_eq!(Zones::for_settings(&NewYork2026, &s, now).unwrap_err().setting, "quiet_time_zone");
    }

    #[test]
    fn reads_the_offsets_intl_writes() {
        let cases = [
            ("GMT", Some(0)),
            ("GMT+01:00", Some(3600)),
            ("GMT-03:00", Some(-3 * 3600)),
            ("GMT\u{2212}03:00", Some(-3 * 3600)),
            ("GMT+05:45", Some(5 * 3600 + 45 * 60)),
            ("GMT+5", Some(5 * 3600)),
            ("GMT-00:01:15", Some(-75)),
            ("GMT+14:00", Some(14 * 3600)),
            ("UTC", Some(0)),
            ("GMT+24:00", None),
            ("GMT+05:60", None),
            ("GMT+", None),
            ("GMT 05:00", None),
            ("GMT+05:00:00:00", None),
            ("EST", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_gmt_offset(text), want, "{text:?}");
        }
    }

    #[test]
    fn zone_names_are_checked_for_shape_only() {
        for ok in ["UTC", "America/New_York", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "America/Port-au-Prince"] {
            assert!(is_zone_name(ok), "{ok}");
        }
        for bad in ["", "/UTC", "Europe/", "Europe//Berlin", "Europe/Berlin ", "Europe/Bérlin", &"A".repeat(65)] {
            assert!(!is_zone_name(bad), "{bad:?}");
        }
    }
}

/// chrono-tz's whole IANA database as a [`ZoneSource`], for native shells (the server and the
/// native tests), which can afford it; the wasm module asks the browser's `Intl` instead.
/// `local` is the zone the machine reports: none for the server, which runs for many reps on a
/// machine usually set to UTC (a rep whose SMS day should follow their zone sets
/// `conversation_time_zone`).
#[cfg(feature = "tzdb")]
#[derive(Clone, Debug, Default)]
pub struct Tzdb {
    pub local: Option<String>,
}

#[cfg(feature = "tzdb")]
impl ZoneSource for Tzdb {
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32> {
        use chrono::{Offset, TimeZone};
        let tz: chrono_tz::Tz = zone.parse().ok()?;
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
