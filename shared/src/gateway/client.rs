//! The HTTP calls to the payment gateway: `POST {GATEWAY_URL}/payment` and `/refund`.

use super::outcome::{
    ChargeOutcome, RefundOutcome, TransientFailure, TransientKind, Verdict, classify_sent,
};
use crate::domain::card::CardNumber;
use crate::domain::ids::{AccountId, PaymentId};
use crate::domain::money::MinorUnits;
use crate::domain::payment::PaymentType;
use crate::outbound::{ClientConfigError, Timeouts, describe, endpoint, http_client, read_capped};
use crate::telemetry::record::{self, GatewayOperation};
use reqwest::Url;
use serde::Serialize;
use std::time::Instant;
use tracing::instrument;
use uuid::Uuid;

/// Most of an answer's body read (for its reason); the rest is not needed.
const BODY_LIMIT: usize = 4096;

/// A charge to validate. Debug shows the card masked (`CardNumber`'s own Debug); the digits
/// leave the process only in the body of the `/payment` call.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub payment_id: PaymentId,
    pub account_id: AccountId,
    pub payment_type: PaymentType,
    pub credit_card: Charged,
    pub amount: MinorUnits,
}

/// What the gateway charges: a card number, or a wallet's token (sent in `credit_card`). Both
/// print masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charged {
    Card(CardNumber),
    Wallet(crate::payments::request::WalletToken),
}

impl Charged {
    pub fn expose(&self) -> &str {
        match self {
            Charged::Card(number) => number.expose(),
            Charged::Wallet(token) => token.expose(),
        }
    }
}

impl From<CardNumber> for Charged {
    fn from(number: CardNumber) -> Self {
        Charged::Card(number)
    }
}

/// The `/payment` body of SPEC §5, borrowed from a [`ChargeRequest`] just for the call.
#[derive(Serialize)]
struct ChargeBody<'a> {
    payment_id: PaymentId,
    account_id: AccountId,
    payment_type: PaymentType,
    credit_card: &'a str,
    amount: MinorUnits,
}

impl ChargeRequest {
    fn body(&self) -> ChargeBody<'_> {
        ChargeBody {
            payment_id: self.payment_id,
            account_id: self.account_id,
            payment_type: self.payment_type,
            credit_card: self.credit_card.expose(),
            amount: self.amount,
        }
    }
}

/// A refund of (part of) a charged payment; the gateway deduplicates on `refund_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    pub refund_id: Uuid,
    pub amount: MinorUnits,
}

/// The gateway client: build one per cold start and share it (it pools connections).
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    payment_url: Url,
    refund_url: Url,
    timeouts: Timeouts,
}

impl GatewayClient {
    /// A client for the gateway at `base_url` (e.g. `GATEWAY_URL`, `http://127.0.0.1:9090`).
    /// Errs when the URL is not http(s) or the TLS stack cannot start.
    pub fn new(base_url: &str, timeouts: Timeouts) -> Result<Self, ClientConfigError> {
        Ok(GatewayClient {
            http: http_client(timeouts)?,
            payment_url: endpoint("GATEWAY_URL", base_url, "payment")?,
            refund_url: endpoint("GATEWAY_URL", base_url, "refund")?,
            timeouts,
        })
    }

    /// Charges the card. Never errs: every failure is a [`ChargeOutcome::Transient`].
    #[instrument(skip_all, fields(payment_id = %request.payment_id))]
    #[must_use]
    pub async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        let started = Instant::now();
        // The reply may echo the card number or wallet token: it is scrubbed from the reason.
        let sent = [request.credit_card.expose()];
        let verdict = self.post(&self.payment_url, &request.body(), &sent).await;
        record::gateway_call(GatewayOperation::Charge, &verdict, started.elapsed());
        let outcome = ChargeOutcome::from(verdict);
        tracing::info!(outcome = ?outcome, elapsed_ms = started.elapsed().as_millis(), "gateway charge");
        outcome
    }

    /// Refunds (part of) a charge. Never errs: every failure is a [`RefundOutcome::Transient`].
    #[instrument(skip_all, fields(payment_id = %request.payment_id, refund_id = %request.refund_id))]
    #[must_use]
    pub async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let started = Instant::now();
        let verdict = self.post(&self.refund_url, request, &[]).await;
        record::gateway_call(GatewayOperation::Refund, &verdict, started.elapsed());
        let outcome = RefundOutcome::from(verdict);
        tracing::info!(outcome = ?outcome, elapsed_ms = started.elapsed().as_millis(), "gateway refund");
        outcome
    }

    async fn post(&self, url: &Url, body: &impl Serialize, secrets: &[&str]) -> Verdict {
        let sent = self.http.post(url.clone()).json(body).send().await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                classify_sent(status, &read_capped(response, BODY_LIMIT).await, secrets)
            }
            Err(err) => Verdict::Transient(self.transport_failure(err)),
        }
    }

    /// A call that got no answer, told apart by whether the request had left: a connection
    /// that could not be opened (refused, DNS, TLS, the connect timeout: reqwest's `is_connect`)
    /// sent nothing; after that, a timeout or anything else (a reset, a connection closed
    /// before the answer, a broken answer) may have reached a gateway that acted on it.
    /// Retrying is safe in every case: the gateway deduplicates on `payment_id`.
    fn transport_failure(&self, err: reqwest::Error) -> TransientFailure {
        if err.is_connect() {
            TransientFailure {
                kind: TransientKind::NotSent,
                detail: describe(err),
            }
        } else if err.is_timeout() {
            TransientFailure::timeout(self.timeouts)
        } else {
            TransientFailure {
                kind: TransientKind::Reset,
                detail: describe(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_charge_body_is_exactly_spec_section_5s() -> Result<(), Box<dyn std::error::Error>> {
        let id = PaymentId::new();
        let request = ChargeRequest {
            payment_id: id,
            account_id: AccountId::new(42),
            payment_type: PaymentType::Online,
            credit_card: CardNumber::parse("4111 1111 1111 1111")?.into(),
            amount: MinorUnits::new(13370)?,
        };
        assert_eq!(
            serde_json::to_value(request.body())?,
            json!({"payment_id": id.to_string(), "account_id": 42, "payment_type": "online",
                   "credit_card": "4111111111111111", "amount": 13370})
        );
        let shown = format!("{request:?}");
        assert!(!shown.contains("4111111111111111"), "{shown}");
        Ok(())
    }

    #[test]
    fn the_refund_body_is_exactly_spec_section_5s() -> Result<(), Box<dyn std::error::Error>> {
        let request = RefundRequest {
            payment_id: PaymentId::new(),
            refund_id: Uuid::new_v4(),
            amount: MinorUnits::new(500)?,
        };
        assert_eq!(
            serde_json::to_value(request)?,
            json!({"payment_id": request.payment_id.to_string(),
                   "refund_id": request.refund_id.to_string(), "amount": 500})
        );
        Ok(())
    }

    #[test]
    fn refuses_a_base_url_that_is_not_http() {
        assert!(GatewayClient::new("gateway.example", Timeouts::DEFAULT).is_err());
        assert!(GatewayClient::new("http://127.0.0.1:9/", Timeouts::DEFAULT).is_ok());
    }
}
