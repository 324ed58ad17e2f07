//! Persisted record shapes other than slots: calls, digest watermarks, integration health.
//!
//! Invariant: everything a restart needs is in an open record or a recent one, so a restore
//! reads a bounded amount whatever the length of the history.

use crate::vecmap::VecMap;
use std::sync::Arc;

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
    pub picks: VecMap<IntegrationId, Vec<Contact>>,
    pub log_now: bool,
    /// The latest search result per integration for the other party's number: the call pop's
    /// (searched while the call rings) or the hang-up search's. The panel shows them; active-call
    /// picks must come from them; automatic logging at hang-up reuses them while fresh
    /// ([`CallMatches::is_fresh`]).
    #[serde(default)]
    pub matches: VecMap<IntegrationId, CallMatches>,
    /// Call pops already asked for (memory only: at most one per call and integration per boot).
    #[serde(skip)]
    pub popped: crate::vecmap::VecSet<IntegrationId>,
    #[serde(skip)]
    pub persisted_open: bool,
}

/// Contacts matching a call's other party in one integration, and when the CRM said so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallMatches {
    pub at: Timestamp,
    /// Shared with the [`super::Notice::CallMatches`] that tells the panel.
    pub contacts: Arc<[Contact]>,
    /// They are a repeat caller's earlier match, not this call's search ([`super::repeat`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

/// How long a call pop's answer stands in for the hang-up search, counted from the answer to
/// the hang-up. A match stays good for an hour (a contact is rarely deleted or merged during a
/// call); "no match" only for five minutes, because the rep may add the caller during the call
/// (and a slot left with no match is searched again by every digest run in its window anyway;
/// when none came, the first run past the window searches it once: `Engine::answered_before_end`).
pub const POP_FRESH_MATCHED_MINS: i64 = 60;
pub const POP_FRESH_EMPTY_MINS: i64 = 5;

impl CallMatches {
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        let limit = if self.contacts.is_empty() { POP_FRESH_EMPTY_MINS } else { POP_FRESH_MATCHED_MINS };
        // A clock set back since the answer does not make it fresh: its age is then unknown
        // (an answer of hours ago, before the rep added the caller, once stood in here).
        (0..=limit * 60_000).contains(&now.since(self.at))
    }
}

impl CallEntry {
    pub fn new(call: Call) -> CallEntry {
        CallEntry {
            call,
            ended: false,
            notes_opened: false,
            picks: VecMap::new(),
            log_now: false,
            matches: VecMap::new(),
            popped: Default::default(),
            persisted_open: false,
        }
    }

    pub fn at(&self) -> Timestamp {
        self.call.ended_at.unwrap_or(self.call.started_at)
    }

    pub fn to_record(&self, open: bool) -> Record {
        Record::encode(self.call.id.as_str(), open, self.at().0, self)
    }

    pub fn from_record(r: &Record) -> Option<CallEntry> {
        let mut c: CallEntry = r.decode()?;
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
            value: serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned()),
        }
    }

    pub fn from_record(r: &Record) -> Option<DigestMeta> {
        r.decode()
    }
}

pub fn health_record(integ: &IntegrationId, h: &Health) -> Record {
    Record {
        key: format!("{HEALTH_PREFIX}{}", integ.as_str()),
        open: 0,
        at: 0,
        value: serde_json::to_string(h).unwrap_or_else(|_| "null".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, CallResult, Direction, RecordId, RecordType};
    use crate::phone::{Country, E164};

    fn contact(id: &str) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: format!("N\u{e9}e \"{id}\"").into(),
            record_type: RecordType::new("Lead"),
            phones: vec!["+1 212 555 0100".into(), "x".into()].into(),
            created_at: None,
            modified_at: Some(Timestamp(3)),
            url: None,
        }
    }

    #[test]
    fn call_records_read_back() {
        let their = E164::parse("+12125550100", Country::US).unwrap();
        let directions = [Direction::Inbound, Direction::Outbound];
        let results = [CallResult::Answered, CallResult::Missed, CallResult::Voicemail, CallResult::Busy, CallResult::Rejected, CallResult::Failed, CallResult::Unknown];
        for (i, result) in results.into_iter().enumerate() {
            let call = Call {
                answered_at: (i % 3 == 0).then_some(Timestamp(1_781_107_201_000)),
                ended_at: (i % 2 == 1).then_some(Timestamp(1_781_107_260_000)),
                result: result,
                recording_url: (i % 2 == 0).then(|| "https://rec.example/1?a=\"b\"".to_owned()),
                notes: if i % 2 == 0 { String::new() } else { "line 1\nline \"2\"\t".into() },
                ..Call::new(CallId::new(format!("c\\{i}")), directions[i % 2], their, (i % 2 == 0).then_some(their), Timestamp(1_781_107_200_000))
            };
            let mut e = CallEntry::new(call);
            e.ended = i % 2 == 0;
            e.notes_opened = i % 3 == 0;
            e.log_now = i % 4 == 0;
            if i >= 2 {
                e.picks.insert(IntegrationId::new("hs"), vec![contact("a"), contact("b")]);
                e.picks.insert(IntegrationId::new("p\"d"), Vec::new());
                e.matches.insert(IntegrationId::new("hs"), CallMatches { at: Timestamp(9), contacts: vec![contact("a")].into(), reused: true });
                e.matches.insert(IntegrationId::new("zo"), CallMatches { at: Timestamp(10), contacts: Vec::new().into(), reused: false });
            }
            let r = e.to_record(i % 2 == 0);
            assert_eq!((r.key.as_str(), r.at), (e.call.id.as_str(), e.at().0));
            let back = CallEntry::from_record(&r).unwrap();
            assert_eq!(back, CallEntry { persisted_open: i % 2 == 0, ..e });
        }
        // Records written before `matches` existed still read; fields of a later version are
        // ignored; a number that is not E.164 is refused.
        let old = r#"{"call":{"id":"c","direction":"inbound","our_number":null,"their_number":"+12125550100","started_at":1,"answered_at":null,"ended_at":2,"result":"missed","recording_url":null,"notes":""},"ended":true,"notes_opened":false,"picks":{},"log_now":false}"#;
        let read = |text: &str| CallEntry::from_record(&Record { key: "c".into(), open: 0, at: 2, value: text.into() });
        assert!(read(old).is_some());
        assert!(read(&old.replace("\"log_now\":false", "\"log_now\":false,\"x\":[1,{\"y\":null}]")).is_some());
        assert!(read(&old.replace("+12125550100", "+1212")).is_none());
    }

    #[test]
    fn meta_and_placeholder_records_read_back() {
        use super::super::placeholder::CachedPlaceholder;
        for m in [DigestMeta::default(), DigestMeta { last_started: Some(Timestamp(5)), last_completed: None }] {
            assert_eq!(DigestMeta::from_record(&m.to_record()), Some(m));
        }
        for h in [Health::default(), Health { parked: true, no_access: true, blocked_until: Some(Timestamp(9)), retry_after_until: Some(Timestamp(8)), failures: 3, inflight: 0 }] {
            assert_eq!(health_record(&IntegrationId::new("hs"), &h).decode::<Health>(), Some(h));
        }
        let p = CachedPlaceholder { integration: IntegrationId::new("hs"), number: E164::parse("+12125550100", Country::US).unwrap(), contact: contact("a") };
        assert_eq!(p.to_record(0).decode::<CachedPlaceholder>(), Some(p));
    }
}
