//! Calltrail's native server: the same core (engine, connectors, settings, rules) outside the
//! browser, fed by the telephony platform, with its ledger in PostgreSQL so that several
//! instances share the load and a crash of any of them loses nothing.
//!
//! Modules, in reading order:
//! - [`config`]: flags and environment.
//! - [`app`]: the state every handler shares; [`reply`]: the one shape every endpoint answers
//!   in; [`auth`]: who a request is from (the admin token, or one rep's token).
//! - [`http`]: webhooks in (stored before they are answered) and the admin API.
//! - [`inbox`]: where every event is committed first, many webhooks to one commit.
//! - [`admin`]: the admin's web page and the read-only views behind it.
//! - [`tokens`]: per-rep tokens (issued, listed, revoked) and the OAuth token broker.
//! - [`rep`]: the rep's own endpoints for the extension's server mode; [`refusals`]: what the
//!   rep's engine refused of the rep's requests, kept for the rep to see.
//! - [`rc`]: RingCentral sign-in, the webhook subscription and call-log sync (one instance per
//!   account at a time).
//! - [`lease`]: which instance runs which rep's engine (leases with fencing generations).
//! - [`worker`]: the engine thread: one [`calltrail_core::driver::Driver`] per held rep.
//! - [`store`]: the store contract over PostgreSQL; [`db`]: pool and migrations.
//! - [`seal`]: secrets sealed at rest; [`metrics`]: counters.

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod http;
pub mod inbox;
pub mod lease;
pub mod metrics;
pub mod rc;
pub mod refusals;
pub mod rep;
pub mod reply;
pub mod seal;
pub mod store;
pub mod tokens;
pub mod worker;
