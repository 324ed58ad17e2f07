//! The window a digest run covers. Quiet hours themselves are civil-time arithmetic on
//! [`DigestSettings`] (`in_quiet_hours`, `quiet_end`) over the zone's offset table
//! ([`crate::zone`]), tested here for the New York daylight-saving nights of 2026 (and natively
//! for twenty years of New York, Berlin and Sydney, `tests/native/zones.rs`).
//!
//! Invariants: quiet hours are checked instant → local time in the configured zone (never a
//! fixed offset, never the machine's zone), so DST nights need no special case (I10, I11);
//! a run's window comes from the ledger's watermark and `now`, never from the alarm, so late,
//! doubled and lost alarms change nothing (I12).

use crate::model::Timestamp;
use crate::settings::DigestSettings;

/// The oldest call end a run at `now` covers: the lookback, reaching further back to the last
/// completed run (catch-up after quiet hours or an outage), never beyond `catch_up_max_hours`.
pub fn window_start(d: &DigestSettings, now: Timestamp, last_completed: Option<Timestamp>) -> Timestamp {
    let lookback = now.plus_mins(-i64::from(d.lookback_mins));
    let floor = now.plus_hours(-i64::from(d.catch_up_max_hours));
    let from = match last_completed {
        Some(t) if t < lookback => t,
        _ => lookback,
    };
    from.max(floor)
}

/// Why a slot closed unlogged when no contact matched its number in the window.
pub const NO_MATCH_REASON: &str = "no contact matched within the digest window";

/// Calls that ended before this are out of every future window: their unlogged slots close.
pub fn expiry(d: &DigestSettings, now: Timestamp) -> Timestamp {
    now.plus_hours(-i64::from(d.catch_up_max_hours)).min(now.plus_mins(-i64::from(d.lookback_mins)))
}

/// Calls that ended before this are past the wait for work that already has a match, notes or
/// picks (`max_wait_days`).
pub fn wait_start(d: &DigestSettings, now: Timestamp) -> Timestamp {
    now.plus_hours(-24 * i64::from(d.max_wait_days))
}

/// Why waiting work was not logged, for the rep: the browser was away a day or more (the digest
/// did not run for `away_ms`), or the CRM kept failing.
pub fn expired_reason(d: &DigestSettings, away_ms: i64, last_error: Option<&str>) -> String {
    let days = away_ms / 86_400_000;
    match (days, last_error) {
        (1, _) => "not logged: browser closed for 1 day".to_owned(),
        (n, _) if n > 1 => format!("not logged: browser closed for {n} days"),
        (_, Some(e)) => format!("not logged within {} days: {e}", d.max_wait_days),
        (_, None) => format!("not logged within {} days", d.max_wait_days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::zone::ZoneTable;

    fn utc(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// New York's offsets in 2026, as the shell would hand them in.
    fn new_york() -> ZoneTable {
        ZoneTable::from_changes(-5 * 3600, &[(utc("2026-03-08T07:00:00Z"), -4 * 3600), (utc("2026-11-01T06:00:00Z"), -5 * 3600)])
    }

    fn quiet_minutes_on(d: &DigestSettings, day_start_utc: &str) -> i64 {
        let start = utc(day_start_utc);
        let ny = new_york();
        (0..24 * 60).filter(|m| d.in_quiet_hours(&ny, start.plus_mins(*m))).count() as i64
    }

    #[test]
    fn quiet_window_is_civil_time_across_dst() {
        let d = DigestSettings::default();
        let ny = new_york();
        // Spring forward: 02:00-02:59 does not exist, quiet is 4 real hours (07:00-11:00 UTC).
        assert_eq!(quiet_minutes_on(&d, "2026-03-08T00:00:00Z"), 4 * 60);
        assert!(!d.in_quiet_hours(&ny, utc("2026-03-08T06:59:00Z")));
        assert!(d.in_quiet_hours(&ny, utc("2026-03-08T07:00:00Z")));
        assert!(!d.in_quiet_hours(&ny, utc("2026-03-08T11:00:00Z")));
        // Fall back: 5 real hours, 07:00-12:00 UTC (02:00 EST to 07:00 EST).
        assert_eq!(quiet_minutes_on(&d, "2026-11-01T00:00:00Z"), 5 * 60);
        assert!(d.in_quiet_hours(&ny, utc("2026-11-01T07:00:00Z")));
        assert!(!d.in_quiet_hours(&ny, utc("2026-11-01T06:59:00Z")));
        assert!(!d.in_quiet_hours(&ny, utc("2026-11-01T12:00:00Z")));
        // An ordinary summer day: 06:00-11:00 UTC.
        assert_eq!(quiet_minutes_on(&d, "2026-06-10T00:00:00Z"), 5 * 60);
    }

    #[test]
    fn quiet_end_is_seven_local() {
        let d = DigestSettings::default();
        let ny = new_york();
        assert_eq!(d.quiet_end(&ny, utc("2026-03-08T07:30:00Z")), utc("2026-03-08T11:00:00Z"));
        assert_eq!(d.quiet_end(&ny, utc("2026-11-01T09:10:00Z")), utc("2026-11-01T12:00:00Z"));
        assert_eq!(d.quiet_end(&ny, utc("2026-06-10T12:00:00Z")), utc("2026-06-10T12:00:00Z"));
    }

    #[test]
    fn window_reaches_back_to_the_last_run_but_not_past_the_cap() {
        let d = DigestSettings::default();
        let now = utc("2026-06-10T11:00:00Z");
        assert_eq!(window_start(&d, now, None), now.plus_hours(-4));
        assert_eq!(window_start(&d, now, Some(now.plus_hours(-1))), now.plus_hours(-4));
        assert_eq!(window_start(&d, now, Some(now.plus_hours(-6))), now.plus_hours(-6));
        assert_eq!(window_start(&d, now, Some(now.plus_hours(-60))), now.plus_hours(-24));
    }
}
