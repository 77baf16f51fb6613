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

/// One `SdkConfig` per process; the standard variables (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...) point it at AWS or at the local emulators.
pub async fn aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
