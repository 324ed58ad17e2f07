//! Calltrail's domain: the words the engine and the shell share, and the wire formats around
//! them. Everything here is plain data and pure functions; nothing touches I/O.
//!
//! - [`civil`]: UTC calendar fields and the date-time texts the CRMs exchange.
//! - [`model`]: calls, messages, contacts, integrations, timestamps.
//! - [`phone`]: E.164 normalisation and match keys for numbers in whatever format a CRM stores.
//! - [`settings`]: per-integration and global settings, validated as a whole.
//! - [`crm`]: one connector per CRM: build an HTTP request, parse an HTTP response, classify errors.
//! - [`store`]: the persistence contract (record envelopes, batches, restore queries).
//!
//! A crate of its own, below the engine, so the engine can be compiled for speed while
//! this code stays compiled for size (see ARCHITECTURE.md, "Crates and optimisation levels").

pub mod civil;
pub mod crm;
pub mod model;
pub mod phone;
pub mod settings;
pub mod store;
