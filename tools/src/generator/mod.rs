//! The transaction generator: writes random, realistic, completed payments straight into the
//! transactions table, with aggregate counters that agree with what it wrote.
//!
//! ```no_run
//! # async fn demo(client: aws_sdk_dynamodb::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use payrail_shared::domain::FingerprintKey;
//! use payrail_tools::generator::{GenerateOptions, generate};
//!
//! let mut options = GenerateOptions::new(Some(FingerprintKey::new(b"local".to_vec())));
//! options.count = 2_000;
//! options.seed = 7;
//! let report = generate(&client, "TransactionsTable", &options, ()).await?;
//! println!("{} items in {:.1} s", report.items_written, report.elapsed.as_secs_f64());
//! # Ok(()) }
//! ```
//!
//! # How the counters stay exact
//!
//! BatchWriteItem cannot carry the aggregate updates the way the API's TransactWriteItems
//! does, so the generator keeps per-(card type, day) deltas in memory (at most days × 10
//! entries) and adds a payment to them only once the batch holding it has been fully written
//! (every UnprocessedItem retried to success). The deltas are then applied with one UpdateItem
//! `ADD` per (card type, day): every [`GenerateOptions::flush_every`] items written, when the
//! run ends, when it is stopped through [`GenerateOptions::stop`] (the command line does that
//! on Ctrl-C: it stops starting batches, waits for the ones in flight, then flushes), and
//! when it fails. Payment puts are idempotent, so they are retried after any transient error;
//! an `ADD` is not, so it is retried only after errors that guarantee it was not applied
//! (throttling and transaction conflicts), and the SDK's own retries are turned off for both.
//!
//! What can still leave the counters short of the items written:
//! - the process dies without running its shutdown (SIGKILL, crash, power loss): the deltas of
//!   the items written since the last flush are lost, at most `flush_every` + 25 items, plus the
//!   items already stored from batches still in flight (at most 25 × `concurrency`);
//! - a batch fails for good after a transient error (timeout, connection lost, 5xx) whose
//!   request DynamoDB may have carried out anyway: up to 25 items may be stored uncounted, and
//!   the run stops there ([`GenerateError::Write`] says how many);
//! - an `ADD` fails in a way that leaves its outcome unknown (timeout, connection lost, 5xx):
//!   it is not retried, so that nothing is counted twice, and [`GenerateError::Aggregates`]
//!   lists the (card type, day, count) that may be missing.
//!
//! In all these cases the counters are never higher than the items stored.

pub mod config;
pub(crate) mod data;
mod writer;

pub use config::{Config, ConfigError, CredentialSource, client, sdk_config};
pub use data::payments;
pub use writer::error_chain;

use aws_sdk_dynamodb::Client;
use payrail_shared::domain::{CardType, Clock, Day, FingerprintKey, SystemClock, Timestamp};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// What to generate and how hard to push.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Payments to write.
    pub count: u64,
    /// `created_at` is spread over the `days` days before `now`.
    pub days: u32,
    /// Everything but the payment ids derives from it.
    pub seed: u64,
    /// BatchWriteItem requests in flight at once (and UpdateItems during a flush).
    pub concurrency: usize,
    /// Apply the aggregate deltas after this many items have been written since the last flush.
    pub flush_every: u64,
    /// The end of the window; taken once, so that no payment is in the future.
    pub now: Timestamp,
    /// Keys the card fingerprints: the functions' own key (derived from `CARD_DATA_KEY`), or
    /// none, and then cards carry no fingerprint.
    pub fingerprint_key: Option<FingerprintKey>,
    pub retry: RetryPolicy,
    /// Set it to stop cleanly: no new batches, the ones in flight finish, the counters are
    /// flushed, and the report says `interrupted`.
    pub stop: Option<Arc<AtomicBool>>,
}

impl GenerateOptions {
    /// The command line's defaults: 20 000 payments over 90 days, seed 0, 8 requests in flight,
    /// a flush every 5 000 items, `now` from the system clock.
    pub fn new(fingerprint_key: Option<FingerprintKey>) -> Self {
        GenerateOptions {
            count: 20_000,
            days: 90,
            seed: 0,
            concurrency: 8,
            flush_every: 5_000,
            now: SystemClock.now(),
            fingerprint_key,
            retry: RetryPolicy::default(),
            stop: None,
        }
    }
}

/// Exponential backoff with full jitter: before retry n, sleep a random time in
/// `0..=min(max_delay, base × 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request without progress (a BatchWriteItem that gets some items through
    /// starts counting again); then the run fails.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Per attempt; an attempt that takes longer counts as a transient failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateReport {
    /// Payments stored and counted in the aggregates.
    pub items_written: u64,
    /// UpdateItem calls made on aggregate items.
    pub aggregate_updates: u64,
    pub elapsed: Duration,
    /// True when the run was stopped through [`GenerateOptions::stop`] before the end.
    pub interrupted: bool,
}

impl GenerateReport {
    pub fn items_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.items_written as f64 / seconds
        } else {
            0.0
        }
    }
}

/// One aggregate item whose update may not have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncertainCount {
    pub card_type: CardType,
    pub day: Day,
    pub count: u64,
}

/// Why a run failed. Every variant says how many items were written (and counted) before.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "writing payments failed: {cause}; {items_written} items were written and counted before the run stopped{}",
        uncounted_note(*.possibly_uncounted)
    )]
    Write {
        cause: String,
        items_written: u64,
        possibly_uncounted: usize,
    },
    #[error(
        "updating the aggregate counters failed: {cause}; {items_written} items were written, and the counters of {} (card type, day) items may be short: {}",
        .uncertain.len(),
        describe(.uncertain)
    )]
    Aggregates {
        cause: String,
        items_written: u64,
        uncertain: Vec<UncertainCount>,
        write_error: Option<String>,
    },
    #[error("a payment could not be turned into a DynamoDB item: {0}")]
    Item(String),
}

fn uncounted_note(possibly_uncounted: usize) -> String {
    if possibly_uncounted == 0 {
        String::new()
    } else {
        format!(
            " (up to {possibly_uncounted} more items of the failed batch may be stored without being counted)"
        )
    }
}

fn describe(uncertain: &[UncertainCount]) -> String {
    let shown: Vec<String> = uncertain
        .iter()
        .take(10)
        .map(|u| format!("{} {} +{}", u.card_type, u.day, u.count))
        .collect();
    let more = uncertain.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Told about the run as it goes; `()` ignores everything.
pub trait Progress {
    /// `items_written` payments are now stored (called after every batch).
    fn written(&self, _items_written: u64) {}
    /// The counters now include every item written so far; `aggregate_updates` in total.
    fn flushed(&self, _aggregate_updates: u64) {}
}

impl Progress for () {}

impl<P: Progress + ?Sized> Progress for &P {
    fn written(&self, items_written: u64) {
        (**self).written(items_written);
    }
    fn flushed(&self, aggregate_updates: u64) {
        (**self).flushed(aggregate_updates);
    }
}

/// Writes `options.count` generated payments into `table` and their aggregate counters; see
/// the module documentation for how the counters stay exact.
pub async fn generate(
    client: &Client,
    table: &str,
    options: &GenerateOptions,
    progress: impl Progress,
) -> Result<GenerateReport, GenerateError> {
    writer::run(client, table, options, &progress).await
}
