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
    pub fn to_record(&self, boot: u64, seq: u64) -> Record {
        Record {
            key: format!("{:013}|{boot:016x}|{seq:010}", self.at.0.max(0)),
            open: 0,
            at: self.at.0,
            value: serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned()),
        }
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
