//! The state every handler shares: the pool, the store, the inbox, the sealer, the admin
//! token, the metrics and the accounts' secrets in clear (a few seconds old at most).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::PgPool;

use crate::inbox::Inbox;
use crate::metrics::Metrics;
use crate::seal::Sealer;
use crate::store::PgStore;

#[derive(Clone)]
pub struct App {
    pub pool: PgPool,
    pub store: PgStore,
    pub inbox: Inbox,
    pub sealer: Sealer,
    pub admin_token: Arc<String>,
    pub metrics: Arc<Metrics>,
    /// Per-account secrets in clear, read from their sealed columns (a few seconds old at most).
    pub secrets: Arc<Mutex<HashMap<String, (Instant, AccountSecrets)>>>,
}

#[derive(Clone, Debug, Default)]
pub struct AccountSecrets {
    pub verification_token: Option<String>,
    pub webhook_secret: Option<String>,
    pub country: String,
}
