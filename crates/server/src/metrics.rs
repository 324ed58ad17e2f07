//! Counters an operator (and the benchmark) reads at `GET /metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub held: AtomicU64,
    pub calls_fed: AtomicU64,
    pub creates_sent: AtomicU64,
    pub webhooks_stored: AtomicU64,
    pub webhooks_refused: AtomicU64,
}

impl Metrics {
    pub fn set_held(&self, n: usize) {
        self.held.store(n as u64, Ordering::Relaxed);
    }
    pub fn call_fed(&self) {
        self.calls_fed.fetch_add(1, Ordering::Relaxed);
    }
    pub fn create_sent(&self) {
        self.creates_sent.fetch_add(1, Ordering::Relaxed);
    }
    pub fn json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "held_reps": g(&self.held), "calls_fed": g(&self.calls_fed), "creates_sent": g(&self.creates_sent),
            "webhooks_stored": g(&self.webhooks_stored), "webhooks_refused": g(&self.webhooks_refused),
        })
    }
}
