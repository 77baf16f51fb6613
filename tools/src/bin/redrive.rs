//! `redrive`: moves the messages of a dead-letter queue back to the queue they came from
//! (SPEC §4; docs/runbook-dlq.md), marked with the message attribute `payrail_redriven = "1"`.
//!
//! ```text
//! redrive --from <dlq-url> --to <queue-url> [--max N] [--dry-run]
//! ```
//!
//! SQS is reached through the standard AWS variables (credentials, `AWS_REGION`, profiles, and
//! `AWS_ENDPOINT_URL_SQS` for the local stack). Exit status: 0 every message moved (or listed),
//! 1 some messages could not be moved (they stay in the DLQ), 2 bad arguments or the DLQ cannot
//! be read.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use clap::Parser;
use payrail_tools::redrive::{RedriveOptions, redrive};

#[derive(Debug, Parser)]
#[command(
    name = "redrive",
    version,
    about = "Re-drives a dead-letter queue into its queue"
)]
struct Args {
    /// URL of the dead-letter queue to empty.
    #[arg(long)]
    from: String,
    /// URL of the queue to send the messages to.
    #[arg(long)]
    to: String,
    /// Move at most this many messages.
    #[arg(long)]
    max: Option<usize>,
    /// List the messages (ids, receive counts, payment ids) without moving them.
    #[arg(long)]
    dry_run: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.from == args.to {
        eprintln!("redrive: --from and --to are the same queue");
        return ExitCode::from(2);
    }
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let options = RedriveOptions {
        from: args.from,
        to: args.to,
        max: args.max,
        dry_run: args.dry_run,
    };
    let report = match redrive(&client, &options).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("redrive: {e:#}");
            return ExitCode::from(2);
        }
    };
    if options.dry_run {
        for m in &report.listed {
            println!(
                "{} receives={} payment_id={}",
                m.message_id,
                m.receive_count,
                m.payment_id.as_deref().unwrap_or("-")
            );
        }
        println!(
            "dry run: {} message(s) in {}, none moved",
            report.listed.len(),
            options.from
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "moved {} message(s) from {} to {}; {} failed (still in the DLQ); {} sent but not deleted \
         (they will be delivered twice)",
        report.moved, options.from, options.to, report.failed, report.not_deleted
    );
    if report.failed > 0 || report.not_deleted > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
