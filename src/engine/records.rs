//! Persisted record shapes other than slots: calls, digest watermarks, integration health.
//!
//! Invariant: everything a restart needs is in an open record or a recent one, so a restore
//! reads a bounded amount whatever the length of the history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Call, Contact, IntegrationId, Timestamp};
use crate::store::Record;

use super::retry::Health;

/// One call as the engine keeps it (`calls/<call id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEntry {
    pub call: Call,
    /// The call ended and its slots were made.
    pub ended: bool,
    /// The rep opened the log during the call: the call goes to the digest.
    pub notes_opened: bool,
    /// Active-call picks per integration.
    pub picks: BTreeMap<IntegrationId, Vec<Contact>>,
    pub log_now: bool,
    #[serde(skip)]
    pub persisted_open: bool,
}

impl CallEntry {
    pub fn new(call: Call) -> CallEntry {
        CallEntry { call, ended: false, notes_opened: false, picks: BTreeMap::new(), log_now: false, persisted_open: false }
    }

    pub fn at(&self) -> Timestamp {
        self.call.ended_at.unwrap_or(self.call.started_at)
    }

    pub fn to_record(&self, open: bool) -> Record {
        Record {
            key: self.call.id.0.clone(),
            open: u8::from(open),
            at: self.at().0,
            value: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }

    pub fn from_record(r: &Record) -> Option<CallEntry> {
        let mut c: CallEntry = serde_json::from_value(r.value.clone()).ok()?;
        c.persisted_open = r.open == 1;
        Some(c)
    }
}

pub const DIGEST_KEY: &str = "digest";
pub const HEALTH_PREFIX: &str = "health|";

/// Digest watermarks (`meta/digest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DigestMeta {
    pub last_started: Option<Timestamp>,
    /// The start of the last run whose work all settled: the catch-up reaches back to it.
    pub last_completed: Option<Timestamp>,
}

impl DigestMeta {
    pub fn to_record(&self) -> Record {
        Record {
            key: DIGEST_KEY.into(),
            open: 0,
            at: self.last_started.map_or(0, |t| t.0),
            value: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

pub fn health_record(integ: &IntegrationId, h: &Health) -> Record {
    Record {
        key: format!("{HEALTH_PREFIX}{}", integ.as_str()),
        open: 0,
        at: 0,
        value: serde_json::to_value(h).unwrap_or(serde_json::Value::Null),
    }
}
