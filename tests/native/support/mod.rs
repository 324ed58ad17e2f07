//! Shared test fixtures: a fake world (clock, store with crash semantics, one fake CRM per
//! integration at the `CrmOp` level) that drives the engine exactly as the shell would, and
//! checks the trace-level invariants of reliability.md §7 on every effect.
#![allow(dead_code)]

pub mod fake_crm;
pub mod world;
pub mod zones;

pub use fake_crm::Fault;
pub use world::World;
