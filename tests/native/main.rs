//! Native tests in one binary: scenarios against a fake world, the simulator, the phone table,
//! the connectors' golden pairs and the connectors against the CRM emulator.

mod connectors;
mod emulator_e2e;
mod phone_table;
mod scenarios;
mod simulator;
mod softphone;
mod support;
