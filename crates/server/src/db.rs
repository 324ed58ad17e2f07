//! The connection pool and the migrations (embedded in the binary, run at start; running them
//! from several instances at once is safe: sqlx takes an advisory lock).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool of at most `max` connections; waits up to 30 s for the database to come up.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    let opts = opts.application_name("calltrail-server");
    let mut last = None;
    for _ in 0..60 {
        match PgPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(10)).connect_with(opts.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(last.unwrap_or(sqlx::Error::PoolTimedOut))
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
