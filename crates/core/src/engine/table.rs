//! The engine's slots in memory, in key order.
//!
//! Invariant: everything that walks the slots (the digest's enrolment, a call's slots, the
//! pages) sees them in key order, so the same inputs always give the same effects in the same
//! order.

use std::collections::BTreeMap;

use crate::model::CallId;

use super::slot::{call_slot_prefix, Slot, SlotKey};

#[derive(Debug, Default)]
pub struct Slots(BTreeMap<SlotKey, Slot>);

impl Slots {
    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.0.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        self.0.get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn insert(&mut self, key: SlotKey, slot: Slot) -> Option<Slot> {
        self.0.insert(key, slot)
    }

    pub fn remove(&mut self, key: &str) -> Option<Slot> {
        self.0.remove(key)
    }

    /// Every slot, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&SlotKey, &Slot)> {
        self.0.iter()
    }

    /// Every slot, in key order.
    pub fn values(&self) -> impl Iterator<Item = &Slot> {
        self.0.values()
    }

    /// The slots of `call`, in key order. A call id may itself hold a `|`, so the key prefix
    /// `call|<call>|` alone could also take in another call's slots: each slot's own call is
    /// checked too.
    pub fn of_call<'a>(&'a self, call: &'a CallId) -> impl Iterator<Item = (&'a SlotKey, &'a Slot)> + 'a {
        let prefix = call_slot_prefix(call);
        let start: SlotKey = prefix.as_str().into();
        self.0
            .range(start..)
            .take_while(move |(k, _)| k.starts_with(prefix.as_str()))
            .filter(move |(_, s)| s.call_id() == Some(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IntegrationId, Timestamp};
    use crate::engine::slot::{call_slot_key, Mode, SlotState, Subject, Trigger};

    fn slot(call: &str, integ: &str) -> Slot {
        let call = CallId::new(call);
        let key = call_slot_key(&call, &IntegrationId::new(integ));
        Slot {
            key,
            subject: Subject::Call { call },
            integration: IntegrationId::new(integ),
            mode: Mode::Auto,
            trigger: Trigger::Auto,
            state: SlotState::Waiting { due: None },
            targets: Vec::new(),
            attempts: 0,
            last_error: None,
            at: Timestamp(0),
            messages: 0,
            update_due: None,
            reused: false,
            busy: false,
        }
    }

    #[test]
    fn a_calls_slots_are_its_own_even_when_ids_hold_the_separator() {
        let mut t = Slots::default();
        for (c, i) in [("a", "pd"), ("a|b", "hs"), ("a", "hs"), ("ab", "hs"), ("b", "hs")] {
            let s = slot(c, i);
            t.insert(s.key.clone(), s);
        }
        let keys = |c: &str| t.of_call(&CallId::new(c)).map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        assert_eq!(keys("a"), ["call|a|hs", "call|a|pd"]);
        assert_eq!(keys("a|b"), ["call|a|b|hs"]);
        assert!(keys("c").is_empty());
        let all: Vec<_> = t.iter().map(|(k, _)| k.to_string()).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
    }
}
