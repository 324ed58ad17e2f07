//! Configuration by flags and environment (each flag names its variable). Secrets (the
//! sealing key, the admin token) come from the environment in production; flags are for tests.

use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(name = "calltrail-server", about = "Calltrail's server: logs calls from the telephony platform into each rep's CRMs, exactly once")]
pub struct Config {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "CALLTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL RingCentral delivers webhooks to (a load balancer in front of the instances);
    /// defaults to `http://<listen address>`.
    #[arg(long, env = "CALLTRAIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// 32-byte key (64 hex characters or base64) sealing credentials at rest.
    #[arg(long, env = "CALLTRAIL_SEAL_KEY", hide_env_values = true)]
    pub seal_key: String,
    /// Bearer token of the admin API.
    #[arg(long, env = "CALLTRAIL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// This instance's id (default: random).
    #[arg(long, env = "CALLTRAIL_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// How long a lease lives without renewal: how fast work moves off a dead instance.
    #[arg(long, env = "CALLTRAIL_LEASE_TTL_MS", default_value_t = 6000)]
    pub lease_ttl_ms: u64,
    /// How often the call log is synced (reconciliation).
    #[arg(long, env = "CALLTRAIL_SYNC_INTERVAL_MS", default_value_t = 60_000)]
    pub sync_interval_ms: u64,
    /// How often the webhook subscription's state is checked.
    #[arg(long, env = "CALLTRAIL_SUBSCRIPTION_CHECK_MS", default_value_t = 60_000)]
    pub subscription_check_ms: u64,
    /// Database connections per pool (the instance has two: HTTP and engines).
    #[arg(long, env = "CALLTRAIL_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
}

impl Config {
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms.max(1000))
    }
}
