//! The one batch wrapper SQS consumers share: runs a handler for each message of a batch
//! concurrently, each in its own span, and returns the failed message ids so that only those
//! are redelivered (`ReportBatchItemFailures` on the trigger).

use crate::redact::scrub_card_numbers;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use std::future::Future;
use tracing::Instrument;

/// Runs `handle` over every message of `event` at once (the trigger's batch size bounds the
/// concurrency) and reports those that failed. A failure is logged at error level with its
/// cause chain (scrubbed of card numbers: a parser's error may quote the body), inside the
/// message's span. A failed message without an id is reported with an
/// empty id, which makes Lambda retry the whole batch: retrying too much is safe (handlers are
/// idempotent), losing a message is not.
pub async fn process_batch<F, Fut, E>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error,
{
    let handle = &handle;
    let runs = event.records.into_iter().map(|message| {
        let id = message.message_id.clone();
        let span = tracing::info_span!("sqs_message", message_id = id.as_deref().unwrap_or(""));
        async move {
            let result = handle(message).await;
            if let Err(err) = &result {
                let cause = scrub_card_numbers(&cause_chain(err));
                tracing::error!(cause, "message failed; SQS will redeliver it");
            }
            result.err().map(|_| id.unwrap_or_default())
        }
        .instrument(span)
    });
    let mut response = SqsBatchResponse::default();
    response.set_failures(join_all(runs).await.into_iter().flatten());
    response
}

/// `error: cause: cause …`
pub fn cause_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("odd body")]
    struct Odd;

    fn message(id: Option<&str>, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = id.map(str::to_owned);
        message.body = Some(body.to_owned());
        message
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn reports_exactly_the_failed_messages() {
        let mut event = SqsEvent::default();
        event.records = (1..=5)
            .map(|i| message(Some(&format!("m{i}")), &i.to_string()))
            .collect();
        let response = process_batch(event, |m| async move {
            match m.body.as_deref().and_then(|b| b.parse::<u32>().ok()) {
                Some(n) if n % 2 == 0 => Ok(()),
                _ => Err(Odd),
            }
        })
        .await;
        let mut failed = failed_ids(&response);
        failed.sort_unstable();
        assert_eq!(failed, ["m1", "m3", "m5"]);
    }

    #[tokio::test]
    async fn a_failed_message_without_an_id_fails_the_whole_batch() {
        let mut event = SqsEvent::default();
        event.records = vec![message(None, "x")];
        let response = process_batch(event, |_| async { Err(Odd) }).await;
        assert_eq!(failed_ids(&response), [""]);
    }
}
