//! `smoke`: a few real requests against a deployed (or the local) payrail API, each checked,
//! stopping at the first failure. The deploy pipeline runs it after every deploy and `make test`
//! runs it against the local stack (docs/deployment.md, "The smoke test").
//!
//! Smoke payments are real payments in the stage's data. They are made recognisable there: the
//! vendor is always [`SMOKE_VENDOR`] and they are charged to a dedicated account that the
//! operator names (there is no default: a default id would stamp a real customer's
//! `last_payment_date`). The card is a well-known test number that a live gateway declines.

mod backoff;
mod checks;
mod client;

pub use backoff::Backoff;
pub use client::{contains_card_number, excerpt};

use reqwest::StatusCode;
use std::fmt;
use std::time::Duration;

/// The vendor of every smoke payment: how they are told apart from real ones in reports.
pub const SMOKE_VENDOR: &str = "payrail-smoke";
/// A public Visa test number (Luhn-valid): no real card has it, a live gateway declines it.
/// Not 4242…4242: that one is the request example in the OpenAPI document, and every response,
/// the document included, is searched for the smoke card's number.
pub const TEST_CARD_NUMBER: &str = "4012888888881881";

/// A password that never appears in Debug output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Password {
        Password(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Password,
}

#[derive(Debug, Clone)]
pub struct SmokeConfig {
    /// The API's base URL, e.g. the stack's `ApiUrl` output.
    pub base_url: String,
    /// A merchant: creates and reads the smoke payments.
    pub merchant: Credentials,
    /// An admin: reads the reports. Without it the report checks are skipped.
    pub admin: Option<Credentials>,
    /// The dedicated paying account of the smoke payments.
    pub account_id: u64,
    /// How long the online payment may stay pending.
    pub online_timeout: Duration,
    /// How long one request may take.
    pub request_timeout: Duration,
}

/// One passed (or skipped) check, as printed.
#[derive(Debug, Clone)]
pub struct CheckLine {
    pub name: &'static str,
    pub latency: Duration,
    pub detail: String,
    pub skipped: bool,
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            return write!(f, "skip {:<28} {:>10}  {}", self.name, "", self.detail);
        }
        write!(
            f,
            "ok   {:<28} {:>7.1} ms  {}",
            self.name,
            self.latency.as_secs_f64() * 1000.0,
            self.detail
        )
    }
}

/// Why the smoke test stopped. Every variant names the check that failed.
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    #[error("{0}")]
    Setup(String),
    /// No response (connection, TLS, timeout); the cause names the URL.
    #[error("{check}: {cause}")]
    Request { check: String, cause: String },
    #[error("{check}: expected HTTP {expected}, got {got}: {body}")]
    Status {
        check: String,
        expected: StatusCode,
        got: StatusCode,
        body: String,
    },
    #[error("{check}: {reason}")]
    Body { check: String, reason: String },
    #[error("{check}: the response to {target} contains the card number")]
    CardNumberLeaked { check: String, target: String },
    #[error("{check}: {reason} after {waited:.1?}")]
    TimedOut {
        check: String,
        reason: String,
        waited: Duration,
    },
}

/// Runs every check in order, handing each passed one to `report` as it passes; stops at the
/// first failure.
pub async fn run(
    config: &SmokeConfig,
    report: &mut dyn FnMut(&CheckLine),
) -> Result<(), SmokeError> {
    checks::Smoke::new(config)?.run(report).await
}
