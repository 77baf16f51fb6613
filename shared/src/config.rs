//! Configuration read once per cold start, and the AWS SDK configuration every client shares.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is not set")]
pub struct MissingVar {
    pub name: &'static str,
}

pub fn required_env(name: &'static str) -> Result<String, MissingVar> {
    std::env::var(name).map_err(|_| MissingVar { name })
}

/// Set to `1` by the local stack (infra/local/stack.sh) and by nothing else; template.yaml never
/// declares it. It allows plain-http third-party URLs: the local gateway and log simulator
/// speaks http on 127.0.0.1.
pub const LOCAL_STACK_VAR: &str = "PAYRAIL_LOCAL_STACK";

#[derive(Debug, thiserror::Error)]
pub enum ServiceUrlError {
    #[error(transparent)]
    Missing(#[from] MissingVar),
    #[error(
        "environment variable {name} must be an https:// URL (payment data travels in its \
         requests), not a {scheme:?} one; plain http is for the local stack only \
         ({LOCAL_STACK_VAR}=1)"
    )]
    NotHttps { name: &'static str, scheme: String },
}

/// Whether this process runs in the local stack ([`LOCAL_STACK_VAR`]).
pub fn local_stack() -> bool {
    std::env::var(LOCAL_STACK_VAR).is_ok_and(|v| v == "1")
}

/// A third party's base URL (`GATEWAY_URL`, `LOG_URL`), read at cold start: required, and https
/// unless the local stack runs, so that a stage configured with an http URL fails at once
/// rather than sending card numbers in clear.
pub fn service_url(name: &'static str) -> Result<String, ServiceUrlError> {
    check_service_url(name, required_env(name)?, local_stack())
}

/// [`service_url`]'s rule on a value. The error names the scheme, not the URL (it may hold
/// credentials).
pub fn check_service_url(
    name: &'static str,
    value: String,
    local: bool,
) -> Result<String, ServiceUrlError> {
    let scheme = value
        .split_once("://")
        .map_or("", |(scheme, _)| scheme)
        .to_ascii_lowercase();
    if scheme == "https" || local {
        Ok(value)
    } else {
        Err(ServiceUrlError::NotHttps { name, scheme })
    }
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

/// The root certificates the functions' AWS calls trust: the five roots of Amazon Trust
/// Services, to which every AWS endpoint chains. Reading the system's store instead costs every
/// cold start a scan of its certificate directory (~3.5 ms of a ~6 ms init here; 292 files).
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// One `SdkConfig` per process; the standard variables (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...) point it at AWS or at the local emulators. The SDK's
/// standard retries (3 attempts, backoff) apply within the timeouts above. TLS trusts
/// [`AMAZON_TRUST_SERVICES_ROOTS`] only.
pub async fn aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(aws_https_client())
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

/// The SDK's own hyper + rustls (aws-lc) client, with the Amazon roots as its trust store.
fn aws_https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    // `build` cannot fail (it only moves the fields); the default would be the system's roots.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_url_must_be_https_outside_the_local_stack() {
        let checked = |value: &str, local| check_service_url("GATEWAY_URL", value.into(), local);
        assert!(checked("https://gateway.example.com", false).is_ok());
        assert!(checked("HTTPS://gateway.example.com/v1", false).is_ok());
        for value in [
            "http://gateway.example.com",
            "http://127.0.0.1:9090",
            "gateway.example",
            "",
        ] {
            let err = checked(value, false).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("GATEWAY_URL") && e.contains("https")),
                "{value}: {err:?}"
            );
        }
        assert!(checked("http://127.0.0.1:9090", true).is_ok());
        let err = checked("http://user:secret@gw.example", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn the_trust_store_holds_the_five_amazon_trust_services_roots() {
        assert_eq!(
            AMAZON_TRUST_SERVICES_ROOTS
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
    }

    /// The TLS configuration is built from the PEM file when a client first connects; a file it
    /// cannot parse would panic there. An HTTPS endpoint nobody listens on gets that far.
    #[tokio::test]
    async fn an_https_call_builds_its_tls_configuration_from_the_roots() -> std::io::Result<()> {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let sdk = aws().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(format!("https://{closed}"))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        let result = aws_sdk_dynamodb::Client::from_conf(config)
            .list_tables()
            .send()
            .await;
        assert!(
            matches!(
                result,
                Err(aws_sdk_dynamodb::error::SdkError::DispatchFailure(_))
            ),
            "a connection failure, not {result:?}"
        );
        Ok(())
    }
}
