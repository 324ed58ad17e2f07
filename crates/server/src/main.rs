//! `calltrail-server`: runs migrations, then serves webhooks and the admin API, keeps the
//! RingCentral subscriptions and call-log sync of the accounts it holds, and runs the engines
//! of the reps whose leases it holds. Prints one JSON line on stdout when ready.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use calltrail_server::config::Config;
use calltrail_server::app::App;
use calltrail_server::http::router;
use calltrail_server::inbox::Inbox;
use calltrail_server::metrics::Metrics;
use calltrail_server::seal::{random_hex, Sealer};
use calltrail_server::store::PgStore;
use calltrail_server::{db, rc, worker};
use clap::Parser;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("CALLTRAIL_LOG").unwrap_or_else(|_| "calltrail_server=info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cfg = Config::parse();
    if let Err(e) = run(cfg).await {
        eprintln!("calltrail-server: {e}");
        std::process::exit(1);
    }
}

async fn run(cfg: Config) -> Result<(), Box<dyn std::error::Error>> {
    let sealer = Sealer::from_text(&cfg.seal_key)?;
    if cfg.admin_token.len() < 16 {
        return Err("the admin token must be at least 16 characters".into());
    }
    let instance = cfg.instance_id.clone().unwrap_or_else(|| format!("i-{}", random_hex(6)));
    let pool = db::connect(&cfg.database_url, cfg.pool_size).await?;
    db::migrate(&pool).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = cfg.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let metrics = Arc::new(Metrics::default());

    worker::spawn(worker::EngineConfig {
        database_url: cfg.database_url.clone(),
        instance: instance.clone(),
        sealer: sealer.clone(),
        lease_ttl: cfg.lease_ttl(),
        tick: Duration::from_millis(500),
        pool_size: cfg.pool_size,
        metrics: metrics.clone(),
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build()?;
    tokio::spawn(rc::keeper(
        pool.clone(),
        sealer.clone(),
        http,
        rc::KeeperConfig {
            instance: instance.clone(),
            public_url: public_url.clone(),
            tick: Duration::from_millis(500),
            sync_interval: Duration::from_millis(cfg.sync_interval_ms),
            check_interval: Duration::from_millis(cfg.subscription_check_ms),
            lease_ttl: cfg.lease_ttl(),
        },
    ));
    let app = App {
        store: PgStore { pool: pool.clone(), sealer: sealer.clone(), instance: instance.clone() },
        inbox: Inbox::start(pool.clone()),
        pool,
        sealer,
        admin_token: Arc::new(cfg.admin_token.clone()),
        metrics,
        secrets: Arc::new(Mutex::new(Default::default())),
    };
    println!("{}", serde_json::json!({ "ready": true, "listen": addr.to_string(), "port": addr.port(), "instance": instance, "public_url": public_url }));
    tracing::info!(%addr, %instance, "listening");
    axum::serve(listener, router(app)).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
