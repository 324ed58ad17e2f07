//! The engine's slots in memory: looked up by key in a hash map, walked in key order.
//!
//! Why not a `BTreeMap<SlotKey, Slot>`: handling one input looks a slot up a dozen times (save,
//! enqueue, audit, send, stage...), and each B-tree look-up compares the key with eight or more
//! others whose long common prefix (`call|<call id>|`) makes every comparison a `memcmp`: about
//! 2,000 of them per call in the hang-up benchmark, a sixth of its time. A hash look-up hashes the
//! key once (FxHash, word at a time) and compares it once.
//!
//! Why the key order is kept lazily: a `BTreeSet` of the keys beside the map cost a B-tree insert
//! (a dozen `memcmp`s and a node write) for every new slot, 4% of a hang-up, to serve walks that
//! a hang-up never makes. Now a new key is appended to a list, which is sorted by the next walk
//! (the keys appended since are sorted and merged into the sorted run in one pass),
//! and a call's own slots, which every save of a call record looks at, are found through a small
//! index by call instead of a walk.
//!
//! Invariant: everything that walks the slots (the digest's enrolment, a call's slots, the pages)
//! still sees them in key order, so the engine's effects come out in the same order as before and
//! the same inputs give the same trace.

use std::borrow::Borrow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use rustc_hash::FxBuildHasher;

use crate::model::CallId;

use super::slot::{Slot, SlotKey};

/// A slot key as the map holds it: equal by address first, then by text.
///
/// `Rc<str>`'s own equality compares the text every time (std compares addresses first only
/// for sized contents), so every hit of a look-up was a call to `memcmp`, although the key a
/// look-up holds is nearly always the very key the table holds. Hashed as the text, like the
/// key itself.
#[derive(Clone, Debug)]
struct Key(SlotKey);

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Key {}

impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        (*self.0).hash(h);
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Default)]
pub struct Slots {
    map: HashMap<Key, Slot, FxBuildHasher>,
    /// Every key, in key order while `sorted` is set. An insert appends its key (and clears
    /// `sorted` unless the key sorts last); a removal leaves its key behind and clears `sorted`.
    /// The next walk sorts the list, dropping repeats and keys no longer in the map. In a cell
    /// because walks borrow the table shared; only a walk that finds `sorted` clear writes it,
    /// and it cannot be cleared while a walk is under way (that takes `&mut self`).
    order: RefCell<Vec<SlotKey>>,
    sorted: Cell<bool>,
    /// The keys `call|<call>|<integration>` (exactly two `|`s) by `<call>`, in the order they
    /// came: what [`Slots::any_of_call`] reads instead of walking the keys in order.
    by_call: HashMap<CallId, Vec<SlotKey>, FxBuildHasher>,
    /// Keys `call|...` with more than two `|`s (a call or integration id holding a `|`): which
    /// call's prefix they fall under is ambiguous, so while there are any, a call's slots are
    /// found by the ordered walk, as before.
    tangled: usize,
}

/// Ids that are shared text (`Rc<str>` inside): [`IdMap`]'s keys.
pub trait SharedText: Clone + Eq + Hash {
    fn text(&self) -> &str;
}

impl SharedText for CallId {
    fn text(&self) -> &str {
        self.as_str()
    }
}

impl SharedText for crate::model::IntegrationId {
    fn text(&self) -> &str {
        self.as_str()
    }
}

/// An id as a map key: equal by address first, then by text, for the reason [`Key`] is;
/// hashed exactly as the id is.
#[derive(Clone, Debug)]
pub struct ByAddr<K>(K);

impl<K: SharedText> PartialEq for ByAddr<K> {
    #[inline]
    fn eq(&self, other: &ByAddr<K>) -> bool {
        let (a, b) = (self.0.text(), other.0.text());
        std::ptr::eq(a, b) || a == b
    }
}

impl<K: SharedText> Eq for ByAddr<K> {}

impl<K: SharedText> Hash for ByAddr<K> {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

/// A hash map keyed by a shared-text id (the engine's calls and integration health), whose
/// look-ups compare keys by address first: the id a look-up holds is nearly always a copy of
/// the one the map holds. The methods are the `HashMap` ones the engine uses.
#[derive(Debug)]
pub struct IdMap<K, V>(HashMap<ByAddr<K>, V, FxBuildHasher>);

impl<K, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap(HashMap::default())
    }
}

impl<K: SharedText, V> IdMap<K, V> {
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        self.0.get(&ByAddr(k.clone()))
    }

    #[inline]
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.0.get_mut(&ByAddr(k.clone()))
    }

    #[inline]
    pub fn contains_key(&self, k: &K) -> bool {
        self.0.contains_key(&ByAddr(k.clone()))
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.0.insert(ByAddr(k), v)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.0.remove(&ByAddr(k.clone()))
    }

    pub fn reserve(&mut self, n: usize) {
        self.0.reserve(n);
    }

    pub fn entry(&mut self, k: K) -> std::collections::hash_map::Entry<'_, ByAddr<K>, V> {
        self.0.entry(ByAddr(k))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (&k.0, v))
    }

    /// (The restore tests list the calls in memory.)
    #[cfg(test)]
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.keys().map(|k| &k.0)
    }
}

/// Where a key falls in the index by call.
enum CallPart<'a> {
    /// `call|<call>|<integration>`, neither holding a `|`.
    Call(&'a str),
    Tangled,
    /// Not a call slot's key, or not one any call's prefix can match.
    None,
}

fn call_part(key: &str) -> CallPart<'_> {
    let Some(rest) = key.strip_prefix("call|") else { return CallPart::None };
    // Bytes, not `split_once('|')`: for ids this short the byte loop beats the searcher.
    let Some(bar) = rest.bytes().position(|b| b == b'|') else { return CallPart::None };
    match (rest.get(..bar), rest.bytes().skip(bar + 1).any(|b| b == b'|')) {
        (Some(call), false) => CallPart::Call(call),
        _ => CallPart::Tangled,
    }
}

// Look-ups take the shared key (`&SlotKey`), not `&str`: compared through [`Key`], addresses
// first, and the key a look-up holds is nearly always the very key the table holds, so the
// comparison is one pointer test instead of a byte loop (which `memcmp` is in wasm). The copy
// of the key a look-up makes is a reference count, up and down.
impl Slots {
    #[inline]
    pub fn get(&self, key: &SlotKey) -> Option<&Slot> {
        self.map.get(&Key(key.clone()))
    }

    /// A look-up by text, for callers outside the engine (the pages name slots by key).
    pub fn get_str(&self, key: &str) -> Option<&Slot> {
        self.map.get(key)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &SlotKey) -> Option<&mut Slot> {
        self.map.get_mut(&Key(key.clone()))
    }

    #[inline]
    pub fn contains_key(&self, key: &SlotKey) -> bool {
        self.map.contains_key(&Key(key.clone()))
    }

    pub fn insert(&mut self, key: SlotKey, slot: Slot) -> Option<Slot> {
        let subject_call = slot.call_id().cloned();
        let old = self.map.insert(Key(key.clone()), slot);
        if old.is_none() {
            let order = self.order.get_mut();
            if self.sorted.get() && order.last().is_some_and(|last| *last >= key) {
                self.sorted.set(false);
            }
            order.push(key.clone());
            match call_part(&key) {
                CallPart::Call(call) => match self.by_call.get_mut(call) {
                    Some(keys) => keys.push(key),
                    None => {
                        // The slot's own call id when the key names it (always, for keys the
                        // engine makes): shared, not copied.
                        let id = subject_call.filter(|c| c.as_str() == call).unwrap_or_else(|| CallId::new(call));
                        // Room for a call's slots in a few integrations without growing.
                        let mut keys = Vec::with_capacity(8);
                        keys.push(key);
                        self.by_call.insert(id, keys);
                    }
                },
                CallPart::Tangled => self.tangled += 1,
                CallPart::None => {}
            }
        }
        old
    }

    pub fn remove(&mut self, key: &SlotKey) -> Option<Slot> {
        let old = self.map.remove(&Key(key.clone()));
        if old.is_some() {
            self.sorted.set(false);
            match call_part(key) {
                CallPart::Call(call) => {
                    if let Some(keys) = self.by_call.get_mut(call) {
                        keys.retain(|k| k != key);
                        if keys.is_empty() {
                            self.by_call.remove(call);
                        }
                    }
                }
                CallPart::Tangled => self.tangled = self.tangled.saturating_sub(1),
                CallPart::None => {}
            }
            // Keys left behind are dropped by the next walk; a long run of removals without
            // one (evictions) must not let them pile up.
            if self.order.get_mut().len() > 2 * self.map.len() + 64 {
                self.sort();
            }
        }
        old
    }

    /// Puts `order` in key order, without repeats or keys no longer in the map.
    fn sort(&self) {
        if self.sorted.get() {
            return;
        }
        // A walk holds the list only after `sorted` was set, and nothing clears it while the
        // walk lasts, so the list is never borrowed here; if it were, the walk would see it
        // unsorted rather than the engine stop.
        let Ok(mut order) = self.order.try_borrow_mut() else { return };
        // The usual list is a sorted run with a few keys appended: sort the few and merge the
        // two runs in one pass, rather than sort the whole list again. (The standard stable
        // sort would merge too, but its code, instantiated for the keys, cost 1 KB gzipped in
        // the module; `sort_unstable` on keys is instantiated anyway.)
        let run = order.windows(2).position(|w| w[0] > w[1]).map_or(order.len(), |i| i + 1);
        if run < order.len() {
            let mut tail = order.split_off(run);
            tail.sort_unstable();
            let head = std::mem::take(&mut *order);
            *order = merge(head, tail);
        }
        order.dedup();
        order.retain(|k| self.map.contains_key(&Key(k.clone())));
        self.sorted.set(true);
    }

    /// Every slot, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&SlotKey, &Slot)> {
        self.walk_from(|_| false)
    }

    /// Every slot, in key order.
    pub fn values(&self) -> impl Iterator<Item = &Slot> {
        self.iter().map(|(_, s)| s)
    }

    /// The slots whose key starts with `prefix`, in key order (a call's slots).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a SlotKey, &'a Slot)> + 'a {
        self.walk_from(move |k| **k < *prefix).take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// The slots from the first key for which `before` is false, in key order.
    fn walk_from<'a>(&'a self, before: impl FnMut(&SlotKey) -> bool) -> impl Iterator<Item = (&'a SlotKey, &'a Slot)> + 'a {
        self.sort();
        let order = self.order.borrow();
        let start = order.partition_point(before);
        let map = &self.map;
        (start..).map_while(move |i| order.get(i).map(|k| map.get_key_value(&Key(k.clone())).map(|(k, s)| (&k.0, s)))).flatten()
    }

    /// Whether `f` holds for any slot of `call` (key `call|<call>|...`), taken in key order.
    pub fn any_of_call(&self, call: &CallId, mut f: impl FnMut(&Slot) -> bool) -> bool {
        if self.tangled > 0 {
            let prefix = super::slot::call_slot_prefix(call);
            return self.with_prefix(&prefix).any(|(_, s)| f(s));
        }
        let Some(keys) = self.by_call.get(call.as_str()) else { return false };
        keys.iter().filter_map(|k| self.get(k)).any(f)
    }

    /// The keys of `call`'s slots (`call|<call>|...`), in key order.
    pub fn keys_of_call(&self, call: &CallId) -> Vec<SlotKey> {
        if self.tangled > 0 {
            let prefix = super::slot::call_slot_prefix(call);
            return self.with_prefix(&prefix).map(|(k, _)| k.clone()).collect();
        }
        let mut keys = self.by_call.get(call.as_str()).cloned().unwrap_or_default();
        keys.sort_unstable();
        keys
    }
}

/// Two sorted lists of keys as one sorted list.
fn merge(a: Vec<SlotKey>, b: Vec<SlotKey>) -> Vec<SlotKey> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let next = if x <= y { a.next() } else { b.next() };
        out.extend(next);
    }
    out.extend(a);
    out.extend(b);
    out
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

    /// Inserts, removals and walks in a scrambled order: every walk sees exactly the keys in
    /// the map, in key order (the lazy sort's run-and-merge against a B-tree's order).
    #[test]
    fn walks_stay_in_key_order_whatever_the_insert_order() {
        let mut t = Slots::default();
        let mut want = std::collections::BTreeSet::new();
        let mut x: u32 = 7;
        for step in 0..2_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let k = format!("call|c{}|hs", (x >> 8) % 300);
            if (x >> 4) % 4 == 0 {
                t.remove(&SlotKey::from(k.as_str()));
                want.remove(&k);
            } else {
                t.insert(k.as_str().into(), slot_for_test(&k));
                want.insert(k);
            }
            if step % 37 == 0 {
                let walked: Vec<&str> = t.iter().map(|(k, _)| &**k).collect();
                let expected: Vec<&str> = want.iter().map(String::as_str).collect();
                assert_eq!(walked, expected, "step {step}");
            }
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
        assert_eq!((t.map.len(), t.values().count(), t.order.borrow().len()), (4, 4, 4), "the walk dropped the removed key");
        // A key built afresh (another allocation) finds the slot by its text.
        assert!(t.get(&key("call|a|hs")).is_some() && t.contains_key(&key("call|b|hs")) && !t.contains_key(&key("call|a|pd")));
        assert!(t.get_str("call|a|hs").is_some() && t.get_str("call|a|pd").is_none());
    }

    /// A call's slots found through the index are the ones the ordered walk finds, also when
    /// an id holds a `|` (then the walk is used), and after removals and re-inserts.
    #[test]
    fn a_calls_slots_are_the_keys_under_its_prefix() {
        use crate::engine::slot::call_slot_prefix;
        let mut t = Slots::default();
        let check = |t: &Slots| {
            for call in ["a", "ab", "a|b", "b", "zz"] {
                let id = CallId::new(call);
                let prefix = call_slot_prefix(&id);
                let walked: Vec<SlotKey> = t.with_prefix(&prefix).map(|(k, _)| k.clone()).collect();
                assert_eq!(t.keys_of_call(&id).len(), walked.len(), "{call}");
                let mut indexed = t.keys_of_call(&id);
                indexed.sort();
                assert_eq!(indexed, walked, "{call}");
                assert_eq!(t.any_of_call(&id, |_| true), !walked.is_empty(), "{call}");
            }
        };
        for k in ["call|b|hs", "call|a|pd", "call|ab|hs", "call|a|hs", "msg|hs|x|2026-06-10", "ph|hs|+1"] {
            t.insert(k.into(), slot_for_test(k));
        }
        check(&t);
        t.insert("call|a|b|hs".into(), slot_for_test("call|a|b|hs"));
        assert_eq!(t.tangled, 1);
        check(&t);
        assert!(t.remove(&"call|a|b|hs".into()).is_some());
        assert!(t.remove(&"call|a|pd".into()).is_some());
        assert_eq!(t.tangled, 0);
        check(&t);
        t.insert("call|a|pd".into(), slot_for_test("call|a|pd"));
        check(&t);
        let keys: Vec<&str> = t.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["call|ab|hs", "call|a|hs", "call|a|pd", "call|b|hs", "msg|hs|x|2026-06-10", "ph|hs|+1"]);
    }
}
