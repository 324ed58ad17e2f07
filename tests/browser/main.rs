//! Browser tests: the real IndexedDB store code under wasm-bindgen-test in headless Chromium.
#![cfg(target_arch = "wasm32")]
