//! When a failed message comes back: exponential backoff through the message's visibility
//! timeout (SQS redelivers it then), and whether this delivery is the last one before the
//! dead-letter queue.

use aws_lambda_events::event::sqs::SqsMessage;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Redelivery {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// The queue's RedrivePolicy maxReceiveCount (template.yaml), read from the environment.
    pub max_receive_count: u32,
    pub base: Duration,
    pub cap: Duration,
}

/// Which delivery of its message this is (1 for the first).
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Whether the message carries the `redrive` command's mark.
pub fn redriven(message: &SqsMessage) -> bool {
    message.message_attributes.contains_key("payrail_redriven")
}

impl Redelivery {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        max_receive_count: u32,
    ) -> Self {
        Redelivery {
            sqs,
            queue_url: queue_url.into(),
            max_receive_count: max_receive_count.max(1),
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }

    pub fn is_last(&self, message: &SqsMessage) -> bool {
        receive_count(message) >= self.max_receive_count
    }

    /// The delay before delivery `attempt + 1`: base · 2^(attempt−1), at most `cap`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Sets when the message comes back: after the backoff for a transient failure, at once for
    /// one that will fail again anyway (so that it reaches the dead-letter queue quickly).
    /// Best effort: if this fails, the queue's own visibility timeout applies.
    pub async fn delay(&self, message: &SqsMessage, transient: bool) {
        let Some(handle) = message.receipt_handle.as_deref() else {
            return;
        };
        let delay = if transient {
            self.backoff(receive_count(message))
        } else {
            Duration::ZERO
        };
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
        if let Err(err) = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .send()
            .await
        {
            tracing::warn!(
                error = %aws_sdk_sqs::error::DisplayErrorContext(&err),
                "could not set the retry delay; the queue's visibility timeout applies"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let r = Redelivery::new(aws_sdk_sqs::Client::from_conf(config), "q", 5);
        let secs: Vec<u64> = (1..=8).map(|a| r.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn reads_the_receive_count_and_the_redrive_mark() {
        let mut m = SqsMessage::default();
        assert_eq!(receive_count(&m), 1);
        m.attributes
            .insert("ApproximateReceiveCount".into(), "4".into());
        assert_eq!(receive_count(&m), 4);
        assert!(!redriven(&m));
        m.message_attributes
            .insert("payrail_redriven".into(), Default::default());
        assert!(redriven(&m));
    }
}
