//! `owners`: moves a deployed stage's ownership from merchant names to merchant ids.
//!
//! ```text
//! owners backfill --config transactions.yaml --users-table <UsersTableName> --users-only   (before the deploy)
//! owners backfill --config transactions.yaml --users-table <UsersTableName>                (after it)
//! ```
//!
//! The config file is the generator's (endpoint, region, credentials), with `table` naming the
//! transactions table (the stack's `TransactionsTableName` output); `--users-table` names the
//! users table (`UsersTableName`). Gives merchant users their merchant ids, rewrites payments'
//! owners, account–merchant links and Idempotency-Key records from names to ids
//! (docs/deployment.md, "Owner ids": deploy first, then run this; it is idempotent). Exit
//! status: 0 done, 1 the backfill failed (run it again), 2 bad arguments or config.

use clap::{Parser, Subcommand};
use payrail_tools::generator::{Config, client, error_chain};
use payrail_tools::owners::{Steps, backfill_owners};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "owners",
    version,
    about = "Move ownership from merchant names to ids"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Gives merchant users ids and rewrites payments, links and idempotency records to them.
    Backfill {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
        #[arg(long)]
        users_table: String,
        /// Only give merchant users their ids and register them (safe before the deploy).
        #[arg(long)]
        users_only: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Backfill {
        config,
        users_table,
        users_only,
    } = Args::parse().command;
    let steps = if users_only {
        Steps::UsersOnly
    } else {
        Steps::All
    };
    let config = match Config::load(&config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("owners: {e}");
            return ExitCode::from(2);
        }
    };
    match backfill_owners(&client(&config).await, &users_table, &config.table, steps).await {
        Ok(done) => {
            println!(
                "{} merchant users given an id; {} payments moved to ids ({} to the upstream merchant); \
                 {} links written, {} name links deleted; {} idempotency records copied",
                done.users,
                done.payments,
                done.to_upstream,
                done.links,
                done.old_links,
                done.idempotency
            );
            if !done.ambiguous.is_empty() {
                println!(
                    "{} payments left under a name several merchants have (decide their owner): {}",
                    done.ambiguous.len(),
                    done.ambiguous.join(" ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("owners: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}
