//! The HTTP client payrail uses towards third parties (the payment gateway, the log service):
//! built once per cold start and reused, so connections are pooled across invocations.

use crate::config::{BadNumber, env_u64};
use reqwest::Url;
use std::time::Duration;

/// How long a call to a third party may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the TCP connection (and TLS session).
    pub connect: Duration,
    /// For the whole call, connecting included, until the response head and body are read.
    pub request: Duration,
}

impl Timeouts {
    /// Defaults for the gateway (docs/design.md, "Gateway, log service and card data"): 3 s to
    /// connect covers one lost SYN; 10 s for the call is far above a healthy gateway's latency
    /// and far below the Lambda timeout, so a hung gateway costs a retry, not the batch.
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(3),
        request: Duration::from_secs(10),
    };

    /// Reads `{prefix}_CONNECT_TIMEOUT_MS` and `{prefix}_TIMEOUT_MS` (e.g. `GATEWAY_TIMEOUT_MS`),
    /// each defaulting to [`Timeouts::DEFAULT`]; refuses values outside 1 ms … 60 s.
    pub fn from_env(
        connect_var: &'static str,
        request_var: &'static str,
    ) -> Result<Self, BadNumber> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Ok(Timeouts {
            connect: Duration::from_millis(env_u64(
                connect_var,
                ms(Self::DEFAULT.connect),
                1,
                60_000,
            )?),
            request: Duration::from_millis(env_u64(
                request_var,
                ms(Self::DEFAULT.request),
                1,
                60_000,
            )?),
        })
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    #[error("{name} must be an http or https URL, not {value:?}")]
    BadUrl { name: &'static str, value: String },
    #[error("the HTTP client could not be built: {0}")]
    Build(String),
}

/// A client with both timeouts, rustls, no redirects (a payment is never re-posted elsewhere)
/// and no proxy taken from the environment (a stray `HTTPS_PROXY` must not see card numbers).
/// Idle connections are dropped after 30 s, before the usual 60 s idle limit of load
/// balancers, so a thawed Lambda rarely picks a connection the server has already closed.
pub(crate) fn http_client(timeouts: Timeouts) -> Result<reqwest::Client, ClientConfigError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("payrail/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientConfigError::Build(e.without_url().to_string()))
}

/// `base` (with or without a trailing slash) joined with `path`, refused unless http(s).
pub(crate) fn endpoint(
    name: &'static str,
    base: &str,
    path: &str,
) -> Result<Url, ClientConfigError> {
    let bad = || ClientConfigError::BadUrl {
        name,
        value: base.to_owned(),
    };
    let url = Url::parse(&format!("{}/{path}", base.trim_end_matches('/'))).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url)
}

/// An error's text with its causes (`a: b: c`), without the URL, card numbers scrubbed.
pub(crate) fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    crate::redact::short_text(&text, 300)
}

/// Reads at most `limit` bytes of a response body; a body that fails midway gives what came.
pub(crate) async fn read_capped(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(limit);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_a_trailing_slash_and_refuse_other_schemes() {
        let joined = endpoint("GATEWAY_URL", "http://127.0.0.1:9090/", "payment").ok();
        assert_eq!(
            joined.map(String::from).as_deref(),
            Some("http://127.0.0.1:9090/payment")
        );
        let nested = endpoint("GATEWAY_URL", "https://gw.example/v1", "refund").ok();
        assert_eq!(
            nested.map(String::from).as_deref(),
            Some("https://gw.example/v1/refund")
        );
        assert!(endpoint("GATEWAY_URL", "ftp://gw.example", "payment").is_err());
        assert!(endpoint("GATEWAY_URL", "not a url", "payment").is_err());
        assert!(endpoint("GATEWAY_URL", "", "payment").is_err());
    }
}
