//! `generate`: writes random, realistic, completed payments straight into the transactions
//! table, with aggregate counters that agree with what it wrote.
//!
//! ```text
//! generate --config tools/generator.example.yaml [--count 20000] [--days 90] [--seed S]
//!          [--concurrency 8] [--no-progress]
//! ```
//!
//! Exit status: 0 done, 1 the run failed (the message says how far it got), 2 bad arguments or
//! config, 130 stopped by Ctrl-C or SIGTERM (in-flight writes finished, counters flushed).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use payrail_shared::cards::CardCipher;
use payrail_shared::domain::FingerprintKey;
use payrail_tools::generator::{
    Config, GenerateOptions, Progress, error_chain, generate, sdk_config,
};
use std::cell::Cell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Write random, realistic, completed payments into the transactions table.
#[derive(Debug, Parser)]
#[command(name = "generate", version)]
struct Args {
    /// YAML file naming the endpoint, region, credentials and table (see
    /// tools/generator.example.yaml).
    #[arg(long, value_name = "FILE.yaml")]
    config: PathBuf,
    /// Payments to write.
    #[arg(long, default_value_t = 20_000)]
    count: u64,
    /// Spread `created_at` over this many days before now.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Seed for everything but the payment ids (random if not given; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// BatchWriteItem requests in flight.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Apply the aggregate counters after this many items written (and at the end).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    flush_every: u64,
    /// No progress bar: a few plain lines instead.
    #[arg(long)]
    no_progress: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(e) => return fail(2, &e.to_string()),
    };
    let sdk = sdk_config(&config).await;
    let fingerprint_key = match fingerprint_key(&sdk).await {
        Ok(key) => key,
        Err(message) => return fail(2, &message),
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let place = match &config.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => format!("AWS {}", config.region),
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    if let Err(message) = preflight(&client, &config.table, &place).await {
        return fail(1, &message);
    }

    let stop = Arc::new(AtomicBool::new(false));
    tokio::spawn(stop_on_signal(stop.clone()));
    let mut options = GenerateOptions::new(fingerprint_key);
    options.count = args.count;
    options.days = args.days;
    options.seed = seed;
    options.concurrency = usize::from(args.concurrency);
    options.flush_every = args.flush_every;
    options.stop = Some(stop);

    eprintln!(
        "generate: writing {} payments over the last {} days into `{}` at {place} (seed {seed})",
        args.count, args.days, config.table
    );
    let show_bar = !args.no_progress && std::io::stderr().is_terminal();
    let reporter = Reporter::new(args.count, show_bar);
    let result = generate(&client, &config.table, &options, &reporter).await;
    reporter.finish();
    match result {
        Ok(report) => {
            println!(
                "{} items written in {:.2} s: {:.0} items/s ({} aggregate updates, seed {seed}){}",
                report.items_written,
                report.elapsed.as_secs_f64(),
                report.items_per_second(),
                report.aggregate_updates,
                if report.interrupted {
                    "; stopped early, counters match the items written"
                } else {
                    ""
                },
            );
            if report.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(1, &e.to_string()),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("generate: {message}");
    ExitCode::from(code)
}

/// The functions' fingerprint key when `CARD_DATA_KEY` is set (its value or Secrets Manager
/// ARN, read and derived exactly as the functions do: `CardCipher`), so that generated
/// fingerprints match cards paid through the API; otherwise none: generated cards then carry no
/// fingerprint rather than one under another key or derivation.
async fn fingerprint_key(sdk: &aws_config::SdkConfig) -> Result<Option<FingerprintKey>, String> {
    if std::env::var_os("CARD_FINGERPRINT_KEY").is_some() {
        return Err("CARD_FINGERPRINT_KEY is no longer read: set CARD_DATA_KEY to the functions' card-data secret (its value or ARN) for fingerprints that match the API's".to_owned());
    }
    if std::env::var_os(CardCipher::KEY_VAR).is_none() {
        return Ok(None);
    }
    let cipher = CardCipher::from_env(sdk)
        .await
        .map_err(|e| format!("{}: {e}", CardCipher::KEY_VAR))?;
    Ok(Some(cipher.fingerprint_key()))
}

/// Fails early and clearly when the endpoint is unreachable or the table missing, instead of
/// after a round of retries. A principal allowed to write but not to describe may go on.
async fn preflight(client: &Client, table: &str, place: &str) -> Result<(), String> {
    let Err(err) = client.describe_table().table_name(table).send().await else {
        return Ok(());
    };
    match err.as_service_error() {
        Some(e) if e.is_resource_not_found_exception() => Err(format!(
            "table `{table}` does not exist at {place}; create it first (the local stack does)"
        )),
        Some(e) if e.code() == Some("AccessDeniedException") => Ok(()),
        Some(e) => Err(format!(
            "DynamoDB at {place} refused DescribeTable on `{table}`: {}: {}",
            e.code().unwrap_or("unknown error"),
            e.message().unwrap_or_default()
        )),
        None => Err(format!(
            "cannot reach DynamoDB at {place}: {}",
            error_chain(&err)
        )),
    }
}

/// First Ctrl-C or SIGTERM: stop cleanly (the run finishes its in-flight batches and flushes the
/// counters). Second: quit at once.
async fn stop_on_signal(stop: Arc<AtomicBool>) {
    signal().await;
    stop.store(true, Ordering::Relaxed);
    eprintln!(
        "\ngenerate: stopping: finishing the writes in flight and flushing the counters (again to quit at once)"
    );
    signal().await;
    eprintln!(
        "generate: quit; the counters may be short of the items written since the last flush"
    );
    std::process::exit(130);
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A progress bar on a terminal; otherwise a line at each quarter.
enum Reporter {
    Bar(ProgressBar),
    Lines { total: u64, next_quarter: Cell<u64> },
}

impl Reporter {
    fn new(total: u64, bar: bool) -> Self {
        if bar {
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} items, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            Reporter::Bar(ProgressBar::new(total).with_style(style))
        } else {
            Reporter::Lines {
                total,
                next_quarter: Cell::new(1),
            }
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn written(&self, items_written: u64) {
        match self {
            Reporter::Bar(bar) => bar.set_position(items_written),
            Reporter::Lines {
                total,
                next_quarter,
            } => {
                let quarter = next_quarter.get();
                if quarter <= 4 && items_written.saturating_mul(4) >= total.saturating_mul(quarter)
                {
                    eprintln!("generate: {items_written}/{total} items written");
                    // Skip quarters already passed (a big batch can cross more than one).
                    let passed = (items_written.saturating_mul(4) / (*total).max(1)).min(4);
                    next_quarter.set(passed + 1);
                }
            }
        }
    }
}
