//! The `log-forwarder` function's logic: posts the entries of a log-queue batch to the log
//! service and reports the undelivered ones, which SQS redelivers (after a backoff, see
//! [`forward_batch_with_backoff`], else after the visibility timeout) and, after the last
//! receive, keeps in the dead-letter queue.

use super::client::{LogServiceClient, NotDelivered};
use super::entry::LogEntry;
use crate::sqs_batch::process_batch;
use crate::stream::Redelivery;
use crate::telemetry::record::{self, LogDeliveryFailure};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("the message has no body")]
    NoBody,
    /// Never silently dropped: reported failed, it ends in the dead-letter queue for a person
    /// to look at.
    #[error("the message body is not a log entry")]
    Unparseable(#[source] serde_json::Error),
    #[error(transparent)]
    NotDelivered(#[from] NotDelivered),
}

/// Forwards every entry of the batch concurrently; returns the ids of those not delivered.
pub async fn forward_batch(client: &LogServiceClient, event: SqsEvent) -> SqsBatchResponse {
    process_batch(event, |message| forward_one(client, message)).await
}

/// As [`forward_batch`], and each undelivered entry comes back after an exponential backoff
/// (its visibility set through `redelivery`) instead of the queue's whole visibility timeout,
/// so that a short outage of the log service delays entries by seconds, not minutes.
pub async fn forward_batch_with_backoff(
    client: &LogServiceClient,
    redelivery: &Redelivery,
    event: SqsEvent,
) -> SqsBatchResponse {
    process_batch(event, |message| async move {
        let result = forward_one(client, message.clone()).await;
        if result.is_err() {
            redelivery.delay(&message, true).await;
        }
        result
    })
    .await
}

async fn forward_one(client: &LogServiceClient, message: SqsMessage) -> Result<(), ForwardError> {
    let result = deliver(client, message).await;
    if let Err(err) = &result {
        record::log_delivery_failed(match err {
            ForwardError::NoBody | ForwardError::Unparseable(_) => LogDeliveryFailure::Unreadable,
            ForwardError::NotDelivered(NotDelivered::Refused { .. }) => LogDeliveryFailure::Refused,
            ForwardError::NotDelivered(NotDelivered::Unreachable(_)) => {
                LogDeliveryFailure::Unreachable
            }
        });
    }
    result
}

async fn deliver(client: &LogServiceClient, message: SqsMessage) -> Result<(), ForwardError> {
    let body = message.body.ok_or(ForwardError::NoBody)?;
    let entry: LogEntry = serde_json::from_str(&body).map_err(ForwardError::Unparseable)?;
    client.send(&entry).await?;
    Ok(())
}
