//! The function's EMF collector: installed once per cold start as the `metrics` facade's
//! recorder (no I/O, so init stays cheap), and flushed to stdout after every invocation by
//! [`Metrics::around`]: one JSON line per set of dimensions the invocation touched, with the
//! invocation's request id as a property so that a metric line leads to the invocation's logs.
//!
//! The collector comes from `metrics_cloudwatch_embedded` without its `lambda` feature: that
//! feature turns on every default feature of `lambda_http` (REST API, ALB, WebSocket, VPC
//! Lattice) for the whole workspace, and then each HTTP function would try to parse every
//! event as a REST API request before the HTTP API one. The flush around an invocation is the
//! few lines below instead.

use super::record;
use metrics_cloudwatch_embedded::{Builder, Collector};
use std::future::Future;
use std::io::Write;

/// The CloudWatch namespace of every payrail metric; the dashboard in template.yaml reads it.
pub const NAMESPACE: &str = "payrail";
/// The property naming the invocation a metric line came from (not a dimension: one value per
/// invocation would make one metric per invocation).
pub const REQUEST_ID: &str = "RequestId";
/// The stage when `STAGE` is not set: a binary run outside template.yaml's environment.
const NO_STAGE: &str = "local";

#[derive(Debug, thiserror::Error)]
#[error("the metrics recorder could not be installed: {0}")]
pub struct MetricsError(String);

/// The installed collector; copy it into the handler.
#[derive(Clone, Copy)]
pub struct Metrics(&'static Collector);

/// Installs the collector with the `Stage` dimension from `STAGE`, and counts this cold start
/// of `function` (the binary's name: the same in every stage, unlike the deployed function's
/// name). Errs when a recorder is already installed.
pub fn metrics(function: &'static str) -> Result<Metrics, MetricsError> {
    let stage = std::env::var("STAGE").unwrap_or_else(|_| NO_STAGE.to_owned());
    let collector = Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(record::STAGE, stage)
        .init()
        .map_err(|e| MetricsError(e.to_string()))?;
    record::describe();
    // Provisioned concurrency initialises ahead of any request: no caller waited for it.
    let provisioned = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE")
        .is_ok_and(|kind| kind == "provisioned-concurrency");
    if !provisioned {
        record::cold_start(function);
    }
    Ok(Metrics(collector))
}

impl Metrics {
    /// Runs one invocation, then writes what it recorded to stdout.
    pub async fn around<T>(
        self,
        request_id: Option<String>,
        invocation: impl Future<Output = T>,
    ) -> T {
        let output = invocation.await;
        let mut lines = Vec::new();
        let written = self
            .flush_into(request_id, &mut lines)
            .and_then(|()| std::io::stdout().lock().write_all(&lines));
        if let Err(err) = written {
            tracing::warn!(error = %err, "the invocation's metrics could not be written");
        }
        output
    }

    /// Writes the EMF lines of everything recorded since the last flush into `out` (in one
    /// write to stdout, so that no log line of another thread lands inside one), and resets the
    /// counters.
    pub fn flush_into(
        self,
        request_id: Option<String>,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        match request_id {
            Some(id) => self.0.set_property(REQUEST_ID, id),
            None => self.0.remove_property(REQUEST_ID),
        };
        self.0.flush(out)
    }
}

/// The id of the invocation a request or event came with.
pub trait Invocation {
    fn request_id(&self) -> Option<String>;
}

impl Invocation for lambda_http::Request {
    fn request_id(&self) -> Option<String> {
        use lambda_http::RequestExt;
        self.lambda_context_ref()
            .map(|context| context.request_id.clone())
    }
}

impl<T> Invocation for lambda_http::lambda_runtime::LambdaEvent<T> {
    fn request_id(&self) -> Option<String> {
        Some(self.context.request_id.clone())
    }
}
