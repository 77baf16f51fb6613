//! Creating and processing payments (POST /payments, POST /payments/{id}/process).
//!
//! - offline: stored `succeeded` at once, with its aggregate and the account's
//!   `last_payment_date` in the same transaction;
//! - online: the message goes on the `online` queue first, then the payment is stored `pending`.
//!   In that order nothing is lost: if the write fails after the send, the validator stores the
//!   payment from the message (it carries every field); if the send fails, nothing was stored
//!   and the client gets a 503 that is safe to retry (the retry keeps the payment id: see
//!   `idempotency`); a message lost after the write is re-sent by the reconciler;
//! - `process: false`: stored `created`, to be processed later.

use super::message::StreamMessage;
use super::request::{CreatePayment, Instrument};
use super::sealing::SealCards;
use crate::auth::{ActingFor, Identity};
use crate::domain::{
    CardSummary, Clock, FingerprintKey, Payment, PaymentId, PaymentStatus, PaymentType,
};
use crate::http::ApiError;
use crate::queue::SendMessage;
use crate::store::payments::{DynamoPayments, PaymentWriteError, StoredPayment};
use std::sync::Arc;

/// What the payment routes need, built once per cold start.
pub struct Payments<Q, S> {
    pub store: DynamoPayments,
    pub online: Q,
    pub cards: S,
    pub fingerprint_key: FingerprintKey,
    pub clock: Arc<dyn Clock>,
}

/// A payment and whether the answer is "accepted, in progress" (202) rather than done.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub payment: Payment,
    pub accepted: bool,
}

impl Outcome {
    fn of(payment: Payment) -> Self {
        Outcome {
            accepted: payment.payment_type == PaymentType::Online
                && payment.status == PaymentStatus::Pending,
            payment,
        }
    }
}

fn write_error(err: PaymentWriteError) -> ApiError {
    match err {
        PaymentWriteError::NoSuchAccount(_) => ApiError::invalid("account_id", "no such account"),
        PaymentWriteError::Conflict => {
            ApiError::Conflict("The payment was changed by another request; read it again.")
        }
        PaymentWriteError::Store(err) => err.into(),
    }
}

impl<Q: SendMessage, S: SealCards> Payments<Q, S> {
    /// Creates the payment `id` for `merchant`: owned by its id, `vendor` defaulting to its name.
    pub async fn create(
        &self,
        merchant: ActingFor<'_>,
        request: CreatePayment,
        id: PaymentId,
    ) -> Result<Outcome, ApiError> {
        let now = self.clock.now();
        let status = match (request.process, request.payment_type) {
            (false, _) => PaymentStatus::Created,
            (true, PaymentType::Offline) => PaymentStatus::Succeeded,
            (true, PaymentType::Online) => PaymentStatus::Pending,
        };
        let card = match &request.instrument {
            Instrument::Card(card) => Some(CardSummary::of(
                &card.number,
                card.exp_month,
                card.exp_year,
                &self.fingerprint_key,
            )),
            Instrument::Wallet { .. } => None,
        };
        let payment = Payment {
            id,
            account_id: request.account_id,
            payment_type: request.payment_type,
            method: request.method,
            card_type: request.instrument.card_type(),
            card,
            amount: request.amount,
            currency: request.currency,
            vendor: request.vendor.unwrap_or_else(|| merchant.name.to_owned()),
            address: request.address,
            country: request.country,
            status,
            created_at: now,
            updated_at: now,
            refunded_amount: 0,
            failure: None,
            merchant: Some(merchant.id.to_string()),
        };
        // Only an online payment still to be charged keeps its card (sealed) until it is final.
        let sealed = match payment.payment_type {
            PaymentType::Online => {
                let secret = match &request.instrument {
                    Instrument::Card(card) => card.number.expose(),
                    Instrument::Wallet { token, .. } => token.expose(),
                };
                let sealed = self
                    .cards
                    .seal(secret, &payment.id)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                Some(sealed)
            }
            PaymentType::Offline => None,
        };
        if let (PaymentStatus::Pending, Some(sealed)) = (status, &sealed) {
            // Checked before the send: a message must not outlive a refused request.
            if self
                .store
                .accounts()
                .get(payment.account_id)
                .await?
                .is_none()
            {
                return Err(write_error(PaymentWriteError::NoSuchAccount(
                    payment.account_id,
                )));
            }
            self.enqueue(&payment, sealed).await?;
        }
        match self.store.create(&payment, sealed).await {
            Ok(()) => {
                tracing::info!(payment_id = %payment.id, status = ?payment.status, "payment created");
                Ok(Outcome::of(payment))
            }
            // Already there: a retry that took over an idempotency key, or the validator
            // stored it from the message first. Either way, answer with what is stored.
            Err(PaymentWriteError::Conflict) => self.current(&payment.id).await,
            Err(err) => Err(write_error(err)),
        }
    }

    /// Processes a `created` payment of the caller's.
    pub async fn process(&self, caller: &Identity, id: &PaymentId) -> Result<Outcome, ApiError> {
        let stored = visible(&self.store, caller, id).await?;
        if stored.payment.status != PaymentStatus::Created {
            return Err(ApiError::Conflict(
                "Only a payment in status created can be processed.",
            ));
        }
        let now = self.clock.now();
        let mut next = stored.payment.clone();
        next.updated_at = now;
        match next.payment_type {
            PaymentType::Offline => {
                next.status = PaymentStatus::Succeeded;
                self.update(&stored, next, None).await
            }
            PaymentType::Online => {
                next.status = PaymentStatus::Pending;
                let Some(sealed) = stored.card_sealed.clone() else {
                    return Err(ApiError::Internal(format!(
                        "online payment {id} has no card data to charge"
                    )));
                };
                self.enqueue(&next, &sealed).await?;
                self.update(&stored, next, Some(sealed)).await
            }
        }
    }

    async fn update(
        &self,
        stored: &StoredPayment,
        next: Payment,
        sealed: Option<String>,
    ) -> Result<Outcome, ApiError> {
        match self.store.update(stored, &next, sealed).await {
            Ok(()) => {
                tracing::info!(payment_id = %next.id, status = ?next.status, "payment processed");
                Ok(Outcome::of(next))
            }
            Err(PaymentWriteError::Conflict) => {
                let current = self.current(&next.id).await?;
                if current.payment.status == PaymentStatus::Created {
                    return Err(write_error(PaymentWriteError::Conflict));
                }
                // Processed concurrently (or by the validator from our message): same outcome.
                Ok(current)
            }
            Err(err) => Err(write_error(err)),
        }
    }

    async fn current(&self, id: &PaymentId) -> Result<Outcome, ApiError> {
        match self.store.get(id).await? {
            Some(stored) => Ok(Outcome::of(stored.payment)),
            None => Err(ApiError::Internal(format!(
                "payment {id} vanished after a conflicting write"
            ))),
        }
    }

    async fn enqueue(&self, payment: &Payment, sealed: &str) -> Result<(), ApiError> {
        let message = StreamMessage::of(payment, sealed);
        let body = serde_json::to_string(&message)
            .map_err(|e| ApiError::Internal(format!("message: {e}")))?;
        self.online
            .send(body)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))
    }
}

impl StreamMessage {
    /// The message for a payment the API accepted; `sealed` is its sealed card or token.
    pub fn of(payment: &Payment, sealed: &str) -> Self {
        StreamMessage {
            payment_id: payment.id.to_string(),
            account_id: payment.account_id,
            payment_type: payment.payment_type,
            credit_card: sealed.to_owned(),
            amount: payment.amount.get(),
            currency: Some(payment.currency.to_string()),
            vendor: Some(payment.vendor.clone()),
            card_type: Some(payment.card_type.to_string()),
            address: Some(payment.address.clone()),
            country: Some(payment.country.to_string()),
            created_at: Some(payment.created_at.millis()),
            merchant: None,
            merchant_id: payment.merchant.clone(),
            method: serde_json::to_value(payment.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            exp_month: payment.card.as_ref().map(|c| c.exp_month),
            exp_year: payment.card.as_ref().map(|c| c.exp_year),
        }
    }
}

/// The payment if the caller may see it; another merchant's is "not found".
pub async fn visible(
    store: &DynamoPayments,
    caller: &Identity,
    id: &PaymentId,
) -> Result<StoredPayment, ApiError> {
    let stored = store.get(id).await?.ok_or(ApiError::NotFound)?;
    caller.may_see(stored.payment.merchant.as_deref())?;
    Ok(stored)
}
