//! `make bench` measurements that need Rust: the sequential PutItem baseline for the generator,
//! and the items read per item returned of each report beside a Scan answering the same question.

use clap::{Parser, Subcommand};
use payrail_shared::domain::{CardType, Clock, Country, FingerprintKey, SystemClock};
use payrail_tools::bench::{ReportCase, report_ratios, sequential_put};
use payrail_tools::generator::{Config, client};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "payrail benchmarks against DynamoDB (DynamoDB Local or AWS)")]
struct Cli {
    /// Generator-style YAML naming endpoint, region, credentials and table.
    #[arg(long)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes generator payments one PutItem at a time, for comparison with the generator.
    SequentialPut {
        #[arg(long, default_value_t = 5000)]
        count: u64,
    },
    /// Items read per item returned for each report, beside a Scan with a filter.
    Reports,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("bench: {err}");
            return ExitCode::from(2);
        }
    };
    let client = client(&config).await;
    let result = match cli.command {
        Command::SequentialPut { count } => {
            let key = FingerprintKey::new(b"bench".to_vec());
            sequential_put(&client, &config.table, count, key)
                .await
                .map(|rate| {
                    println!("sequential PutItem: {count} items, {rate:.0} items/s");
                })
        }
        Command::Reports => {
            let cases = cases();
            report_ratios(&client, &config.table, SystemClock.now(), &cases).await.map(|rows| {
                println!("| report | returned | items read | read/returned | queries | Scan+filter read | Scan read/returned |");
                println!("|---|---:|---:|---:|---:|---:|---:|");
                for r in rows {
                    println!(
                        "| {} | {} | {} | {:.3} | {} | {} | {:.1} |",
                        r.name,
                        r.returned,
                        r.items_read,
                        r.items_read as f64 / r.returned.max(1) as f64,
                        r.queries,
                        r.scan_read,
                        r.scan_read as f64 / r.returned.max(1) as f64
                    );
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn cases() -> Vec<ReportCase> {
    let gb = Country::parse("GB").ok();
    let mut cases = Vec::new();
    for days in [7u16, 30, 90] {
        cases.push(ReportCase::list(days, 1000).named(format!("list, last {days} days")));
        cases.push(
            ReportCase::list(days, 1000)
                .card_type(CardType::Visa)
                .named(format!("list, visa, {days} days")),
        );
        cases.push(
            ReportCase::list(days, 1000)
                .country(gb)
                .named(format!("list, country GB, {days} days")),
        );
        cases.push(
            ReportCase::list(days, 1000)
                .amount(10_000, 50_000)
                .named(format!("list, amount 10000..50000, {days} days")),
        );
    }
    cases.push(ReportCase::list(90, 100).named("list, last 90 days, pages of 100".to_owned()));
    for days in [1u16, 7, 30, 90, 365] {
        cases.push(
            ReportCase::count(days, CardType::Visa).named(format!("count visa, {days} days")),
        );
    }
    cases
}
