//! `accounts`: seeds and reads paying accounts in a stage's accounts table.
//!
//! ```text
//! accounts seed --config stage.yaml --count 500 [--seed 1]   accounts 1..=500, existing ones kept
//! accounts get  --config stage.yaml --id 42
//! accounts backfill-links --config transactions.yaml          links of the payments stored before links
//! ```
//!
//! The config file is the generator's (endpoint, region, credentials), with `table` naming the
//! accounts table (the stack's `AccountsTableName` output); for `backfill-links`, the
//! transactions table (`TransactionsTableName`), which holds the account–merchant links
//! (docs/deployment.md, "Account–merchant links"). Seeded accounts get a made-up
//! e-mail address and birth date (repeatable with `--seed`). Exit status: 0 done, 1 the
//! operation failed, 2 bad arguments or config.

use clap::{Parser, Subcommand};
use fake::Fake;
use fake::faker::internet::en::SafeEmail;
use payrail_shared::accounts::{Account, DynamoAccounts};
use payrail_shared::domain::{AccountId, Clock, Day, SystemClock};
use payrail_tools::generator::{Config, client, error_chain};
use payrail_tools::links::backfill_links;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "accounts", version, about = "Seed and read paying accounts")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adds accounts 1..=COUNT that do not exist yet.
    Seed {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Prints one account as JSON.
    Get {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        id: u64,
    },
    /// Writes the account–merchant link of every (account, merchant) holding a payment, dated
    /// with its newest completed payment. Idempotent.
    BackfillLinks {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
    },
}

type Failure = (u8, String);

async fn store(config: &std::path::Path) -> Result<DynamoAccounts, Failure> {
    let config = Config::load(config).map_err(|e| (2, e.to_string()))?;
    Ok(DynamoAccounts::new(
        client(&config).await,
        config.table.clone(),
    ))
}

fn failed(err: &(dyn std::error::Error + 'static)) -> Failure {
    (1, error_chain(err))
}

/// A made-up account: the same for the same id and seed.
fn account(id: u64, seed: u64, now: payrail_shared::domain::Timestamp) -> Account {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(id));
    let email: String = SafeEmail().fake_with_rng(&mut rng);
    // Born between 1940 and 2006 (adults only).
    let born = Day::from_epoch_days(rng.random_range(-10_957..13_149));
    Account {
        account_id: AccountId::new(id),
        email,
        birthdate: born.to_string(),
        last_payment_date: None,
        created_at: now,
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Seed {
            config,
            count,
            seed,
        } => {
            let store = store(&config).await?;
            let now = SystemClock.now();
            let mut added = 0u64;
            for id in 1..=count {
                if store
                    .add(&account(id, seed, now))
                    .await
                    .map_err(|e| failed(&e))?
                {
                    added += 1;
                }
            }
            println!(
                "accounts 1..={count}: {added} added, {} existed",
                count - added
            );
        }
        Command::Get { config, id } => {
            let store = store(&config).await?;
            match store
                .get(AccountId::new(id))
                .await
                .map_err(|e| failed(&e))?
            {
                Some(account) => println!(
                    "{}",
                    serde_json::to_string_pretty(&account).map_err(|e| failed(&e))?
                ),
                None => return Err((1, format!("no account {id}"))),
            }
        }
        Command::BackfillLinks { config } => {
            let config = Config::load(&config).map_err(|e| (2, e.to_string()))?;
            let done = backfill_links(&client(&config).await, &config.table)
                .await
                .map_err(|e| failed(&e))?;
            println!(
                "{} payments read ({} without an owner), {} account–merchant links written",
                done.payments, done.unowned, done.links
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("accounts: {message}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_accounts_repeat_and_are_adults() {
        let now = payrail_shared::domain::Timestamp::from_millis(0);
        assert_eq!(account(7, 1, now), account(7, 1, now));
        assert_ne!(account(7, 1, now).email, account(8, 1, now).email);
        let year: i32 = account(7, 1, now).birthdate[..4].parse().unwrap_or(0);
        assert!((1940..=2006).contains(&year));
    }
}
