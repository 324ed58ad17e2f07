//! Calltrail's core: everything that decides, and nothing that does I/O.
//!
//! Calltrail logs every call, SMS and fax that a rep's web softphone sees into each of the rep's
//! CRMs where the other party is a contact: automatically, reliably, exactly once per CRM. This
//! crate holds the whole product's logic as pure code: facts go in ([`engine::Input`]),
//! instructions come out ([`engine::Effect`]), and time is a parameter. It never reads a clock,
//! storage or the network, so it runs natively in tests and in the simulator exactly as it runs
//! in the browser's wasm shell (the `calltrail` crate) or in the native server.
//!
//! Modules, in reading order:
//! - [`model`]: the domain words: calls, messages, contacts, integrations, timestamps.
//! - [`civil`]: UTC calendar fields and the date-time texts the CRMs exchange.
//! - [`phone`]: E.164 normalisation and match keys for numbers in whatever format a CRM stores.
//! - [`settings`]: per-integration and global settings, validated as a whole.
//! - [`policy`]: admin policy laid over the rep's settings; what it sets is locked.
//! - [`store`]: the persistence contract (record envelopes, batches, restore queries).
//! - [`crm`]: one connector per CRM: build an HTTP request, parse an HTTP response, classify errors.
//! - [`softphone`]: decoding untrusted softphone messages into engine inputs.
//! - [`telephony`]: decoding a telephony platform's webhooks and call log (server side) into
//!   engine inputs.
//! - [`engine`]: the state machine: slots, the ledger, the four logging modes, the digest,
//!   conflict rules, placeholders, audit.
//! - [`intents`]: what pages and content scripts ask of the service worker.
//! - [`driver`]: the shell's decisions around the engine (settings and policy, credentials and
//!   token refresh, the connector conversation, the softphone gate, acknowledgements), as a
//!   sans-IO loop every shell drives the same way.
//! - [`view`]: what the pages show (statuses, filters, the unresolved queue, the badge).
//! - [`web`]: web origins and the browser's match patterns (which sites the extension asks for).
//! - [`zone`]: civil time in IANA zones from offset tables the shell builds (no tz database here).

pub mod civil;
pub mod crm;
pub mod driver;
pub mod engine;
pub mod intents;
pub mod model;
pub mod phone;
pub mod policy;
pub mod settings;
pub mod softphone;
pub mod store;
pub mod tagged;
pub mod vecmap;
pub mod telephony;
pub mod view;
pub mod web;
pub mod zone;
