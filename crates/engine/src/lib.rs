//! Calltrail's logging engine: the state machine that turns calls, messages and CRM answers
//! into CRM requests, records and audit entries (see [`engine`]).
//!
//! The domain modules are re-exported at the root, so paths read `crate::model::Call` here
//! as they do in the `calltrail` crate that re-exports this one.
//!
//! A crate of its own so its release build can be compiled for speed (`opt-level = 2`) while
//! the rest of the extension's module stays compiled for size (see ARCHITECTURE.md, "Crates
//! and optimisation levels").

pub use calltrail_domain::{crm, model, phone, settings, store};

pub mod engine;
