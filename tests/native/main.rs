//! Native tests in one binary: scenarios against a fake world, the simulator, the phone table,
//! the connectors' golden pairs, the connectors against the CRM emulator, and a scripted day's
//! effect trace pinned byte for byte.

mod bench;
mod connectors;
mod driver;
mod oauth;
mod emulator_e2e;
mod phone_table;
mod resilience;
mod robust;
mod scenarios;
mod server_mode;
mod shared_calls;
mod simulator;
mod softphone;
mod trace;
mod two_browsers;
mod zones;
mod support;
mod vendors;
