//! Configuration read once per cold start, and the AWS SDK configuration every client shares.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is not set")]
pub struct MissingVar {
    pub name: &'static str,
}

pub fn required_env(name: &'static str) -> Result<String, MissingVar> {
    std::env::var(name).map_err(|_| MissingVar { name })
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} must be an integer from {min} to {max}, not {value:?}")]
pub struct BadNumber {
    pub name: &'static str,
    pub value: String,
    pub min: u64,
    pub max: u64,
}

/// An integer setting with a default, refused at cold start when out of range.
pub fn env_u64(name: &'static str, default: u64, min: u64, max: u64) -> Result<u64, BadNumber> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or(BadNumber {
                name,
                value,
                min,
                max,
            }),
    }
}

/// Longest one attempt of an AWS call may take (DynamoDB and SQS answer in milliseconds): a
/// hung connection costs a retry, not the request.
pub const AWS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// Longest an AWS call may take, its retries included: below the API functions' 10 s timeout,
/// so that a handler whose dependency hangs still answers (503) well within API Gateway's 30 s.
pub const AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(9);

/// One `SdkConfig` per process; the standard variables (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...) point it at AWS or at the local emulators. The SDK's
/// standard retries (3 attempts, backoff) apply within the timeouts above.
pub async fn aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
                .operation_timeout(AWS_OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}
