//! Waiting until the stack has settled: the stream's queues empty, every payment final.

use super::Stack;
use super::observe::Item;
use super::produce::Produced;
use crate::support::api::Error;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_sqs::types::QueueAttributeName;
use payrail_shared::domain::PaymentStatus;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Messages in a queue: visible, in flight (or waiting out a retry delay), and delayed.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64, Error> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await?;
    Ok(output
        .attributes()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum())
}

async fn stream_depths(stack: &Stack) -> Result<[u64; 3], Error> {
    let q = &stack.queues;
    Ok([
        queue_depth(&stack.sqs, &q.online).await?,
        queue_depth(&stack.sqs, &q.offline).await?,
        queue_depth(&stack.sqs, &q.log).await?,
    ])
}

/// Waits until the online, offline and log queues are empty, in flight included (what an
/// earlier test left is processed before this one starts).
pub async fn wait_until_idle(stack: &Stack, deadline: Duration) -> Result<Duration, Error> {
    let clock = Instant::now();
    loop {
        let depths = stream_depths(stack).await?;
        if depths == [0, 0, 0] {
            return Ok(clock.elapsed());
        }
        if clock.elapsed() > deadline {
            return Err(format!("queues not empty after {deadline:?}: {depths:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The status of each payment (absent ones left out), read consistently, 100 per call.
pub async fn statuses(
    stack: &Stack,
    ids: &[&str],
) -> Result<HashMap<String, PaymentStatus>, Error> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(100) {
        let keys: Vec<Item> = chunk
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(format!("PAY#{id}"))),
                    ("sk".to_owned(), AttributeValue::S("PAYMENT".to_owned())),
                ])
            })
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("pk, #s")
                .expression_attribute_names("#s", "status")
                .consistent_read(true)
                .build()?,
        );
        while let Some(keys) = request.take() {
            let output = stack
                .dynamodb
                .batch_get_item()
                .request_items(&stack.transactions_table, keys)
                .send()
                .await?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(&stack.transactions_table)
                .unwrap_or_default()
            {
                let id = item.get("pk").and_then(|v| v.as_s().ok());
                let status = item.get("status").and_then(|v| v.as_s().ok());
                if let (Some(id), Some(status)) = (id, status) {
                    let status: PaymentStatus =
                        serde_json::from_value(Value::String(status.clone()))?;
                    found.insert(id.trim_start_matches("PAY#").to_owned(), status);
                }
            }
            request = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&stack.transactions_table));
        }
    }
    Ok(found)
}

pub fn is_final(status: PaymentStatus) -> bool {
    !matches!(status, PaymentStatus::Created | PaymentStatus::Pending)
}

/// How the stack settled.
#[derive(Debug)]
pub struct Settled {
    pub elapsed: Duration,
    pub polls: u32,
}

/// Polls until the stream's queues are empty, in flight included, on two polls in a row, and
/// every payment sent is final; or until the queues have stayed empty for [`SETTLE`] with some
/// payments still open (nothing will move them any more: `verify` reports them).
pub async fn wait_for_quiescence(
    stack: &Stack,
    produced: &Produced,
    deadline: Duration,
) -> Result<Settled, Error> {
    let clock = Instant::now();
    let ids: Vec<&str> = produced.ids().collect();
    let mut polls = 0;
    // Since when, and on how many polls in a row, the queues were empty.
    let mut empty: Option<(Instant, u32)> = None;
    loop {
        polls += 1;
        let depths = stream_depths(stack).await?;
        empty = match (depths == [0, 0, 0], empty) {
            (false, _) => None,
            (true, None) => Some((Instant::now(), 1)),
            (true, Some((since, n))) => Some((since, n + 1)),
        };
        if let Some((since, n)) = empty
            && n >= 2
        {
            let found = statuses(stack, &ids).await?;
            let open = ids
                .iter()
                .filter(|id| !found.get(**id).copied().is_some_and(is_final))
                .count();
            if open == 0 || since.elapsed() >= SETTLE {
                return Ok(Settled {
                    elapsed: clock.elapsed(),
                    polls,
                });
            }
        }
        if clock.elapsed() > deadline {
            return Err(format!(
                "not settled after {deadline:?}: queue depths (online, offline, log) {depths:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How long empty queues with open payments count as settled.
const SETTLE: Duration = Duration::from_secs(10);
