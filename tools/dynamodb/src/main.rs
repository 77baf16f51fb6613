//! `payrail-dynamodb --port N [--db-path FILE]`: the local stack's DynamoDB. Dynoxide (crates.io
//! `dynoxide-rs`, MIT OR Apache-2.0) served over DynamoDB's HTTP API, in memory or in one SQLite
//! file, with expired TTL items swept as DynamoDB's TTL would delete them. Built with the
//! workspace so it shares what the other binaries already compiled (docs/design.md, the local
//! stack).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use dynoxide::{Database, ServerOptions};

#[derive(Parser)]
#[command(about = "The local stack's DynamoDB (Dynoxide)")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, short, default_value_t = 8000)]
    port: u16,
    /// SQLite file that keeps the data between runs; none keeps it in memory.
    #[arg(long)]
    db_path: Option<String>,
    /// Seconds between sweeps of expired TTL items (DynamoDB deletes them within days; 0 never).
    #[arg(long, default_value_t = 60)]
    ttl_sweep_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = match &args.db_path {
        Some(path) => {
            let db = Database::new(path).with_context(|| format!("opening {path}"))?;
            // SQLite's `synchronous = NORMAL` under its WAL: a commit survives the process being
            // killed (the fault tests do), only a machine crash may lose the last ones, and no
            // commit waits for an fsync (FULL, the default, syncs every one).
            db.disable_bulk_loading()
                .context("setting synchronous = NORMAL")?;
            db
        }
        None => Database::memory().context("opening an in-memory database")?,
    };
    if args.ttl_sweep_seconds > 0 {
        tokio::spawn(sweep_expired(
            db.clone(),
            Duration::from_secs(args.ttl_sweep_seconds),
        ));
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    eprintln!(
        "payrail-dynamodb (Dynoxide {}) on http://{addr} ({})",
        dynoxide::PRODUCT_VERSION,
        args.db_path.as_deref().unwrap_or("in memory")
    );
    dynoxide::server::start_with_options(
        &addr.ip().to_string(),
        addr.port(),
        db,
        ServerOptions::quiet(),
    )
    .await
    .map_err(anyhow::Error::msg)
}

/// Deletes expired TTL items now and then, off the async threads (a sweep takes SQLite's lock
/// a page at a time, so requests wait for at most a page).
async fn sweep_expired(db: Database, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => eprintln!("payrail-dynamodb: TTL sweep failed: {err}"),
            Err(err) => eprintln!("payrail-dynamodb: TTL sweep stopped: {err}"),
        }
    }
}
