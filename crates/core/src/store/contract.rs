//! The store contract as data: cases every implementation of the persistence contract must
//! pass ([`MemStore`](super::MemStore) here, PostgreSQL in the server's tests, IndexedDB in the
//! browser tests), so the stores are held to one text rather than to three copies of it.
//!
//! A [`Case`] is a list of [`Step`]s: batches to apply and what reads must then answer (a
//! record by key, keys under a prefix, a restore's keys per store). [`run`] applies the
//! batches through an [`AsyncStore`] and compares each read with [`expect_keys`] /
//! [`expect_restore`]; [`run_sync`] is the same runner for a [`SyncStore`], whose answers are
//! ready at once. IndexedDB (`tests/browser`) is run through [`run`].

use std::future::Future;

use super::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};

/// One step of a case.
#[derive(Clone, Debug)]
pub enum Step {
    Apply(Batch),
    /// `get(store, key)` answers this record (or nothing).
    Get { store: StoreName, key: &'static str, want: Option<Record> },
    /// `prefix(store, prefix)` answers these keys, in this order.
    Prefix { store: StoreName, prefix: &'static str, want: Vec<&'static str> },
    /// `restore(query)` answers these keys per store (stores not named answer nothing).
    Restore { query: RestoreQuery, want: Vec<(StoreName, Vec<&'static str>)> },
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    pub steps: Vec<Step>,
}

/// A record for the cases: `value` is `{"v": <tag>}`.
pub fn rec(key: &str, open: bool, at: i64, tag: &str) -> Record {
    Record::encode(key, open, at, &serde_json::json!({ "v": tag }))
}

fn put(store: StoreName, r: Record) -> Write {
    Write::Put { store, record: r }
}

fn del(store: StoreName, key: &str) -> Write {
    Write::Delete { store, key: key.to_owned() }
}

fn batch(writes: Vec<Write>, durability: Durability) -> Step {
    Step::Apply(Batch { writes, durability })
}

/// Every case.
pub fn cases() -> Vec<Case> {
    use StoreName::*;
    let q = |since: i64| RestoreQuery { since, recent_stores: vec![Calls, Slots, Messages] };
    vec![
        Case {
            name: "prune deletes closed old records, oldest first, and a call's slots with it",
            steps: vec![
                batch(
                    vec![
                        put(Calls, rec("old1", false, 10, "a")),
                        put(Calls, rec("old2", false, 20, "a")),
                        put(Calls, rec("open", true, 5, "a")),
                        put(Calls, rec("new", false, 500, "a")),
                        put(Slots, rec("call|old1|hs", false, 10, "s")),
                        put(Slots, rec("call|old1|pd", false, 10, "s")),
                        put(Slots, rec("call|old2|hs", false, 20, "s")),
                        put(Slots, rec("call|open|hs", false, 5, "s")),
                        put(Slots, rec("call|open|pd", true, 5, "s")),
                        put(Slots, rec("call|old10|hs", false, 10, "s")),
                        put(Audit, rec("0000000000001|a", false, 1, "e")),
                        put(Audit, rec("0000000000002|a", false, 2, "e")),
                        put(Audit, rec("0000000000900|a", false, 900, "e")),
                    ],
                    Durability::Strict,
                ),
                batch(vec![Write::Prune { store: Calls, before: 100, limit: 1 }, Write::Prune { store: Audit, before: 100, limit: 5 }], Durability::Relaxed),
                Step::Prefix { store: Calls, prefix: "", want: vec!["new", "old2", "open"] },
                Step::Prefix { store: Slots, prefix: "", want: vec!["call|old10|hs", "call|old2|hs", "call|open|hs", "call|open|pd"] },
                Step::Prefix { store: Audit, prefix: "", want: vec!["0000000000900|a"] },
                batch(vec![Write::Prune { store: Calls, before: 100, limit: 100 }], Durability::Relaxed),
                Step::Prefix { store: Calls, prefix: "", want: vec!["new", "open"] },
                Step::Prefix { store: Slots, prefix: "", want: vec!["call|old10|hs", "call|open|hs", "call|open|pd"] },
            ],
        },
        Case {
            name: "put then get, overwrite wins, delete removes",
            steps: vec![
                batch(vec![put(Calls, rec("c1", true, 10, "a"))], Durability::Strict),
                Step::Get { store: Calls, key: "c1", want: Some(rec("c1", true, 10, "a")) },
                batch(vec![put(Calls, rec("c1", false, 20, "b"))], Durability::Relaxed),
                Step::Get { store: Calls, key: "c1", want: Some(rec("c1", false, 20, "b")) },
                Step::Get { store: Slots, key: "c1", want: None },
                batch(vec![del(Calls, "c1"), del(Calls, "never-there")], Durability::Strict),
                Step::Get { store: Calls, key: "c1", want: None },
            ],
        },
        Case {
            name: "writes in one batch apply in order",
            steps: vec![
                batch(vec![put(Meta, rec("k", false, 0, "1")), del(Meta, "k")], Durability::Strict),
                Step::Get { store: Meta, key: "k", want: None },
                batch(vec![del(Meta, "j"), put(Meta, rec("j", false, 0, "2")), put(Meta, rec("j", false, 0, "3"))], Durability::Strict),
                Step::Get { store: Meta, key: "j", want: Some(rec("j", false, 0, "3")) },
            ],
        },
        Case {
            name: "prefix reads in key order and only under the prefix",
            steps: vec![
                batch(
                    vec![
                        put(Slots, rec("call|x|pd", true, 1, "")),
                        put(Slots, rec("call|x|hs", true, 1, "")),
                        put(Slots, rec("call|xy|hs", true, 1, "")),
                        put(Slots, rec("call|w|hs", true, 1, "")),
                        put(Slots, rec("call|x", true, 1, "")),
                        put(Calls, rec("call|x|zz", true, 1, "")),
                        put(Slots, rec("call|x|%_", true, 1, "")),
                    ],
                    Durability::Strict,
                ),
                Step::Prefix { store: Slots, prefix: "call|x|", want: vec!["call|x|%_", "call|x|hs", "call|x|pd"] },
                Step::Prefix { store: Slots, prefix: "call|x|%", want: vec!["call|x|%_"] },
                Step::Prefix { store: Slots, prefix: "nothing", want: vec![] },
                Step::Prefix { store: Audit, prefix: "", want: vec![] },
            ],
        },
        Case {
            name: "restore reads open work, recent history, meta and settings; never secrets",
            steps: vec![
                batch(
                    vec![
                        put(Slots, rec("old-done", false, 10, "")),
                        put(Slots, rec("old-open", true, 10, "")),
                        put(Slots, rec("new-done", false, 500, "")),
                        put(Calls, rec("old-call", false, 10, "")),
                        put(Calls, rec("edge-call", false, 100, "")),
                        put(Calls, rec("open-and-new", true, 900, "")),
                        put(Audit, rec("old-audit", false, 10, "")),
                        put(Audit, rec("new-audit", false, 900, "")),
                        put(Contacts, rec("ph|hs|+1", true, 5, "")),
                        put(Meta, rec("digest", false, 0, "")),
                        put(Settings, rec("current", false, 0, "")),
                        put(Secrets, rec("hs", true, 999, "")),
                    ],
                    Durability::Strict,
                ),
                Step::Restore {
                    query: q(100),
                    want: vec![
                        (Calls, vec!["edge-call", "open-and-new"]),
                        (Slots, vec!["new-done", "old-open"]),
                        (Contacts, vec!["ph|hs|+1"]),
                        (Meta, vec!["digest"]),
                        (Settings, vec!["current"]),
                    ],
                },
                // A slot that closes leaves what a restore reads once it is old.
                batch(vec![put(Slots, rec("old-open", false, 10, "closed"))], Durability::Strict),
                Step::Restore {
                    query: q(100),
                    want: vec![
                        (Calls, vec!["edge-call", "open-and-new"]),
                        (Slots, vec!["new-done"]),
                        (Contacts, vec!["ph|hs|+1"]),
                        (Meta, vec!["digest"]),
                        (Settings, vec!["current"]),
                    ],
                },
                Step::Get { store: Secrets, key: "hs", want: Some(rec("hs", true, 999, "")) },
            ],
        },
        Case {
            name: "restore of an empty store is empty",
            steps: vec![Step::Restore { query: q(0), want: vec![] }],
        },
        Case {
            name: "values keep every byte",
            steps: vec![
                batch(vec![put(Audit, rec("k\u{e9}|1", false, -5, "quote \" backslash \\ nul-free \u{1F600} <b>"))], Durability::Relaxed),
                Step::Get { store: Audit, key: "k\u{e9}|1", want: Some(rec("k\u{e9}|1", false, -5, "quote \" backslash \\ nul-free \u{1F600} <b>")) },
            ],
        },
    ]
}

/// Whether `got` holds exactly the keys `want`, in order.
pub fn expect_keys(what: &str, got: &[Record], want: &[&str]) -> Result<(), String> {
    let keys: Vec<&str> = got.iter().map(|r| r.key.as_str()).collect();
    if keys == want {
        Ok(())
    } else {
        Err(format!("{what}: got keys {keys:?}, want {want:?}"))
    }
}

/// Whether a restore answered exactly `want` (keys per store, each store's keys in key order;
/// a record open and recent appears once).
pub fn expect_restore(got: &Snapshot, want: &[(StoreName, Vec<&str>)]) -> Result<(), String> {
    for name in StoreName::ALL {
        let mut keys: Vec<&str> = got.records(name).iter().map(|r| r.key.as_str()).collect();
        keys.sort_unstable();
        let expected: Vec<&str> = want.iter().find(|(s, _)| *s == name).map(|(_, k)| k.clone()).unwrap_or_default();
        if keys != expected {
            return Err(format!("restore of {}: got {keys:?}, want {expected:?}", name.as_str()));
        }
    }
    Ok(())
}

/// A synchronous store the cases can run against.
pub trait SyncStore {
    fn apply(&mut self, batch: &Batch) -> Result<(), String>;
    fn get(&self, store: StoreName, key: &str) -> Option<Record>;
    fn prefix(&self, store: StoreName, prefix: &str) -> Vec<Record>;
    fn restore(&self, query: &RestoreQuery) -> Snapshot;
}

/// A store whose operations are awaited (IndexedDB): what [`run`] drives.
#[allow(async_fn_in_trait)] // Run on one thread by its tests: no `Send` bound wanted.
pub trait AsyncStore {
    async fn apply(&mut self, batch: &Batch) -> Result<(), String>;
    async fn get(&self, store: StoreName, key: &str) -> Result<Option<Record>, String>;
    async fn prefix(&self, store: StoreName, prefix: &str) -> Result<Vec<Record>, String>;
    async fn restore(&self, query: &RestoreQuery) -> Result<Snapshot, String>;
}

/// Runs one case against a fresh `store`; the first failure, naming the case and step.
pub async fn run(case: &Case, store: &mut impl AsyncStore) -> Result<(), String> {
    for (i, step) in case.steps.iter().enumerate() {
        let at = |e: String| format!("{} (step {i}): {e}", case.name);
        match step {
            Step::Apply(b) => store.apply(b).await.map_err(at)?,
            Step::Get { store: s, key, want } => {
                let got = store.get(*s, key).await.map_err(at)?;
                if &got != want {
                    return Err(at(format!("get {key}: got {got:?}, want {want:?}")));
                }
            }
            Step::Prefix { store: s, prefix, want } => expect_keys(&format!("prefix {prefix:?}"), &store.prefix(*s, prefix).await.map_err(at)?, want).map_err(at)?,
            Step::Restore { query, want } => expect_restore(&store.restore(query).await.map_err(at)?, want).map_err(at)?,
        }
    }
    Ok(())
}

/// [`run`] for a synchronous store: every await is ready at once, so one poll finishes it.
pub fn run_sync(case: &Case, store: &mut dyn SyncStore) -> Result<(), String> {
    let mut ready = Ready(store);
    let mut run = std::pin::pin!(run(case, &mut ready));
    match run.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(format!("{}: a synchronous store's answer was not ready", case.name)),
    }
}

/// A [`SyncStore`] seen as an [`AsyncStore`].
struct Ready<'a>(&'a mut dyn SyncStore);

impl AsyncStore for Ready<'_> {
    async fn apply(&mut self, batch: &Batch) -> Result<(), String> {
        self.0.apply(batch)
    }
    async fn get(&self, store: StoreName, key: &str) -> Result<Option<Record>, String> {
        Ok(self.0.get(store, key))
    }
    async fn prefix(&self, store: StoreName, prefix: &str) -> Result<Vec<Record>, String> {
        Ok(self.0.prefix(store, prefix))
    }
    async fn restore(&self, query: &RestoreQuery) -> Result<Snapshot, String> {
        Ok(self.0.restore(query))
    }
}

impl SyncStore for super::MemStore {
    fn apply(&mut self, batch: &Batch) -> Result<(), String> {
        super::MemStore::apply(self, batch);
        Ok(())
    }
    fn get(&self, store: StoreName, key: &str) -> Option<Record> {
        super::MemStore::get(self, store, key).cloned()
    }
    fn prefix(&self, store: StoreName, prefix: &str) -> Vec<Record> {
        super::MemStore::prefix(self, store, prefix)
    }
    fn restore(&self, query: &RestoreQuery) -> Snapshot {
        super::MemStore::restore(self, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_store_passes_every_case() {
        for case in cases() {
            let mut store = super::super::MemStore::new();
            run_sync(&case, &mut store).unwrap();
        }
    }

    #[test]
    fn a_wrong_store_fails_the_cases() {
        /// Forgets deletes: the contract must catch it.
        struct NoDeletes(super::super::MemStore);
        impl SyncStore for NoDeletes {
            fn apply(&mut self, batch: &Batch) -> Result<(), String> {
                let writes = batch.writes.iter().filter(|w| matches!(w, Write::Put { .. })).cloned().collect();
                self.0.apply(&Batch { writes, durability: batch.durability });
                Ok(())
            }
            fn get(&self, store: StoreName, key: &str) -> Option<Record> {
                self.0.get(store, key).cloned()
            }
            fn prefix(&self, store: StoreName, prefix: &str) -> Vec<Record> {
                self.0.prefix(store, prefix)
            }
            fn restore(&self, query: &RestoreQuery) -> Snapshot {
                self.0.restore(query)
            }
        }
        let failed = cases().iter().filter(|c| run_sync(c, &mut NoDeletes(super::super::MemStore::new())).is_err()).count();
        assert!(failed >= 2, "{failed}");
    }
}
