//! Where payment code reports an error: a structured log line at once, and the entry queued
//! for the log service.

use super::entry::LogEntry;
use crate::config::{MissingVar, required_env};
use crate::telemetry::record::{self, LogDeliveryFailure};
use futures::future::BoxFuture;
use std::sync::{Mutex, PoisonError};

/// Reports an error. Never fails the caller: reporting is best effort on top of the payment's
/// own record, and every implementation keeps a trace of what it could not deliver.
pub trait ErrorReporter: Send + Sync {
    fn report(&self, entry: LogEntry) -> BoxFuture<'_, ()>;
}

/// Writes the entry as one structured `tracing` event at error level, so the error is kept
/// (in CloudWatch Logs) whatever happens to the queue.
fn log_event(entry: &LogEntry) {
    tracing::error!(
        payment_id = entry.payment_id().map(|id| id.to_string()),
        error_type = %entry.error_type(),
        error_description = entry.error_description(),
        "payment error"
    );
}

/// The reporter of a deployed function: the log queue (`LOG_QUEUE_URL`) on SQS.
#[derive(Debug, Clone)]
pub struct SqsErrorReporter {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsErrorReporter {
    /// The environment variable naming the log queue.
    pub const QUEUE_URL_VAR: &str = "LOG_QUEUE_URL";

    /// Longest a report may hold up the caller (the SDK's retries included): an SQS outage
    /// costs a payment a few seconds at most, and the log line above keeps the error.
    pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

    /// A reporter sending to `queue_url` with the given client (built once per cold start from
    /// the shared `SdkConfig`; tests point it at an emulator).
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsErrorReporter {
            sqs,
            queue_url: queue_url.into(),
        }
    }

    /// A reporter for the queue `LOG_QUEUE_URL` names, with a client on the shared `SdkConfig`
    /// (`AWS_ENDPOINT_URL_SQS` points it at the local emulator).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, MissingVar> {
        Ok(Self::new(
            aws_sdk_sqs::Client::new(sdk),
            required_env(Self::QUEUE_URL_VAR)?,
        ))
    }
}

impl ErrorReporter for SqsErrorReporter {
    fn report(&self, entry: LogEntry) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            log_event(&entry);
            let body = match serde_json::to_string(&entry) {
                Ok(body) => body,
                Err(err) => {
                    tracing::error!(cause = %err, "error report could not be serialized");
                    return;
                }
            };
            let send = self
                .sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send();
            let cause = match tokio::time::timeout(Self::SEND_TIMEOUT, send).await {
                Ok(Ok(_)) => return,
                Ok(Err(err)) => aws_sdk_sqs::error::DisplayErrorContext(&err).to_string(),
                Err(_) => format!("no answer within {} ms", Self::SEND_TIMEOUT.as_millis()),
            };
            record::log_delivery_failed(LogDeliveryFailure::NotQueued);
            tracing::error!(
                payment_id = entry.payment_id().map(|id| id.to_string()),
                error_type = %entry.error_type(),
                error_description = entry.error_description(),
                cause,
                "error report could not be queued for the log service"
            );
        })
    }
}

/// Collects entries in memory, for unit tests of code that reports errors.
#[derive(Debug, Default)]
pub struct MemoryReporter {
    entries: Mutex<Vec<LogEntry>>,
}

impl MemoryReporter {
    pub fn new() -> Self {
        MemoryReporter::default()
    }

    /// Every entry reported so far, in order.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ErrorReporter for MemoryReporter {
    fn report(&self, entry: LogEntry) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            log_event(&entry);
            self.entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(entry);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::PaymentId;
    use crate::logservice::ErrorType;

    async fn fail_a_payment(reporter: &dyn ErrorReporter, id: PaymentId) {
        reporter
            .report(LogEntry::new(Some(id), ErrorType::Database, "write failed"))
            .await;
    }

    #[tokio::test]
    async fn payment_code_can_take_any_reporter_behind_a_reference() {
        let reporter = MemoryReporter::new();
        let id = PaymentId::new();
        fail_a_payment(&reporter, id).await;
        let entries = reporter.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries.first().and_then(LogEntry::payment_id), Some(id));
    }

    #[tokio::test]
    async fn an_unreachable_queue_fails_nothing() {
        // Nothing listens on port 9: the send fails, is logged, and report still returns.
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        let reporter = SqsErrorReporter::new(
            aws_sdk_sqs::Client::from_conf(config),
            "http://127.0.0.1:9/000000000000/log",
        );
        fail_a_payment(&reporter, PaymentId::new()).await;
    }
}
