//! An in-memory store with the same contract as IndexedDB, for native tests and the simulator.

use std::collections::BTreeMap;

use super::{Batch, Record, RestoreQuery, Snapshot, StoreName, Write};

/// Object stores as ordered maps; `apply` is atomic because it cannot fail half-way.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    stores: BTreeMap<StoreName, BTreeMap<String, Record>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, batch: &Batch) {
        for w in &batch.writes {
            match w {
                Write::Put { store, record } => {
                    self.stores.entry(*store).or_default().insert(record.key.clone(), record.clone());
                }
                Write::Delete { store, key } => {
                    if let Some(s) = self.stores.get_mut(store) {
                        s.remove(key);
                    }
                }
                Write::Prune { store, before, limit } => {
                    let Some(s) = self.stores.get_mut(store) else { continue };
                    let mut old: Vec<(i64, String)> = s.values().filter(|r| r.open == 0 && r.at < *before).map(|r| (r.at, r.key.clone())).collect();
                    old.sort();
                    old.truncate(*limit as usize);
                    for (_, key) in &old {
                        s.remove(key);
                    }
                    if *store == StoreName::Calls {
                        if let Some(slots) = self.stores.get_mut(&StoreName::Slots) {
                            for (_, call) in old {
                                let prefix = format!("call|{call}|");
                                slots.retain(|k, _| !k.starts_with(&prefix));
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn get(&self, store: StoreName, key: &str) -> Option<&Record> {
        self.stores.get(&store)?.get(key)
    }

    /// Every record of `store` whose key starts with `prefix`, in key order (as IndexedDB's
    /// key range from `prefix` to `prefix + '\u{ffff}'` gives them).
    pub fn prefix(&self, store: StoreName, prefix: &str) -> Vec<Record> {
        self.stores.get(&store).map_or_else(Vec::new, |s| {
            s.range(prefix.to_owned()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, r)| r.clone()).collect()
        })
    }

    pub fn all(&self, store: StoreName) -> impl Iterator<Item = &Record> {
        self.stores.get(&store).into_iter().flat_map(|s| s.values())
    }

    pub fn len(&self, store: StoreName) -> usize {
        self.stores.get(&store).map_or(0, BTreeMap::len)
    }

    /// Reads what a restore needs. Like the IndexedDB version it scans only the `open` and `at`
    /// ranges in spirit; here a linear filter is fine because tests keep stores small, and the
    /// restore benchmark measures the engine's side, not this.
    pub fn restore(&self, q: &RestoreQuery) -> Snapshot {
        let mut out = Snapshot::default();
        for name in StoreName::ALL {
            if name == StoreName::Secrets {
                continue;
            }
            let Some(s) = self.stores.get(&name) else { continue };
            let whole = matches!(name, StoreName::Meta | StoreName::Settings);
            let recent = q.recent_stores.contains(&name);
            let recs: Vec<Record> = s
                .values()
                .filter(|r| whole || r.open == 1 || (recent && r.at >= q.since))
                .cloned()
                .collect();
            if !recs.is_empty() {
                out.stores.push((name, recs));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

    fn rec(key: &str, open: u8, at: i64) -> Record {
        Record::encode(key, open == 1, at, &serde_json::json!({ "k": key }))
    }

    #[test]
    fn restore_reads_open_and_recent_only() {
        let mut m = MemStore::new();
        m.apply(&Batch {
            writes: vec![
                Write::Put { store: StoreName::Slots, record: rec("old-done", 0, 10) },
                Write::Put { store: StoreName::Slots, record: rec("old-open", 1, 10) },
                Write::Put { store: StoreName::Calls, record: rec("old-call", 0, 10) },
                Write::Put { store: StoreName::Calls, record: rec("new-call", 0, 500) },
                Write::Put { store: StoreName::Meta, record: rec("digest", 0, 0) },
            ],
            durability: Durability::Strict,
        });
        let snap = m.restore(&RestoreQuery { since: 100, recent_stores: vec![StoreName::Calls] });
        let keys = |s| snap.records(s).iter().map(|r| r.key.as_str()).collect::<Vec<_>>();
        assert_eq!(keys(StoreName::Slots), ["old-open"]);
        assert_eq!(keys(StoreName::Calls), ["new-call"]);
        assert_eq!(keys(StoreName::Meta), ["digest"]);
    }
}
