//! Sending to an SQS queue (the `online` payment queue): a trait so that handlers can be unit
//! tested, and its SQS implementation.

use std::future::Future;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("could not send to the queue: {0}")]
pub struct SendError(pub String);

pub trait SendMessage: Send + Sync {
    fn send(&self, body: String) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Sending a message that becomes visible only after `delay` (SQS `DelaySeconds`, at most
/// 15 minutes): a safety net that must not race the work it backs up.
pub trait SendDelayed: Send + Sync {
    fn send_delayed(
        &self,
        body: String,
        delay: Duration,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

impl SendMessage for SqsQueue {
    async fn send(&self, body: String) -> Result<(), SendError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SendError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))
    }
}

impl SendDelayed for SqsQueue {
    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), SendError> {
        let seconds = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SendError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))
    }
}
