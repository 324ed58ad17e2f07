//! Calltrail's wasm shell: the service worker's glue around [`calltrail_core`].
//!
//! Everything that decides lives in the core crate; this crate only moves data between the
//! browser and the core: the exports the service worker calls, IndexedDB, `fetch`, alarms and
//! the clock. It is compiled for `wasm32` only; natively it is empty, so `cargo test
//! --workspace` builds the core and the tests without a JavaScript engine.

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The crate version, as the extension reports it in `ping`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
