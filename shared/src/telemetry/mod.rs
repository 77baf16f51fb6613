//! What the functions tell operators, all on stdout: structured JSON logs (level from
//! RUST_LOG) and business metrics in CloudWatch Embedded Metric Format ([`record`]), which
//! CloudWatch Logs turns into metrics of the `payrail` namespace without an API call.

mod emf;
mod init_timer;
pub mod record;

pub use emf::{Invocation, Metrics, MetricsError, NAMESPACE, REQUEST_ID, metrics};
pub use init_timer::{InitTimer, READY_MESSAGE};

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
