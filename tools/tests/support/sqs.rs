//! Helpers for the tests against the local SQS (moto server): `PAYRAIL_SQS_ENDPOINT`, which
//! `make test` exports. Without it the tests are skipped with a note, unless
//! `PAYRAIL_REQUIRE_EMULATORS` is set (as `make test` does), where its absence fails them.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;

pub type TestResult = anyhow::Result<()>;

pub const ENDPOINT_VAR: &str = "PAYRAIL_SQS_ENDPOINT";
pub const REGION: &str = "eu-west-1";

/// The endpoint, or None (with a note) when the test is to be skipped.
pub fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            assert!(
                std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
                "{ENDPOINT_VAR} must be set: run the tests through `make test`"
            );
            eprintln!("note: {ENDPOINT_VAR} is not set; skipping this SQS test");
            None
        }
    }
}

/// An SQS client for `endpoint` with dummy credentials.
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

/// A prefix no other test uses, so that tests running at once have their own queues.
pub fn fresh_prefix(what: &str) -> String {
    format!(
        "{what}-{}-",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Messages in the queue, visible and in flight.
pub async fn depth(client: &Client, url: &str) -> anyhow::Result<(u64, u64)> {
    let output = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let read = |name: QueueAttributeName| -> u64 {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    };
    Ok((
        read(QueueAttributeName::ApproximateNumberOfMessages),
        read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// Awaits `condition` (checked every 50 ms) for at most `timeout`; an error names `what`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F) -> TestResult
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
