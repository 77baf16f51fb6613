//! What the functions tell operators, all on stdout: structured JSON logs (level from
//! RUST_LOG) and business metrics in CloudWatch Embedded Metric Format ([`record`]), which
//! CloudWatch Logs turns into metrics of the `payrail` namespace without an API call.

mod emf;
mod init_timer;
pub mod record;

pub use emf::{Invocation, Metrics, MetricsError, NAMESPACE, REQUEST_ID, metrics};
pub use init_timer::{InitTimer, READY_MESSAGE};

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Crates that log request or event bodies, headers or frames below `info`: lambda_runtime
/// logs every raw event at `trace` (card numbers, CVCs, passwords, bearer tokens), the HTTP
/// stacks log headers and frames, the SDK logs responses. Whatever RUST_LOG says, nothing of
/// theirs below `info` is written.
pub const CAPPED_AT_INFO: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_lambda_events",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "h2",
    "http_body_util",
    "reqwest",
    "rustls",
    "tower",
    "tower_http",
    "axum",
    "aws_config",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_smithy_json",
    "aws_smithy_xml",
    "aws_smithy_query",
    "aws_smithy_observability",
    "aws_sdk_dynamodb",
    "aws_sdk_sqs",
    "aws_sdk_secretsmanager",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_sts",
];

/// The cap: [`CAPPED_AT_INFO`] at `info` at most, everything else as RUST_LOG decides. A
/// second filter on top of RUST_LOG's (both must let an event through), so that RUST_LOG
/// can lower those crates (`warn`) but never raise them.
pub fn cap() -> Targets {
    CAPPED_AT_INFO.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, name| t.with_target(*name, LevelFilter::INFO),
    )
}

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .with_filter(filter.and(cap()));
    let _ = tracing_subscriber::registry().with(logs).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_runtime_http_and_sdk_crates_never_log_below_info() {
        let cap = cap();
        for target in [
            "lambda_runtime::layers::api_response",
            "lambda_runtime_api_client",
            "lambda_http::request",
            "hyper::proto::h1::io",
            "h2::codec::framed_read",
            "reqwest::connect",
            "aws_smithy_runtime::client::orchestrator::http",
        ] {
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
            assert!(!cap.would_enable(target, &Level::DEBUG), "{target}");
            assert!(cap.would_enable(target, &Level::INFO), "{target}");
        }
        assert!(cap.would_enable("payrail_shared::stream::validator", &Level::TRACE));
        assert!(cap.would_enable("validator", &Level::DEBUG));
    }
}
