//! `POST {LOG_URL}/log`: one entry per call.

use super::entry::LogEntry;
use crate::outbound::{ClientConfigError, Timeouts, describe, endpoint, http_client, read_capped};
use crate::redact::short_text;
use reqwest::Url;
use tracing::instrument;

/// Why an entry was not delivered; the entry is to be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotDelivered {
    #[error("the log service answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the log service could not be reached: {0}")]
    Unreachable(String),
}

/// The log service client: build one per cold start and share it.
#[derive(Debug, Clone)]
pub struct LogServiceClient {
    http: reqwest::Client,
    log_url: Url,
}

impl LogServiceClient {
    /// A client for the log service at `base_url` (`LOG_URL`). Errs when the URL is not
    /// http(s) or the TLS stack cannot start.
    pub fn new(base_url: &str, timeouts: Timeouts) -> Result<Self, ClientConfigError> {
        Ok(LogServiceClient {
            http: http_client(timeouts)?,
            log_url: endpoint("LOG_URL", base_url, "log")?,
        })
    }

    /// Posts one entry. A 2xx answer means delivered; any other answer or no answer is
    /// [`NotDelivered`].
    #[instrument(skip_all, fields(payment_id = ?entry.payment_id(), error_type = %entry.error_type()))]
    pub async fn send(&self, entry: &LogEntry) -> Result<(), NotDelivered> {
        let response = self
            .http
            .post(self.log_url.clone())
            .json(entry)
            .send()
            .await
            .map_err(|e| NotDelivered::Unreachable(describe(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_capped(response, 1024).await;
        Err(NotDelivered::Refused {
            status: status.as_u16(),
            body: short_text(&String::from_utf8_lossy(&body), 200),
        })
    }
}
