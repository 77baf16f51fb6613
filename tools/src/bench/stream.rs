//! End-to-end stream throughput: online payments sent straight into the online queue, as an
//! upstream producer sends them, timed until every one of them is final in the table. What runs
//! in between (the SQS event-source emulation, the validator under the Lambda Runtime API, the
//! gateway simulator with its latency, the local DynamoDB) is whatever the caller started.

use super::BenchResult;
use crate::generator::data::card_number;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use payrail_shared::domain::{CardType, PaymentId};
use payrail_shared::store::keys::{PAYMENT_SK, attr, payment_pk};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How one run went.
#[derive(Debug)]
pub struct StreamRun {
    pub payments: usize,
    pub elapsed: Duration,
    /// Final payments by status.
    pub statuses: BTreeMap<String, usize>,
}

impl StreamRun {
    pub fn per_second(&self) -> f64 {
        self.payments as f64 / self.elapsed.as_secs_f64()
    }
}

/// Where the run sends and where it looks.
pub struct StreamTarget<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub queue_url: &'a str,
    pub table: &'a str,
    /// Gives up after this long.
    pub deadline: Duration,
}

/// Sends `count` online payments (accounts 1..=500, Luhn-valid cards of every brand, in clear as
/// the upstream producers send them) and waits until all are final.
pub async fn stream_throughput(
    target: &StreamTarget<'_>,
    count: usize,
    seed: u64,
) -> BenchResult<StreamRun> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let brands = [CardType::Visa, CardType::Mastercard, CardType::Amex];
    let mut ids = Vec::with_capacity(count);
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count {
        let id = PaymentId::new();
        let number = card_number(&mut rng, brands[i % brands.len()])
            .ok_or("no card number for a card brand")?;
        bodies.push(
            json!({
                "payment_id": id.to_string(),
                "account_id": rng.random_range(1..=500u64),
                "payment_type": "online",
                "credit_card": number.expose(),
                "amount": rng.random_range(100..50_000u64),
                "currency": "EUR",
                "country": "DE",
                "vendor": "bench",
            })
            .to_string(),
        );
        ids.push(id);
    }
    let started = Instant::now();
    send_all(target, bodies).await?;
    let statuses = wait_until_final(target, &ids, started).await?;
    Ok(StreamRun {
        payments: count,
        elapsed: started.elapsed(),
        statuses,
    })
}

/// Sends in batches of ten, a few batches at a time.
async fn send_all(target: &StreamTarget<'_>, bodies: Vec<String>) -> BenchResult<()> {
    let batches: Vec<Vec<String>> = bodies.chunks(10).map(<[String]>::to_vec).collect();
    for wave in batches.chunks(8) {
        let sends = wave.iter().map(|batch| async move {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = target
                .sqs
                .send_message_batch()
                .queue_url(target.queue_url)
                .set_entries(Some(entries))
                .send()
                .await?;
            if !sent.failed().is_empty() {
                return Err(format!("{} messages were not sent", sent.failed().len()).into());
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
    }
    Ok(())
}

/// Polls the queue until it is empty (nothing visible, nothing in flight), then reads every
/// payment's status; repeats until all are final or the deadline passes.
async fn wait_until_final(
    target: &StreamTarget<'_>,
    ids: &[PaymentId],
    started: Instant,
) -> BenchResult<BTreeMap<String, usize>> {
    loop {
        if started.elapsed() > target.deadline {
            return Err(format!("not all payments final after {:?}", target.deadline).into());
        }
        if queue_depth(target).await? == 0 {
            let statuses = statuses(target, ids).await?;
            let open: usize = ["pending", "created", "missing"]
                .iter()
                .filter_map(|s| statuses.get(*s))
                .sum();
            if open == 0 {
                return Ok(statuses);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn queue_depth(target: &StreamTarget<'_>) -> BenchResult<u64> {
    let attributes = target
        .sqs
        .get_queue_attributes()
        .queue_url(target.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attributes = attributes.attributes().cloned().unwrap_or_default();
    Ok(attributes
        .values()
        .filter_map(|v| v.parse::<u64>().ok())
        .sum())
}

/// Every payment's status (`missing` when it is not in the table yet), counted.
async fn statuses(
    target: &StreamTarget<'_>,
    ids: &[PaymentId],
) -> BenchResult<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for chunk in ids.chunks(100) {
        let mut keys: Vec<_> = chunk
            .iter()
            .map(|id| {
                std::collections::HashMap::from([
                    (attr::PK.to_owned(), AttributeValue::S(payment_pk(id))),
                    (
                        attr::SK.to_owned(),
                        AttributeValue::S(PAYMENT_SK.to_owned()),
                    ),
                ])
            })
            .collect();
        let mut found = 0;
        while !keys.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("#s")
                .expression_attribute_names("#s", attr::STATUS)
                .build()?;
            let answer = target
                .dynamodb
                .batch_get_item()
                .request_items(target.table, request)
                .send()
                .await?;
            for item in answer
                .responses()
                .and_then(|r| r.get(target.table))
                .into_iter()
                .flatten()
            {
                let status = match item.get(attr::STATUS) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => "unknown".to_owned(),
                };
                *counts.entry(status).or_insert(0) += 1;
                found += 1;
            }
            keys = answer
                .unprocessed_keys()
                .and_then(|u| u.get(target.table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        let missing = chunk.len() - found;
        if missing > 0 {
            *counts.entry("missing".to_owned()).or_insert(0) += missing;
        }
    }
    Ok(counts)
}
