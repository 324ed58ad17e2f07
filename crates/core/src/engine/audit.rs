//! The audit trail: one entry per decision and per CRM attempt, written in the same batch as
//! the ledger transition it explains (so an entry never claims a transition that was lost).
//!
//! Invariant: keys sort by time, then boot, then sequence, so the trail reads in order and two
//! boots never collide.

use serde::{Deserialize, Serialize};

use crate::model::{CallId, IntegrationId, RecordId, Timestamp};
use crate::store::Record;

use super::slot::{SlotKey, Trigger};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub trigger: Trigger,
    pub integration: Option<IntegrationId>,
    pub slot: Option<SlotKey>,
    pub call: Option<CallId>,
    pub contact: Option<RecordId>,
    /// What happened, in words: "logged", "no match", "rate limited: ...".
    pub outcome: String,
    pub record: Option<RecordId>,
}

impl AuditEntry {
    /// The record `audit/<time>|<boot>|<seq>`: time zero-padded to 13 digits, boot in 16 hex
    /// digits, sequence to 10 digits, so keys sort by time as text.
    pub fn to_record(&self, boot: u64, seq: u64) -> Record {
        let key = format!("{:013}|{boot:016x}|{seq:010}", self.at.0.max(0));
        Record::encode(key, false, self.at.0, self)
    }

    /// One CSV line (the export): time, trigger, integration, call, contact, outcome, record.
    /// A cell a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or
    /// a carriage return: a CRM's error text, a contact id) gets a leading `'`.
    pub fn to_csv(&self) -> String {
        let q = |s: &str| {
            let guard = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { "'" } else { "" };
            format!("\"{guard}{}\"", s.replace('"', "\"\""))
        };
        let o = |s: Option<&str>| q(s.unwrap_or(""));
        [
            q(&self.at.to_rfc3339()),
            q(self.trigger.as_str()),
            o(self.integration.as_ref().map(|i| i.as_str())),
            o(self.call.as_ref().map(|c| c.as_str())),
            o(self.contact.as_ref().map(|c| c.as_str())),
            q(&self.outcome),
            o(self.record.as_ref().map(|r| r.as_str())),
        ]
        .join(",")
    }
}

pub const CSV_HEADER: &str = "time,trigger,integration,call,contact,outcome,record";

/// What the export says of itself: from when the trail covers (older entries are pruned after
/// `retention_days`), given its oldest entry.
pub fn covers(from: Option<Timestamp>, retention_days: u32) -> String {
    match from {
        Some(t) => format!("audit trail from {} (entries older than {retention_days} days are removed)", t.to_rfc3339()),
        None => format!("audit trail: empty (entries older than {retention_days} days are removed)"),
    }
}

/// The audit export: a line saying what it covers ([`covers`], starting `#`), the header, then
/// one line per entry.
pub fn csv(covers: &str, entries: &[AuditEntry]) -> String {
    let mut out = format!("# Calltrail {covers}\n{CSV_HEADER}\n");
    for e in entries {
        out.push_str(&e.to_csv());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a cell that starts like a formula is neutralised, whatever field it is in.
    #[test]
    fn csv_cells_never_start_a_formula() {
        let e = AuditEntry {
            at: Timestamp(0),
            trigger: Trigger::Auto,
            integration: Some(IntegrationId::new("@hs")),
            slot: None,
            call: Some(CallId::new("-c1")),
            contact: Some(RecordId::new("+1")),
            outcome: "=HYPERLINK(\"http://x\")".into(),
            record: Some(RecordId::new("\tr")),
        };
        assert_eq!(e.to_csv(), "\"1970-01-01T00:00:00.000Z\",\"auto\",\"'@hs\",\"'-c1\",\"'+1\",\"'=HYPERLINK(\"\"http://x\"\")\",\"'\tr\"");
        let cr = AuditEntry { outcome: "\rx".into(), ..e };
        assert!(cr.to_csv().contains("\"'\rx\""));
    }

    #[test]
    fn records_read_back_and_keys_sort_by_time() {
        let full = AuditEntry {
            at: Timestamp(1_781_107_200_000),
            trigger: Trigger::Reconcile,
            integration: Some(IntegrationId::new("hs")),
            slot: Some("call|c\"1|hs".into()),
            call: Some(CallId::new("c\"1")),
            contact: Some(RecordId::new("p1")),
            outcome: "matched; attempt be4c-3: creating\n".into(),
            record: Some(RecordId::new("r9")),
        };
        let bare = AuditEntry { integration: None, slot: None, call: None, contact: None, record: None, ..full.clone() };
        for e in [full, bare] {
            let r = e.to_record(0xbe4c, 42);
            assert_eq!(r.key, format!("{:013}|{:016x}|{:010}", e.at.0, 0xbe4c, 42));
            assert_eq!(r.decode::<AuditEntry>(), Some(e));
        }
        let early = AuditEntry { at: Timestamp(-1), ..AuditEntry { at: Timestamp(0), trigger: Trigger::Auto, integration: None, slot: None, call: None, contact: None, outcome: String::new(), record: None } };
        assert_eq!(early.to_record(1, 1).key, "0000000000000|0000000000000001|0000000001");
    }
}
