//! The audit trail: one entry per decision and per CRM attempt, written in the same batch as
//! the ledger transition it explains (so an entry never claims a transition that was lost).
//!
//! Invariant: keys sort by time, then boot, then sequence, so the trail reads in order and two
//! boots never collide.

use serde::{Deserialize, Serialize};

use crate::model::{CallId, IntegrationId, RecordId, Timestamp};
use crate::store::Record;

use super::json;
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
        self.to_record_in(&json::audit_boot(boot), seq)
    }

    /// [`AuditEntry::to_record`] with the boot's part of the key already written
    /// ([`json::audit_boot`]): the engine writes it once per boot, not once per entry.
    pub fn to_record_in(&self, boot: &str, seq: u64) -> Record {
        Record { key: json::audit_key(self.at.0.max(0).unsigned_abs(), boot, seq), open: 0, at: self.at.0, value: self.to_json() }
    }

    /// The record under a key already made (the engine counts its keys up, see [`json::count_up`]).
    pub(super) fn to_record_keyed(&self, key: String) -> Record {
        Record { key, open: 0, at: self.at.0, value: self.to_json() }
    }

    /// The entry as JSON, exactly as the derived `Serialize` writes it (see [`super::json`]).
    pub fn to_json(&self) -> String {
        let mut out = json::Out::with_capacity(160 + self.outcome.len());
        out.raw("{\"at\":");
        json::int(&mut out, self.at.0);
        // Trigger names are lower-case words: nothing to escape.
        out.raw(",\"trigger\":\"");
        out.raw(self.trigger.as_str());
        out.raw("\",\"integration\":");
        json::opt_str(&mut out, self.integration.as_ref().map(|i| i.as_str()));
        out.raw(",\"slot\":");
        json::opt_str(&mut out, self.slot.as_deref());
        out.raw(",\"call\":");
        json::opt_str(&mut out, self.call.as_ref().map(|c| c.as_str()));
        out.raw(",\"contact\":");
        json::opt_str(&mut out, self.contact.as_ref().map(|c| c.as_str()));
        out.raw(",\"outcome\":");
        json::str(&mut out, &self.outcome);
        out.raw(",\"record\":");
        json::opt_str(&mut out, self.record.as_ref().map(|r| r.as_str()));
        out.byte(b'}');
        out.finish()
    }

    /// One CSV line (the export): time, trigger, integration, call, contact, outcome, record.
    pub fn to_csv(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
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

/// The audit export: the header, then one line per entry.
pub fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for e in entries {
        out.push_str(&e.to_csv());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_match_serde_json_and_keys_sort_by_time() {
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
            assert_eq!(r.value, serde_json::to_string(&e).unwrap());
            assert_eq!(r.key, format!("{:013}|{:016x}|{:010}", e.at.0, 0xbe4c, 42));
            assert_eq!(r.decode::<AuditEntry>(), Some(e));
        }
        let early = AuditEntry { at: Timestamp(-1), ..AuditEntry { at: Timestamp(0), trigger: Trigger::Auto, integration: None, slot: None, call: None, contact: None, outcome: String::new(), record: None } };
        assert_eq!(early.to_record(1, 1).key, "0000000000000|0000000000000001|0000000001");
    }
}
