//! Calltrail logs every call, SMS and fax that a rep's web softphone sees into each of the rep's
//! CRMs where the other party is a contact: automatically, reliably, exactly once per CRM.
//!
//! The crate is a core with no I/O and a thin shell around it. The core takes facts in
//! ([`engine::Input`]), hands instructions out ([`engine::Effect`]) and receives time as a
//! parameter; it never reads a clock, storage or the network, so the whole product runs natively
//! in tests and in the simulator exactly as it runs in the browser. The shell ([`wasm`], only on
//! `wasm32`) runs the effects in the extension's service worker: fetch, IndexedDB, alarms.
//!
//! The core is three crates (see ARCHITECTURE.md, "Crates and optimisation levels"):
//! `calltrail-domain` (`crates/domain`) holds the domain words and wire formats,
//! `calltrail-engine` (`crates/engine`) the state machine, and this crate the softphone
//! decoders, the pages' view, policy and the shell. Their modules are re-exported here, so every
//! path reads `calltrail::model::Call`, `calltrail::engine::Engine`, whichever crate holds it.
//!
//! Modules, in reading order:
//! - [`model`]: the domain words: calls, messages, contacts, integrations, timestamps.
//! - [`phone`]: E.164 normalisation and match keys for numbers in whatever format a CRM stores.
//! - [`settings`]: per-integration and global settings, validated as a whole.
//! - [`policy`]: admin policy laid over the rep's settings; what it sets is locked.
//! - [`engine`]: the state machine: slots, the ledger, the four logging modes, the digest,
//!   conflict rules, placeholders, audit.
//! - [`crm`]: one connector per CRM: build an HTTP request, parse an HTTP response, classify errors.
//! - [`store`]: the persistence contract (record envelopes, batches, restore queries).
//! - [`softphone`]: decoding untrusted softphone messages into engine inputs.
//! - [`intents`]: what pages and content scripts ask of the service worker, decoded by hand.
//! - [`view`]: what the pages show (statuses, filters, the unresolved queue, the badge), in Rust.
//! - [`wasm`]: the only module that touches JavaScript.

pub use calltrail_engine::{crm, engine, model, phone, settings, store};

pub mod intents;
pub mod policy;
pub mod softphone;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The crate version, as the extension reports it in `ping` and diagnostics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
