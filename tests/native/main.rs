//! Native tests in one binary: scenarios against a fake world, the simulator, the phone table,
//! and the connectors' golden pairs.

mod support;
