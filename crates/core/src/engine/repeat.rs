//! Repeat callers: the contacts a number matched in an integration, kept for
//! `repeat_caller_window_mins` (default 15) after the CRM said so, so that a second call, a
//! call pop or a text from the same number in that window costs no search: the log is the
//! only request.
//!
//! Invariants:
//! - an entry answers only within the window of the search that made it; reusing it does not
//!   extend it, so a contact added to the CRM meanwhile is seen at most a window later;
//! - "no match" is never kept: a number nobody has is searched every time (a contact created
//!   after the call is what the digest exists to find), and a search that finds nobody drops
//!   the number's entry;
//! - a log the CRM refuses while its contact came from an entry (the contact was deleted or
//!   merged away meanwhile: a 404, or a 400 naming the id) drops the entry and searches again,
//!   once per slot ([`super::Slot::reused`]): the call is logged to whoever has the number now,
//!   never lost for a stale cache;
//! - entries are records of the `contacts` store (`m|<integration>|<number>`, open, written
//!   relaxed: a crash that takes one back costs one search) and are deleted on restore and at
//!   every digest run once their window has passed, so a restore reads at most an hour of them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::crm::CrmError;
use crate::model::{Contact, IntegrationId, Timestamp};
use crate::phone::E164;
use crate::store::{Record, StoreName, Write};

use super::slot::{SlotKey, SlotState, Subject, Trigger};
use super::Engine;

/// The prefix of the entries' keys in the `contacts` store.
pub const PREFIX: &str = "m|";

pub fn key(integration: &IntegrationId, number: &E164) -> String {
    format!("{PREFIX}{}|{}", integration.as_str(), number.as_str())
}

/// One number's match in one integration, and when the CRM gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentMatch {
    pub integration: IntegrationId,
    pub number: E164,
    pub contacts: Arc<[Contact]>,
    pub at: Timestamp,
}

impl RecentMatch {
    pub fn to_record(&self) -> Record {
        Record::encode(&key(&self.integration, &self.number), true, self.at.0, self)
    }

    /// Whether it may stand in for a search at `now` (a clock set back before the search does
    /// not make it fresh).
    pub fn is_fresh(&self, now: Timestamp, window_mins: u32) -> bool {
        let age = now.since(self.at);
        window_mins > 0 && (0..=i64::from(window_mins) * 60_000).contains(&age)
    }
}

impl Engine {
    /// The contacts `number` matched in `integ` within the window, if any.
    pub(super) fn recent_match(&self, integ: &IntegrationId, number: &E164) -> Option<Arc<[Contact]>> {
        let m = self.recent.get(&(integ.clone(), *number))?;
        m.is_fresh(self.now, self.settings.repeat_caller_window_mins).then(|| m.contacts.clone())
    }

    /// What a search of `number` in `integ` just found (not a reuse): kept when someone matched,
    /// dropped when nobody did.
    pub(super) fn remember_recent(&mut self, integ: &IntegrationId, number: &E164, contacts: &[Contact]) {
        if contacts.is_empty() || self.settings.repeat_caller_window_mins == 0 {
            self.forget_recent(integ, number);
            return;
        }
        let m = RecentMatch { integration: integ.clone(), number: *number, contacts: contacts.into(), at: self.now };
        self.stage(StoreName::Contacts, m.to_record(), false);
        self.recent.insert((integ.clone(), *number), m);
    }

    pub(super) fn forget_recent(&mut self, integ: &IntegrationId, number: &E164) {
        if self.recent.remove(&(integ.clone(), *number)).is_some() {
            self.writes.push(Write::Delete { store: StoreName::Contacts, key: key(integ, number) });
        }
    }

    /// Drops the entries whose window has passed, in memory and in the store.
    pub(super) fn prune_recent(&mut self) {
        let (now, window) = (self.now, self.settings.repeat_caller_window_mins);
        let stale: Vec<(IntegrationId, E164)> = self.recent.iter().filter(|(_, m)| !m.is_fresh(now, window)).map(|(k, _)| k.clone()).collect();
        for (integ, number) in stale {
            self.forget_recent(&integ, &number);
        }
    }

    /// An entry read back by a restore: kept while fresh, else deleted.
    pub(super) fn restore_recent(&mut self, r: &Record) {
        match r.decode::<RecentMatch>() {
            Some(m) if m.is_fresh(self.now, self.settings.repeat_caller_window_mins) => {
                self.recent.insert((m.integration.clone(), m.number), m);
            }
            _ => self.writes.push(Write::Delete { store: StoreName::Contacts, key: r.key.clone() }),
        }
    }

    /// The other party's number of a slot that searches (a call or a conversation).
    pub(super) fn slot_number(&self, key: &SlotKey) -> Option<E164> {
        match &self.slots.get(key)?.subject {
            Subject::Call { call } => self.calls.get(call).map(|c| c.call.their_number),
            Subject::Messages { their_number, .. } => Some(*their_number),
            Subject::Placeholder { .. } => None,
        }
    }

    /// A slot about to search: when its number matched within the window, that match is used
    /// instead (true). The slot's targets are then marked as reused.
    pub(super) fn reuse_recent(&mut self, key: &SlotKey, number: &E164) -> bool {
        let Some(integ) = self.slots.get(key).map(|s| s.integration.clone()) else { return false };
        let Some(contacts) = self.recent_match(&integ, number) else { return false };
        let (at, trigger) = (self.recent.get(&(integ.clone(), *number)).map_or(self.now, |m| m.at), self.slots.get(key).map_or(Trigger::Auto, |s| s.trigger));
        self.audit(Some(key), trigger, format!("repeat caller: the match of {at} reused (no search)"), None, None);
        self.on_search(key, contacts.to_vec());
        self.mark_reused(key);
        true
    }

    /// The targets just set on `key` came from a reused match.
    pub(super) fn mark_reused(&mut self, key: &SlotKey) {
        if let Some(s) = self.slots.get_mut(key) {
            if !s.targets.is_empty() && s.targets.iter().all(|t| t.record.is_none()) {
                s.reused = true;
                self.dirty.insert(key.clone());
            }
        }
    }

    /// A create refused for good. When its contact came from a reused match and nothing of the
    /// slot is logged yet, the match is dropped and the slot searches again (true); otherwise
    /// the refusal stands (false).
    pub(super) fn refused_with_reused_match(&mut self, key: &SlotKey, e: &CrmError) -> bool {
        let Some(s) = self.slots.get(key) else { return false };
        if !matches!(e, CrmError::Permanent { .. }) || !s.reused || s.targets.iter().any(|t| t.record.is_some()) {
            return false;
        }
        let (integ, trigger) = (s.integration.clone(), s.trigger);
        let contact = s.targets.first().map(|t| t.contact.id.clone());
        if let Some(number) = self.slot_number(key) {
            self.forget_recent(&integ, &number);
        }
        let now = self.now;
        if let Some(s) = self.slots.get_mut(key) {
            s.targets.clear();
            s.reused = false;
            s.state = SlotState::Waiting { due: Some(now) };
        }
        self.save_slot(key);
        self.audit(Some(key), trigger, format!("the CRM refused the log to a repeat caller's earlier match ({e}): deleted or merged since? searching again"), contact, None);
        self.enqueue(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RecordId, RecordType};
    use crate::phone::Country;

    #[test]
    fn an_entry_is_fresh_for_its_window_only_and_reads_back() {
        let m = RecentMatch {
            integration: IntegrationId::new("hs"),
            number: E164::parse("+12125550100", Country::US).unwrap(),
            contacts: vec![Contact {
                id: RecordId::new("7"),
                name: "Ann".into(),
                record_type: RecordType::new("Contact"),
                phones: vec!["(212) 555-0100".into()].into(),
                created_at: None,
                modified_at: None,
                url: None,
            }]
            .into(),
            at: Timestamp(1_000_000),
        };
        assert!(m.is_fresh(Timestamp(1_000_000), 15));
        assert!(m.is_fresh(Timestamp(1_000_000 + 15 * 60_000), 15));
        assert!(!m.is_fresh(Timestamp(1_000_001 + 15 * 60_000), 15));
        assert!(!m.is_fresh(Timestamp(999_999), 15), "a clock set back");
        assert!(!m.is_fresh(Timestamp(1_000_000), 0), "window 0: never");
        let r = m.to_record();
        assert_eq!((r.key.as_str(), r.open, r.at), ("m|hs|+12125550100", 1, 1_000_000));
        assert_eq!(r.decode::<RecentMatch>(), Some(m));
    }
}
