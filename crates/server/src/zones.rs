//! The server's time zones for the core: the IANA database compiled in by chrono-tz. A native
//! binary can afford the whole database (the wasm module cannot, which is why the core takes
//! offset tables from its shell: `calltrail_core::zone`).
//!
//! The server has no "rep's own zone" to report: it runs for many reps, on a machine usually set
//! to UTC. A rep whose SMS day should follow their zone sets `conversation_time_zone`.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

use calltrail_core::zone::ZoneSource;

#[derive(Clone, Copy, Debug, Default)]
pub struct Tzdb;

impl ZoneSource for Tzdb {
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32> {
        let tz: Tz = zone.parse().ok()?;
        let at = chrono::DateTime::from_timestamp_millis(at_ms)?;
        Some(tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc())
    }

    fn local_zone(&self) -> Option<String> {
        None
    }

    fn local_offset_secs(&self, _at_ms: i64) -> Option<i32> {
        None
    }
}
