//! The server's integration tests (one binary): the store contract and leases on a real
//! PostgreSQL, the inbox's group commit, the webhook's and admin API's refusals, and the
//! end-to-end chaos run with the RingCentral and CRM emulators.

mod chaos;
mod inbox;
mod leases;
mod refusals;
mod server_mode;
mod shared_calls;
mod store_contract;
mod tokens;
mod support;
