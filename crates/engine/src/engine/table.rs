//! The engine's slots in memory: looked up by key in a hash map, walked in key order.
//!
//! Why not a `BTreeMap<SlotKey, Slot>`: handling one input looks a slot up a dozen times (save,
//! enqueue, audit, send, stage...), and each B-tree look-up compares the key with eight or more
//! others whose long common prefix (`call|<call id>|`) makes every comparison a `memcmp`: about
//! 2,000 of them per call in the hang-up benchmark, a sixth of its time. A hash look-up hashes the
//! key once (FxHash, word at a time) and compares it once.
//!
//! Invariant: everything that walks the slots (the digest's enrolment, a call's slots, the pages)
//! still sees them in key order, through `order`, so the engine's effects come out in the same
//! order as before and the same inputs give the same trace.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use rustc_hash::FxBuildHasher;

use super::slot::{Slot, SlotKey};

#[derive(Debug, Default)]
pub struct Slots {
    map: HashMap<SlotKey, Slot, FxBuildHasher>,
    order: BTreeSet<SlotKey>,
}

// Look-ups take the shared key (`&SlotKey`), not `&str`: `Rc`'s equality compares pointers
// before bytes, and the key a look-up holds is nearly always the very key the table holds, so
// the comparison is one pointer test instead of a byte loop (which `memcmp` is in wasm).
impl Slots {
    #[inline]
    pub fn get(&self, key: &SlotKey) -> Option<&Slot> {
        self.map.get(key)
    }

    /// A look-up by text, for callers outside the engine (the pages name slots by key).
    pub fn get_str(&self, key: &str) -> Option<&Slot> {
        self.map.get(key)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &SlotKey) -> Option<&mut Slot> {
        self.map.get_mut(key)
    }

    #[inline]
    pub fn contains_key(&self, key: &SlotKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn insert(&mut self, key: SlotKey, slot: Slot) -> Option<Slot> {
        let old = self.map.insert(key.clone(), slot);
        if old.is_none() {
            self.order.insert(key);
        }
        old
    }

    pub fn remove(&mut self, key: &SlotKey) -> Option<Slot> {
        let old = self.map.remove(key);
        if old.is_some() {
            self.order.remove(key);
        }
        old
    }

    /// Every slot, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&SlotKey, &Slot)> {
        self.order.iter().filter_map(|k| self.map.get_key_value(k))
    }

    /// Every slot, in key order.
    pub fn values(&self) -> impl Iterator<Item = &Slot> {
        self.iter().map(|(_, s)| s)
    }

    /// The slots whose key starts with `prefix`, in key order (a call's slots).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a SlotKey, &'a Slot)> + 'a {
        self.order
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |k| k.starts_with(prefix))
            .filter_map(|k| self.map.get_key_value(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::slot::{Mode, SlotState, Subject, Trigger};
    use crate::model::{CallId, IntegrationId, Timestamp};

    fn slot_for_test(key: &str) -> Slot {
        Slot {
            key: key.into(),
            subject: Subject::Call { call: CallId::new("c") },
            integration: IntegrationId::new("hs"),
            mode: Mode::Auto,
            trigger: Trigger::Auto,
            state: SlotState::Waiting { due: None },
            targets: Vec::new(),
            attempts: 0,
            last_error: None,
            at: Timestamp(0),
            messages: 0,
            update_due: None,
            busy: false,
        }
    }

    #[test]
    fn walks_in_key_order_and_keeps_the_order_in_step_with_the_map() {
        let mut t = Slots::default();
        for k in ["call|b|hs", "call|a|pd", "msg|hs|x|2026-06-10", "call|a|hs", "call|ab|hs"] {
            assert!(t.insert(k.into(), slot_for_test(k)).is_none());
        }
        assert!(t.insert("call|a|hs".into(), slot_for_test("call|a|hs")).is_some(), "a second insert replaces");
        let keys: Vec<&str> = t.iter().map(|(k, _)| &**k).collect();
        // "|" sorts after letters: "call|ab|" comes first, and is not one of call "a"'s slots.
        assert_eq!(keys, ["call|ab|hs", "call|a|hs", "call|a|pd", "call|b|hs", "msg|hs|x|2026-06-10"]);
        let of_a: Vec<&str> = t.with_prefix("call|a|").map(|(k, _)| &**k).collect();
        assert_eq!(of_a, ["call|a|hs", "call|a|pd"]);
        let key = |k: &str| -> SlotKey { k.into() };
        assert!(t.remove(&key("call|a|pd")).is_some());
        assert!(t.remove(&key("call|a|pd")).is_none());
        assert_eq!((t.map.len(), t.order.len(), t.values().count()), (4, 4, 4));
        // A key built afresh (another allocation) finds the slot by its text.
        assert!(t.get(&key("call|a|hs")).is_some() && t.contains_key(&key("call|b|hs")) && !t.contains_key(&key("call|a|pd")));
        assert!(t.get_str("call|a|hs").is_some() && t.get_str("call|a|pd").is_none());
    }
}
