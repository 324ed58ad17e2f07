//! Shared test fixtures: a fake world (clock, store with crash semantics, one fake CRM per
//! integration at the `CrmOp` level) that drives the engine exactly as the shell would, and
//! checks the trace-level invariants of reliability.md §7 on every effect.
#![allow(dead_code)]

pub mod fake_crm;
pub mod world;
pub mod zones;

pub use fake_crm::Fault;

/// The workplace's `shared/` folder (vendor specs, softphone fixtures): `CALLTRAIL_SHARED` when
/// set, else `shared/` beside the repository (X/<clone> + X/shared), else `/work/shared`, so a
/// clone anywhere on the machine finds it. A clear failure names where it looked.
pub fn shared_dir() -> std::path::PathBuf {
    let beside = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    let candidates: Vec<std::path::PathBuf> = std::env::var_os("CALLTRAIL_SHARED")
        .map(|p| vec![p.into()])
        .unwrap_or_else(|| vec![beside, "/work/shared".into()]);
    candidates
        .iter()
        .find(|p| p.join("specs").is_dir())
        .cloned()
        .unwrap_or_else(|| panic!("the shared/ folder (vendor specs, softphone fixtures) was not found at {candidates:?}; set CALLTRAIL_SHARED"))
}
pub use world::World;
