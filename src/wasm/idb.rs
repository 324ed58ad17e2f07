//! The store contract of [`calltrail_core::store`] over IndexedDB, in every scope that has `indexedDB`
//! (service worker, dedicated worker, page).
//!
//! Each object store keeps [`Record`] envelopes with keyPath `key` and two indexes, `open` and
//! `at`, so [`Db::restore`] reads only open work and recent history through index ranges: its
//! cost follows what is open, not how much history there is.
//!
//! Invariants:
//! - A [`Batch`] is one readwrite transaction: it commits whole or not at all.
//! - A [`Durability::Strict`] batch resolves only after the transaction's `complete` with
//!   `durability: "strict"` (flushed to disk); Chrome's default since 121 is `relaxed`.
//! - Schema changes are migrations keyed by the old version in `upgrade`; a database from a
//!   newer build is refused with a clear error instead of being opened half-understood.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStore, IdbObjectStoreParameters,
    IdbOpenDbRequest, IdbRequest, IdbTransaction,
};

use calltrail_core::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};

/// The schema version this build writes. Bump it with a new arm in [`upgrade`].
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("indexeddb is not available in this context")]
    Unavailable,
    #[error("could not open the database: {0}")]
    Open(String),
    #[error("the database was written by a newer Calltrail (this build reads schema version {supported}); update the extension")]
    TooNew { supported: u32 },
    #[error("transaction failed: {0}")]
    Transaction(String),
    #[error("a stored record is malformed: {0}")]
    Malformed(String),
}

impl From<StoreError> for JsValue {
    fn from(e: StoreError) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase` seen through the one method web-sys binds only behind
    /// `web_sys_unstable_apis`; declaring it here keeps the whole build on stable APIs.
    type DatabaseWithOptions;

    /// `IDBDatabase.transaction(names, mode, { durability })`.
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &DatabaseWithOptions,
        names: &Array,
        mode: &str,
        options: &JsValue,
    ) -> Result<IdbTransaction, JsValue>;
}

/// An open Calltrail database.
pub struct Db {
    db: IdbDatabase,
}

impl Db {
    /// Opens (creating or migrating) the database `name`.
    pub async fn open(name: &str) -> Result<Db, StoreError> {
        Db::open_version(name, SCHEMA_VERSION).await
    }

    /// Opens `name` at an older schema `version`: for migration tests only.
    #[doc(hidden)]
    pub async fn open_version(name: &str, version: u32) -> Result<Db, StoreError> {
        let factory = factory()?;
        let req: IdbOpenDbRequest =
            factory.open_with_u32(name, version).map_err(|e| StoreError::Open(describe(&e)))?;
        let on_upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
            move |ev: web_sys::IdbVersionChangeEvent| {
                let Some(target) = ev.target() else { return };
                let req: IdbOpenDbRequest = target.unchecked_into();
                let (Ok(result), Some(tx)) = (req.result(), req.transaction()) else { return };
                let db: IdbDatabase = result.unchecked_into();
                // An upgrade that throws aborts the version change, so the open fails cleanly.
                let target = ev.new_version().map_or(SCHEMA_VERSION, |v| v as u32);
                if let Err(e) = upgrade(&db, &tx, ev.old_version() as u32, target) {
                    tx.abort().ok();
                    web_sys::console::error_2(&"calltrail: schema upgrade failed".into(), &e);
                }
            },
        );
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let result = request(&req).await;
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        let db: IdbDatabase = match result {
            Ok(v) => v.unchecked_into(),
            Err(e) => {
                let msg = describe(&e);
                // VersionError: the database on disk is newer than this build.
                if msg.contains("VersionError") || msg.contains("less than the existing version") {
                    return Err(StoreError::TooNew { supported: SCHEMA_VERSION });
                }
                return Err(StoreError::Open(msg));
            }
        };
        Ok(Db { db })
    }

    /// Applies `batch` in one readwrite transaction and resolves when it has committed.
    pub async fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut names: Vec<StoreName> = batch.writes.iter().flat_map(Write::stores).collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(());
        }
        let tx = self.transaction(&names, "readwrite", batch.durability)?;
        let done = completion(&tx);
        for w in &batch.writes {
            let result = match w {
                Write::Put { store, record } => {
                    let os = object_store(&tx, *store)?;
                    let value = to_js(record)?;
                    os.put(&value).map(drop)
                }
                Write::Delete { store, key } => {
                    let os = object_store(&tx, *store)?;
                    os.delete(&JsValue::from_str(key)).map(drop)
                }
                Write::Prune { store, before, limit } => prune(&tx, *store, *before, *limit),
            };
            if let Err(e) = result {
                tx.abort().ok();
                return Err(StoreError::Transaction(describe(&e)));
            }
        }
        done.await
    }

    /// One record, or `None`.
    pub async fn get(&self, store: StoreName, key: &str) -> Result<Option<Record>, StoreError> {
        let tx = self.transaction(&[store], "readonly", Durability::Relaxed)?;
        let os = object_store(&tx, store)?;
        let req = os.get(&JsValue::from_str(key)).map_err(tx_err)?;
        let v = request(&req).await.map_err(tx_err)?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        from_js(v).map(Some)
    }

    /// Every record of `store` whose key starts with `prefix`, in key order.
    pub async fn prefix(&self, store: StoreName, prefix: &str) -> Result<Vec<Record>, StoreError> {
        let tx = self.transaction(&[store], "readonly", Durability::Relaxed)?;
        let os = object_store(&tx, store)?;
        // U+FFFF sorts after every character a key of ours can hold.
        let upper = format!("{prefix}\u{ffff}");
        let range = IdbKeyRange::bound(&JsValue::from_str(prefix), &JsValue::from_str(&upper)).map_err(tx_err)?;
        let req = os.get_all_with_key(&range).map_err(tx_err)?;
        let arr: Array = request(&req).await.map_err(tx_err)?.unchecked_into();
        arr.iter().map(from_js).collect()
    }

    /// The newest `limit` records of `store` by `at` (index `at`, walked backwards).
    pub async fn newest(&self, store: StoreName, limit: u32) -> Result<Vec<Record>, StoreError> {
        self.walk(store, limit, web_sys::IdbCursorDirection::Prev).await
    }

    /// The oldest record of `store` by `at`, if any.
    pub async fn oldest(&self, store: StoreName) -> Result<Option<Record>, StoreError> {
        Ok(self.walk(store, 1, web_sys::IdbCursorDirection::Next).await?.pop())
    }

    async fn walk(&self, store: StoreName, limit: u32, direction: web_sys::IdbCursorDirection) -> Result<Vec<Record>, StoreError> {
        let tx = self.transaction(&[store], "readonly", Durability::Relaxed)?;
        let index = object_store(&tx, store)?.index("at").map_err(tx_err)?;
        let req = index.open_cursor_with_range_and_direction(&JsValue::UNDEFINED, direction).map_err(tx_err)?;
        let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let promise = {
            let out = out.clone();
            Promise::new(&mut |resolve: Function, reject: Function| {
                let r = req.clone();
                let out = out.clone();
                let on_success = Closure::<dyn FnMut()>::new(move || {
                    let cursor = r.result().ok().filter(|c| !c.is_null() && !c.is_undefined());
                    match cursor {
                        Some(c) if out.borrow().len() < limit as usize => {
                            let c: web_sys::IdbCursorWithValue = c.unchecked_into();
                            if let Ok(v) = c.value() {
                                out.borrow_mut().push(v);
                            }
                            if c.continue_().is_err() {
                                resolve.call0(&JsValue::NULL).ok();
                            }
                        }
                        _ => {
                            resolve.call0(&JsValue::NULL).ok();
                        }
                    }
                });
                let fail = Closure::once_into_js(move || {
                    reject.call1(&JsValue::NULL, &"cursor failed".into()).ok();
                });
                req.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
                req.set_onerror(Some(fail.unchecked_ref()));
                // The closure lives as long as the request; the request ends with the transaction.
                on_success.forget();
            })
        };
        JsFuture::from(promise).await.map_err(tx_err)?;
        let values = out.borrow_mut().drain(..).collect::<Vec<_>>();
        values.into_iter().map(from_js).collect()
    }

    /// How many records `store` holds.
    pub async fn count(&self, store: StoreName) -> Result<u32, StoreError> {
        let tx = self.transaction(&[store], "readonly", Durability::Relaxed)?;
        let req = object_store(&tx, store)?.count().map_err(tx_err)?;
        let v = request(&req).await.map_err(tx_err)?;
        Ok(v.as_f64().unwrap_or(0.0) as u32)
    }

    /// Reads what a restore needs in one readonly transaction: open records (index `open`),
    /// recent records of `q.recent_stores` (index `at`), and the small meta and settings stores.
    pub async fn restore(&self, q: &RestoreQuery) -> Result<Snapshot, StoreError> {
        let names: Vec<StoreName> = StoreName::ALL.into_iter().filter(|n| *n != StoreName::Secrets).collect();
        let tx = self.transaction(&names, "readonly", Durability::Relaxed)?;
        // Issue every request first so IndexedDB runs them in one go, then await them in order.
        let mut pending: Vec<(StoreName, Vec<IdbRequest>)> = Vec::new();
        for name in names {
            let os = object_store(&tx, name)?;
            let mut reqs = Vec::new();
            if matches!(name, StoreName::Meta | StoreName::Settings) {
                reqs.push(os.get_all().map_err(tx_err)?);
            } else {
                let open = os.index("open").map_err(tx_err)?;
                reqs.push(open.get_all_with_key(&JsValue::from_f64(1.0)).map_err(tx_err)?);
                if q.recent_stores.contains(&name) {
                    let range = IdbKeyRange::lower_bound(&JsValue::from_f64(q.since as f64)).map_err(tx_err)?;
                    let at = os.index("at").map_err(tx_err)?;
                    reqs.push(at.get_all_with_key(&range).map_err(tx_err)?);
                }
            }
            pending.push((name, reqs));
        }
        let mut snap = Snapshot::default();
        for (name, reqs) in pending {
            let mut recs: Vec<Record> = Vec::new();
            for req in reqs {
                let arr: Array = request(&req).await.map_err(tx_err)?.unchecked_into();
                for v in arr.iter() {
                    let r: Record = from_js(v)?;
                    if !recs.iter().any(|x| x.key == r.key) {
                        recs.push(r);
                    }
                }
            }
            if !recs.is_empty() {
                snap.stores.push((name, recs));
            }
        }
        Ok(snap)
    }

    pub fn close(&self) {
        self.db.close();
    }

    fn transaction(&self, names: &[StoreName], mode: &str, durability: Durability) -> Result<IdbTransaction, StoreError> {
        let arr: Array = names.iter().map(|n| JsValue::from_str(n.as_str())).collect();
        let opts = Object::new();
        let d = match durability {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        };
        Reflect::set(&opts, &"durability".into(), &d.into()).map_err(tx_err)?;
        self.db.unchecked_ref::<DatabaseWithOptions>().transaction_with_options(&arr, mode, &opts).map_err(tx_err)
    }
}

/// Starts a [`Write::Prune`] in `tx`: a cursor over the `at` index below `before` deletes closed
/// records (and a call's slots, by key range) until `limit` are gone; the transaction commits
/// once the cursor is done.
fn prune(tx: &IdbTransaction, store: StoreName, before: i64, limit: u32) -> Result<(), JsValue> {
    let os = object_store(tx, store).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let slots = if store == StoreName::Calls { Some(object_store(tx, StoreName::Slots).map_err(|e| JsValue::from_str(&e.to_string()))?) } else { None };
    let range = IdbKeyRange::upper_bound_with_open(&JsValue::from_f64(before as f64), true)?;
    let req = os.index("at")?.open_cursor_with_range(&range)?;
    let r = req.clone();
    let mut left = limit;
    let on_success = Closure::<dyn FnMut()>::new(move || {
        let Some(c) = r.result().ok().filter(|c| !c.is_null() && !c.is_undefined()) else { return };
        let c: web_sys::IdbCursorWithValue = c.unchecked_into();
        let value = c.value().unwrap_or(JsValue::NULL);
        let open = Reflect::get(&value, &"open".into()).ok().and_then(|v| v.as_f64()).unwrap_or(1.0);
        if open == 0.0 && left > 0 {
            left -= 1;
            c.delete().ok();
            if let (Some(slots), Some(key)) = (&slots, Reflect::get(&value, &"key".into()).ok().and_then(|k| k.as_string())) {
                let prefix = format!("call|{key}|");
                if let Ok(range) = IdbKeyRange::bound(&JsValue::from_str(&prefix), &JsValue::from_str(&format!("{prefix}\u{ffff}"))) {
                    slots.delete(&range).ok();
                }
            }
        }
        if left > 0 {
            c.continue_().ok();
        }
    });
    req.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    // The closure lives as long as the cursor; the cursor ends with the transaction.
    on_success.forget();
    Ok(())
}

/// Creates or migrates the schema from version `old` to `new` (normally [`SCHEMA_VERSION`]).
fn upgrade(db: &IdbDatabase, _tx: &IdbTransaction, old: u32, new: u32) -> Result<(), JsValue> {
    if old < 1 && new >= 1 {
        for name in StoreName::ALL.into_iter().filter(|n| *n != StoreName::Secrets) {
            let params = IdbObjectStoreParameters::new();
            params.set_key_path(&JsValue::from_str("key"));
            let os = db.create_object_store_with_optional_parameters(name.as_str(), &params)?;
            let idx = IdbIndexParameters::new();
            idx.set_unique(false);
            os.create_index_with_str_and_optional_parameters("open", "open", &idx)?;
            os.create_index_with_str_and_optional_parameters("at", "at", &idx)?;
        }
    }
    if old < 2 && new >= 2 {
        // Version 2 keeps credentials in their own store, outside every restore.
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&JsValue::from_str("key"));
        let os = db.create_object_store_with_optional_parameters(StoreName::Secrets.as_str(), &params)?;
        let idx = IdbIndexParameters::new();
        idx.set_unique(false);
        os.create_index_with_str_and_optional_parameters("open", "open", &idx)?;
        os.create_index_with_str_and_optional_parameters("at", "at", &idx)?;
    }
    // Later versions: `if old < 3 { ... }`, using `_tx.object_store(..)` for data migrations.
    Ok(())
}

fn factory() -> Result<IdbFactory, StoreError> {
    let global = js_sys::global();
    let f = Reflect::get(&global, &"indexedDB".into()).map_err(|_| StoreError::Unavailable)?;
    if f.is_undefined() || f.is_null() {
        return Err(StoreError::Unavailable);
    }
    Ok(f.unchecked_into())
}

fn object_store(tx: &IdbTransaction, name: StoreName) -> Result<IdbObjectStore, StoreError> {
    tx.object_store(name.as_str()).map_err(tx_err)
}

/// Resolves with `req.result` on success, rejects with its error.
async fn request(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let r = req.clone();
        let ok = Closure::once_into_js(move || {
            resolve.call1(&JsValue::NULL, &r.result().unwrap_or(JsValue::UNDEFINED)).ok();
        });
        let r = req.clone();
        let fail = Closure::once_into_js(move || {
            let err: JsValue = r.error().ok().flatten().map(Into::into).unwrap_or_else(|| "request failed".into());
            reject.call1(&JsValue::NULL, &err).ok();
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(fail.unchecked_ref()));
    });
    JsFuture::from(promise).await
}

/// Resolves when `tx` completes (committed), rejects when it errors or aborts.
fn completion(tx: &IdbTransaction) -> impl std::future::Future<Output = Result<(), StoreError>> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let ok = Closure::once_into_js(move || {
            resolve.call0(&JsValue::NULL).ok();
        });
        let t = tx.clone();
        let reject2 = reject.clone();
        let t2 = tx.clone();
        let fail = Closure::once_into_js(move || {
            let err: JsValue = t.error().map(Into::into).unwrap_or_else(|| "transaction error".into());
            reject.call1(&JsValue::NULL, &err).ok();
        });
        let aborted = Closure::once_into_js(move || {
            let err: JsValue = t2.error().map(Into::into).unwrap_or_else(|| "transaction aborted".into());
            reject2.call1(&JsValue::NULL, &err).ok();
        });
        tx.set_oncomplete(Some(ok.unchecked_ref()));
        tx.set_onerror(Some(fail.unchecked_ref()));
        tx.set_onabort(Some(aborted.unchecked_ref()));
    });
    async move { JsFuture::from(promise).await.map(drop).map_err(tx_err) }
}

/// `{ key, open, at, value }` with `value` the JSON text: built field by field, no serde.
fn to_js(record: &Record) -> Result<JsValue, StoreError> {
    let o = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v).map(drop).map_err(tx_err);
    set("key", JsValue::from_str(&record.key))?;
    set("open", JsValue::from_f64(f64::from(record.open)))?;
    set("at", JsValue::from_f64(record.at as f64))?;
    set("value", JsValue::from_str(&record.value))?;
    Ok(o.into())
}

fn from_js(v: JsValue) -> Result<Record, StoreError> {
    let field = |k: &str| Reflect::get(&v, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let bad = |what: &str| StoreError::Malformed(format!("a stored record has no {what}"));
    Ok(Record {
        key: field("key").as_string().ok_or_else(|| bad("key"))?,
        open: field("open").as_f64().map_or(0, |n| u8::from(n == 1.0)),
        at: field("at").as_f64().ok_or_else(|| bad("time"))? as i64,
        value: field("value").as_string().ok_or_else(|| bad("value"))?,
    })
}

fn tx_err(e: JsValue) -> StoreError {
    StoreError::Transaction(describe(&e))
}

/// A readable message from a thrown value or a DOMException.
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let name = Reflect::get(e, &"name".into()).ok().and_then(|v| v.as_string());
    let msg = Reflect::get(e, &"message".into()).ok().and_then(|v| v.as_string());
    match (name, msg) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (None, Some(m)) => m,
        (Some(n), None) => n,
        (None, None) => format!("{e:?}"),
    }
}
