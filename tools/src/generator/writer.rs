//! Writing the payments (BatchWriteItem, 25 at a time, `concurrency` requests in flight) and
//! their aggregate counters (UpdateItem `ADD`, once the payments they count are stored).

use super::data::payments;
use super::{
    GenerateError, GenerateOptions, GenerateReport, Progress, RetryPolicy, UncertainCount,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use payrail_shared::domain::{CardType, Country, Day, Payment};
use payrail_shared::store::PaymentItem;
use payrail_shared::store::aggregates::{AggregateDelta, AggregateUpdate};
use payrail_shared::store::keys;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// BatchWriteItem's limit.
const BATCH_SIZE: usize = 25;

type Deltas = BTreeMap<(CardType, Day), AggregateDelta>;

/// What one payment adds to the counters, and the key that finds it among unprocessed items.
struct Counted {
    pk: String,
    card_type: CardType,
    day: Day,
    country: Country,
}

struct Batch {
    requests: Vec<WriteRequest>,
    counted: Vec<Counted>,
}

struct BatchOutcome {
    /// The payments known to be stored.
    written: Vec<Counted>,
    /// Why the rest was not, and how many of the rest may be stored anyway.
    failure: Option<(String, usize)>,
}

pub(super) async fn run(
    client: &Client,
    table: &str,
    options: &GenerateOptions,
    progress: &impl Progress,
) -> Result<GenerateReport, GenerateError> {
    let started = Instant::now();
    let shared_table: Arc<str> = Arc::from(table);
    let concurrency = options.concurrency.max(1);
    let flush_every = options.flush_every.max(1);
    let mut source = payments(
        options.seed,
        options.count,
        options.days,
        options.now,
        options.fingerprint_key.clone(),
    );
    let mut in_flight: JoinSet<BatchOutcome> = JoinSet::new();
    let mut deltas = Deltas::new();
    let (mut written, mut unflushed, mut updates) = (0u64, 0u64, 0u64);
    let mut write_failure: Option<(String, usize)> = None;
    let mut item_error: Option<GenerateError> = None;
    let mut aggregate_failure: Option<(String, Vec<UncertainCount>)> = None;
    let mut source_done = false;
    let mut interrupted = false;

    loop {
        while !source_done && in_flight.len() < concurrency {
            if write_failure.is_some() || item_error.is_some() || aggregate_failure.is_some() {
                source_done = true;
            } else if options
                .stop
                .as_ref()
                .is_some_and(|stop| stop.load(Ordering::Relaxed))
            {
                interrupted = true;
                source_done = true;
            } else {
                match next_batch(&mut source) {
                    Ok(Some(batch)) => {
                        in_flight.spawn(write_batch(
                            client.clone(),
                            shared_table.clone(),
                            batch,
                            options.retry,
                        ));
                    }
                    Ok(None) => source_done = true,
                    Err(e) => {
                        item_error = Some(e);
                        source_done = true;
                    }
                }
            }
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let outcome = joined.unwrap_or_else(|e| BatchOutcome {
            written: Vec::new(),
            failure: Some((format!("a write task ended abnormally: {e}"), BATCH_SIZE)),
        });
        let stored = outcome.written.len() as u64;
        written += stored;
        unflushed += stored;
        for counted in outcome.written {
            deltas
                .entry((counted.card_type, counted.day))
                .or_default()
                .add(counted.country);
        }
        if let Some(failure) = outcome.failure {
            write_failure.get_or_insert(failure);
        }
        progress.written(written);
        if unflushed >= flush_every {
            updates += flush(
                client,
                table,
                &mut deltas,
                concurrency,
                options.retry,
                &mut aggregate_failure,
            )
            .await;
            unflushed = 0;
            progress.flushed(updates);
        }
    }
    if !deltas.is_empty() {
        updates += flush(
            client,
            table,
            &mut deltas,
            concurrency,
            options.retry,
            &mut aggregate_failure,
        )
        .await;
        progress.flushed(updates);
    }

    if let Some((cause, uncertain)) = aggregate_failure {
        let write_error = write_failure.map(|(cause, _)| cause);
        return Err(GenerateError::Aggregates {
            cause,
            items_written: written,
            uncertain,
            write_error,
        });
    }
    if let Some((cause, possibly_uncounted)) = write_failure {
        return Err(GenerateError::Write {
            cause,
            items_written: written,
            possibly_uncounted,
        });
    }
    if let Some(error) = item_error {
        return Err(error);
    }
    Ok(GenerateReport {
        items_written: written,
        aggregate_updates: updates,
        elapsed: started.elapsed(),
        interrupted,
    })
}

/// The next (up to) 25 payments as put requests; `None` when there are no more.
fn next_batch(source: &mut impl Iterator<Item = Payment>) -> Result<Option<Batch>, GenerateError> {
    let mut batch = Batch {
        requests: Vec::with_capacity(BATCH_SIZE),
        counted: Vec::with_capacity(BATCH_SIZE),
    };
    for payment in source.by_ref().take(BATCH_SIZE) {
        let counted = Counted {
            pk: keys::payment_pk(&payment.id),
            card_type: payment.card_type,
            day: payment.created_at.day(),
            country: payment.country,
        };
        let item = serde_dynamo::to_item(PaymentItem::of(payment))
            .map_err(|e| GenerateError::Item(e.to_string()))?;
        let put = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(|e| GenerateError::Item(e.to_string()))?;
        batch
            .requests
            .push(WriteRequest::builder().put_request(put).build());
        batch.counted.push(counted);
    }
    Ok((!batch.requests.is_empty()).then_some(batch))
}

/// Writes one batch, retrying UnprocessedItems and transient errors with backoff. Puts are
/// idempotent (same key, same item), so any retry is safe.
async fn write_batch(
    client: Client,
    table: Arc<str>,
    batch: Batch,
    retry: RetryPolicy,
) -> BatchOutcome {
    let Batch {
        requests: mut pending,
        counted,
    } = batch;
    let mut failures = 0u32;
    // Whether an attempt may have stored items without our knowing (timeout, 5xx, ...).
    let mut outcome_unknown = false;
    let failure = loop {
        let result = client
            .batch_write_item()
            .request_items(table.as_ref(), pending.clone())
            .customize()
            .config_override(operation_config(&retry))
            .send()
            .await;
        match result {
            Ok(output) => {
                let unprocessed = output
                    .unprocessed_items
                    .and_then(|mut by_table| by_table.remove(table.as_ref()))
                    .unwrap_or_default();
                if unprocessed.is_empty() {
                    pending.clear();
                    break None;
                }
                if unprocessed.len() < pending.len() {
                    failures = 0; // progress: only attempts without any count against the limit
                }
                failures += 1;
                pending = unprocessed;
                if failures >= retry.max_attempts {
                    break Some(format!(
                        "{} items still unprocessed after {failures} attempts (the table keeps throttling)",
                        pending.len()
                    ));
                }
            }
            Err(err) => {
                failures += 1;
                let kind = classify(&err);
                outcome_unknown |= kind == Failure::Unknown;
                let text = error_text(&err, &table);
                if kind == Failure::Fatal {
                    break Some(text);
                }
                if failures >= retry.max_attempts {
                    break Some(format!("{text} (gave up after {failures} attempts)"));
                }
            }
        }
        tokio::time::sleep(backoff(&retry, failures)).await;
    };
    let not_stored: HashSet<&str> = pending.iter().filter_map(pk_of).collect();
    let possibly_uncounted = if outcome_unknown { not_stored.len() } else { 0 };
    let written = counted
        .into_iter()
        .filter(|c| !not_stored.contains(c.pk.as_str()))
        .collect();
    BatchOutcome {
        written,
        failure: failure.map(|f| (f, possibly_uncounted)),
    }
}

fn pk_of(request: &WriteRequest) -> Option<&str> {
    request
        .put_request()?
        .item()
        .get(keys::attr::PK)?
        .as_s()
        .ok()
        .map(String::as_str)
}

/// Applies and empties `deltas`: one UpdateItem `ADD` per (card type, day), `concurrency` at a
/// time. Returns the updates made; records those that failed in `failure`.
async fn flush(
    client: &Client,
    table: &str,
    deltas: &mut Deltas,
    concurrency: usize,
    retry: RetryPolicy,
    failure: &mut Option<(String, Vec<UncertainCount>)>,
) -> u64 {
    let results: Vec<Result<(), (UncertainCount, String)>> = stream::iter(std::mem::take(deltas))
        .map(|((card_type, day), delta)| async move {
            add_to_aggregate(client, table, card_type, day, &delta, retry)
                .await
                .map_err(|e| {
                    (
                        UncertainCount {
                            card_type,
                            day,
                            count: delta.total,
                        },
                        e,
                    )
                })
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut applied = 0;
    for result in results {
        match result {
            Ok(()) => applied += 1,
            Err((uncertain, cause)) => {
                let (_, list) = failure.get_or_insert_with(|| (cause, Vec::new()));
                list.push(uncertain);
            }
        }
    }
    applied
}

/// One `ADD` to an aggregate item. Not idempotent: retried only after errors that guarantee it
/// was not applied.
async fn add_to_aggregate(
    client: &Client,
    table: &str,
    card_type: CardType,
    day: Day,
    delta: &AggregateDelta,
    retry: RetryPolicy,
) -> Result<(), String> {
    let mut failures = 0u32;
    loop {
        // One writer applies its deltas one at a time: nothing to spread, shard 0 (a count
        // sums every shard of the day).
        let update = AggregateUpdate::new(card_type, day, 0, delta);
        let result = client
            .update_item()
            .table_name(table)
            .set_key(Some(update.key))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .customize()
            .config_override(operation_config(&retry))
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        failures += 1;
        if classify(&err) != Failure::Rejected || failures >= retry.max_attempts {
            return Err(format!("{card_type} {day}: {}", error_text(&err, table)));
        }
        tokio::time::sleep(backoff(&retry, failures)).await;
    }
}

/// Our own retries replace the SDK's (which would also retry the non-idempotent `ADD` after
/// a timeout); every attempt gets a time limit.
fn operation_config(retry: &RetryPolicy) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(retry.attempt_timeout)
                .build(),
        )
}

/// Full jitter: a random sleep up to `min(max_delay, base × 2^failures)`.
fn backoff(retry: &RetryPolicy, failures: u32) -> Duration {
    let ceiling = retry
        .base_delay
        .saturating_mul(1u32 << failures.min(20))
        .min(retry.max_delay);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(0..=ms))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Refused before doing anything (throttling, a transaction in the way): retry anything.
    Rejected,
    /// Transient, but the request may have been carried out: retry only idempotent requests.
    Unknown,
    /// Retrying would not help.
    Fatal,
}

/// Error codes DynamoDB returns for requests it refused without carrying them out.
const REJECTED_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
];

fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    match err {
        SdkError::ServiceError(context) => {
            if context
                .err()
                .code()
                .is_some_and(|code| REJECTED_CODES.contains(&code))
            {
                Failure::Rejected
            } else if context.raw().status().is_server_error() {
                Failure::Unknown
            } else {
                Failure::Fatal
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure::Unknown,
        SdkError::DispatchFailure(dispatch) if dispatch.is_io() || dispatch.is_timeout() => {
            Failure::Unknown
        }
        _ => Failure::Fatal,
    }
}

fn error_text<E>(err: &SdkError<E, HttpResponse>, table: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error() {
        Some(service) if service.code() == Some("ResourceNotFoundException") => {
            format!(
                "table `{table}` does not exist at this endpoint ({})",
                service.message().unwrap_or_default()
            )
        }
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or_default()
        ),
        None => error_chain(err),
    }
}

/// An error and its sources, `: `-separated, without the debug dump the SDK's
/// `DisplayErrorContext` appends.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let retry = RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        for failures in 0..40 {
            let ceiling = Duration::from_millis(10 * (1u64 << failures.min(20)))
                .min(Duration::from_millis(300));
            for _ in 0..20 {
                assert!(backoff(&retry, failures) <= ceiling);
            }
        }
    }

    #[test]
    fn batches_hold_at_most_25_payments_and_count_each_once() -> Result<(), GenerateError> {
        let now = payrail_shared::domain::Timestamp::from_millis(1_717_243_200_000);
        let key = payrail_shared::domain::FingerprintKey::new(b"k".to_vec());
        let mut source = payments(1, 60, 30, now, Some(key));
        let mut sizes = Vec::new();
        while let Some(batch) = next_batch(&mut source)? {
            assert_eq!(batch.requests.len(), batch.counted.len());
            let pks: HashSet<&str> = batch.requests.iter().filter_map(pk_of).collect();
            assert!(batch.counted.iter().all(|c| pks.contains(c.pk.as_str())));
            sizes.push(batch.requests.len());
        }
        assert_eq!(sizes, vec![25, 25, 10]);
        Ok(())
    }

    /// A stand-in for DynamoDB that misbehaves on purpose: throttles, leaves items unprocessed,
    /// answers 500 after storing. It keeps the set of stored payment keys and the sum of the
    /// `ADD :n` it applied, so that the tests can compare counters with items.
    mod flaky_dynamodb {
        use super::super::super::{GenerateError, GenerateOptions, RetryPolicy};
        use super::super::run;
        use axum::Router;
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode};
        use payrail_shared::domain::{FingerprintKey, Timestamp};
        use serde_json::{Value, json};
        use std::collections::{HashMap, HashSet};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;

        const TABLE: &str = "flaky";

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Mode {
            /// Per distinct request (the same items again count as the same request), attempt 1
            /// is throttled; attempt 2 stores half and leaves the rest unprocessed (a lone item:
            /// stores it but answers 500); later attempts succeed. UpdateItems: every other
            /// attempt on an aggregate item is throttled.
            Flaky,
            /// Every BatchWriteItem leaves every item unprocessed.
            AlwaysUnprocessed,
            /// Every UpdateItem fails with a 500 (after which its outcome is unknown).
            UpdatesFail,
        }

        struct Fake {
            mode: Mode,
            batch_calls: u32,
            update_calls: u32,
            stored: HashSet<String>,
            counted: u64,
            /// Attempts per request, keyed by the request's payment keys or aggregate key.
            attempts: HashMap<String, u32>,
        }

        type Reply = (StatusCode, [(&'static str, &'static str); 1], String);

        fn reply(status: StatusCode, body: Value) -> Reply {
            (
                status,
                [("content-type", "application/x-amz-json-1.0")],
                body.to_string(),
            )
        }

        fn error(status: StatusCode, kind: &str) -> Reply {
            reply(
                status,
                json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "on purpose"}),
            )
        }

        fn store(fake: &mut Fake, requests: &[Value]) {
            for request in requests {
                if let Some(pk) = request["PutRequest"]["Item"]["pk"]["S"].as_str() {
                    fake.stored.insert(pk.to_owned());
                }
            }
        }

        async fn handle(
            State(state): State<Arc<Mutex<Fake>>>,
            headers: HeaderMap,
            body: String,
        ) -> Reply {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let request: Value = serde_json::from_str(&body).unwrap_or_default();
            let Ok(mut fake) = state.lock() else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "Poisoned");
            };
            if target.ends_with(".BatchWriteItem") {
                fake.batch_calls += 1;
                let requests = request["RequestItems"][TABLE]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let unprocessed = |items: &[Value]| json!({"UnprocessedItems": {TABLE: items}});
                let mut pks: Vec<&str> = requests
                    .iter()
                    .filter_map(|r| r["PutRequest"]["Item"]["pk"]["S"].as_str())
                    .collect();
                pks.sort_unstable();
                let attempt = {
                    let count = fake.attempts.entry(pks.join(",")).or_default();
                    *count += 1;
                    *count
                };
                match (fake.mode, attempt) {
                    (Mode::AlwaysUnprocessed, _) => reply(StatusCode::OK, unprocessed(&requests)),
                    (Mode::Flaky, 1) => error(
                        StatusCode::BAD_REQUEST,
                        "ProvisionedThroughputExceededException",
                    ),
                    (Mode::Flaky, 2) if requests.len() > 1 => {
                        let (done, rest) = requests.split_at(requests.len() / 2);
                        store(&mut fake, done);
                        reply(StatusCode::OK, unprocessed(rest))
                    }
                    (Mode::Flaky, 2) => {
                        store(&mut fake, &requests);
                        error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
                    }
                    _ => {
                        store(&mut fake, &requests);
                        reply(StatusCode::OK, json!({"UnprocessedItems": {}}))
                    }
                }
            } else if target.ends_with(".UpdateItem") {
                fake.update_calls += 1;
                let key = format!(
                    "{}|{}",
                    request["Key"]["pk"]["S"], request["Key"]["sk"]["S"]
                );
                let attempt = {
                    let count = fake.attempts.entry(key).or_default();
                    *count += 1;
                    *count
                };
                match fake.mode {
                    Mode::UpdatesFail => {
                        error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
                    }
                    Mode::Flaky if attempt % 2 == 1 => {
                        error(StatusCode::BAD_REQUEST, "ThrottlingException")
                    }
                    _ => {
                        let n = request["ExpressionAttributeValues"][":n"]["N"]
                            .as_str()
                            .and_then(|n| n.parse::<u64>().ok());
                        fake.counted += n.unwrap_or_default();
                        reply(StatusCode::OK, json!({}))
                    }
                }
            } else {
                error(StatusCode::BAD_REQUEST, "UnknownOperationException")
            }
        }

        async fn start(
            mode: Mode,
        ) -> Result<(aws_sdk_dynamodb::Client, Arc<Mutex<Fake>>), Box<dyn std::error::Error>>
        {
            let state = Arc::new(Mutex::new(Fake {
                mode,
                batch_calls: 0,
                update_calls: 0,
                stored: HashSet::new(),
                counted: 0,
                attempts: HashMap::new(),
            }));
            let app = Router::new().fallback(handle).with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            tokio::spawn(async move { axum::serve(listener, app).await });
            let yaml = format!(
                "endpoint: 127.0.0.1:{port}\nregion: eu-west-1\ncredentials: {{ access_key_id: a, secret_access_key: b }}\ntable: {TABLE}\n"
            );
            let config = super::super::super::Config::parse(&yaml)?;
            Ok((super::super::super::client(&config).await, state))
        }

        fn options(count: u64) -> GenerateOptions {
            let mut options = GenerateOptions::new(Some(FingerprintKey::new(b"k".to_vec())));
            options.count = count;
            options.seed = 3;
            options.flush_every = 100;
            options.now = Timestamp::from_millis(1_717_243_200_000);
            options.retry = RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                attempt_timeout: Duration::from_secs(5),
            };
            options
        }

        #[tokio::test]
        async fn throttling_unprocessed_items_and_5xx_are_retried_and_every_item_is_counted_once()
        -> Result<(), Box<dyn std::error::Error>> {
            let (client, state) = start(Mode::Flaky).await?;
            let report = run(&client, TABLE, &options(1_000), &()).await?;
            let Ok(fake) = state.lock() else {
                return Err("poisoned".into());
            };
            assert_eq!(report.items_written, 1_000);
            assert_eq!(fake.stored.len(), 1_000, "every payment stored");
            assert_eq!(fake.counted, 1_000, "every payment counted exactly once");
            // 40 batches of 25, each throttled and split down to single items, each of which
            // is stored with a 500 answered before the retry succeeds.
            assert!(
                fake.batch_calls > 40 * 10,
                "retries: {} calls",
                fake.batch_calls
            );
            let updates = u64::from(fake.update_calls);
            assert_eq!(
                updates,
                2 * report.aggregate_updates,
                "each ADD throttled once"
            );
            Ok(())
        }

        #[tokio::test]
        async fn items_left_unprocessed_too_long_fail_the_run_without_counting_them()
        -> Result<(), Box<dyn std::error::Error>> {
            let (client, state) = start(Mode::AlwaysUnprocessed).await?;
            let result = run(&client, TABLE, &options(60), &()).await;
            let Ok(fake) = state.lock() else {
                return Err("poisoned".into());
            };
            match result {
                Err(GenerateError::Write {
                    items_written,
                    possibly_uncounted,
                    cause,
                }) => {
                    assert_eq!((items_written, possibly_uncounted), (0, 0));
                    assert!(cause.contains("unprocessed after 4 attempts"), "{cause}");
                }
                other => return Err(format!("expected a write error, got {other:?}").into()),
            }
            assert_eq!(
                (fake.stored.len(), fake.counted, fake.update_calls),
                (0, 0, 0)
            );
            Ok(())
        }

        #[tokio::test]
        async fn an_aggregate_update_of_unknown_outcome_is_reported_and_not_retried()
        -> Result<(), Box<dyn std::error::Error>> {
            let (client, state) = start(Mode::UpdatesFail).await?;
            let result = run(&client, TABLE, &options(80), &()).await;
            let Ok(fake) = state.lock() else {
                return Err("poisoned".into());
            };
            match result {
                Err(GenerateError::Aggregates {
                    items_written,
                    uncertain,
                    ..
                }) => {
                    assert_eq!(items_written, 80);
                    assert_eq!(uncertain.iter().map(|u| u.count).sum::<u64>(), 80);
                    assert_eq!(
                        fake.update_calls as usize,
                        uncertain.len(),
                        "one attempt per aggregate item"
                    );
                }
                other => return Err(format!("expected an aggregates error, got {other:?}").into()),
            }
            assert_eq!(fake.stored.len(), 80);
            Ok(())
        }
    }
}
