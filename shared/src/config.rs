//! Configuration read once per cold start, and the AWS SDK configuration every client shares.

use aws_config::{BehaviorVersion, SdkConfig};

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

/// One `SdkConfig` per process; the standard variables (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...) point it at AWS or at the local emulators.
pub async fn aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
