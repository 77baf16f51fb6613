//! The validator: consumes the `online` queue, charges each payment at the gateway, and writes
//! its final state. Every final write is conditional on the version read while the payment was
//! `created` or `pending`, so a redelivered or duplicated message changes nothing, and the
//! gateway deduplicates on `payment_id`, so a retry never charges twice.
//!
//! A transient gateway failure is retried with backoff (the message's visibility); on the last
//! delivery the payment is marked `failed` and the message goes on to the dead-letter queue.
//! Except when the gateway may have charged (a charge sent and never answered, now or on an
//! earlier round): then the payment stays `pending` with the failure recorded, an alarm metric
//! is counted, the message is deleted, and the reconciler re-sends the payment until an answer
//! comes or its deadline passes ([`super::reconciler`]). Every error is reported to the log
//! service (through the log queue).
//!
//! The queue also carries refund messages (a `refund_id`): see [`super::refunds`].

use super::incoming::{self, Incoming, Invalid};
use super::redelivery::{Redelivery, receive_count, redriven};
use crate::domain::{
    Clock, Failure, FailureKind, FingerprintKey, Payment, PaymentId, PaymentStatus, Timestamp,
};
use crate::gateway::{ChargeOutcome, ChargeRequest, Charged, GatewayClient, TransientFailure};
use crate::logservice::{ErrorReporter, ErrorType, LogEntry};
use crate::payments::SealCards;
use crate::sqs_batch::process_batch;
use crate::store::StoreError;
use crate::store::payments::{DynamoPayments, PaymentWriteError, StoredPayment};
use crate::telemetry::record;
use crate::users::{MerchantRegistry, ResolveOwner};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::sync::Arc;

/// What the validator needs, built once per cold start.
pub struct Validator<S> {
    pub store: DynamoPayments,
    /// Who owns each payment ([`incoming::owner_claim`] through the merchant registry).
    pub owners: MerchantRegistry,
    pub gateway: GatewayClient,
    pub cards: S,
    pub fingerprint_key: FingerprintKey,
    pub reporter: Arc<dyn ErrorReporter>,
    pub redelivery: Redelivery,
    pub clock: Arc<dyn Clock>,
}

/// Why a message goes back to the queue.
#[derive(Debug, thiserror::Error)]
pub enum Retry {
    #[error("transient: {0}")]
    Transient(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl From<StoreError> for Retry {
    fn from(err: StoreError) -> Self {
        Retry::Transient(format!("database: {err}"))
    }
}

impl<S: SealCards> Validator<S> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |message| self.message(message)).await
    }

    async fn message(&self, message: SqsMessage) -> Result<(), Retry> {
        let result = self.validate(&message).await;
        if let Err(err) = &result {
            self.redelivery
                .delay(&message, matches!(err, Retry::Transient(_)))
                .await;
        }
        result
    }

    async fn validate(&self, message: &SqsMessage) -> Result<(), Retry> {
        let last = self.redelivery.is_last(message);
        let body = message.body.as_deref().unwrap_or_default();
        if crate::refunds::RefundMessage::is_refund(body) {
            return self.refund(body, message).await;
        }
        let parsed = match incoming::parse(body) {
            Ok(parsed) => parsed,
            Err((id, invalid)) => return Err(self.invalid(id, invalid, last).await),
        };
        let now = self.clock.now();
        // The registry unreadable is transient: the message waits rather than take an owner.
        let owner = match self.owners.owner(incoming::owner_claim(&parsed)).await {
            Ok(owner) => owner,
            Err(err) => {
                let cause = format!("database: merchant registry: {err}");
                let entry = LogEntry::new(
                    PaymentId::parse(&parsed.payment_id).ok(),
                    ErrorType::Database,
                    &cause,
                );
                self.reporter.report(entry).await;
                return Err(Retry::Transient(cause));
            }
        };
        let incoming = match incoming::read(
            &parsed,
            PaymentStatus::Pending,
            &owner,
            &self.cards,
            &self.fingerprint_key,
            now,
        ) {
            Ok(incoming) => incoming,
            Err(invalid) => {
                let id = PaymentId::parse(&parsed.payment_id).ok();
                return Err(self.invalid(id, invalid, last).await);
            }
        };
        let id = incoming.payment.id;
        if let Some(note) = incoming.note() {
            tracing::warn!(payment_id = %id, note, "message taken with a correction");
            self.report(id, ErrorType::Other, &note).await;
        }
        let tracked = async {
            let Some(stored) = self.pending(&incoming, message, last).await? else {
                return Ok(());
            };
            self.charge(&stored, &incoming.charged, message, last).await
        };
        match tracked.await {
            Err(Retry::Transient(cause)) if cause.starts_with("database") => {
                self.report(id, ErrorType::Database, &cause).await;
                Err(Retry::Transient(cause))
            }
            other => other,
        }
    }

    /// The stored payment to charge, stored now (`pending`) if the message came from upstream;
    /// `None` when there is nothing to do (already final: a duplicate delivery).
    async fn pending(
        &self,
        incoming: &Incoming,
        message: &SqsMessage,
        last: bool,
    ) -> Result<Option<StoredPayment>, Retry> {
        let id = incoming.payment.id;
        let stored = match self.store.get(&id).await? {
            Some(stored) => stored,
            None => {
                match self
                    .store
                    .create(&incoming.payment, Some(incoming.sealed.clone()))
                    .await
                {
                    // Stored as version 1 of what was sent: no need to read it back.
                    Ok(()) => StoredPayment {
                        payment: incoming.payment.clone(),
                        version: 1,
                        card_sealed: Some(incoming.sealed.clone()),
                    },
                    // A concurrent delivery of the same message stored it first.
                    Err(PaymentWriteError::Conflict) => {
                        self.store.get(&id).await?.ok_or_else(|| {
                            Retry::Transient(format!("database: {id} not readable"))
                        })?
                    }
                    Err(PaymentWriteError::NoSuchAccount(account)) => {
                        let invalid = Invalid(format!("account {account} does not exist"));
                        // Nothing was stored: on the last delivery store it `failed` (as the
                        // recorder does), so the payment the dead-letter queue holds exists.
                        if last
                            && let Err(err) =
                                self.store.store_failed(&incoming.payment, &invalid.0).await
                        {
                            tracing::error!(payment_id = %id, error = %err, "could not store the failed payment");
                        }
                        return Err(self.invalid(Some(id), invalid, false).await);
                    }
                    Err(PaymentWriteError::Store(err)) => return Err(err.into()),
                }
            }
        };
        match stored.payment.status {
            PaymentStatus::Created | PaymentStatus::Pending => Ok(Some(stored)),
            PaymentStatus::Failed if redriven(message) => {
                // Sent back from the dead-letter queue by `redrive`: try again from pending.
                let mut reopened = stored.payment.clone();
                reopened.status = PaymentStatus::Pending;
                reopened.failure = None;
                reopened.updated_at = self.clock.now();
                self.write(&stored, &reopened, Some(incoming.sealed.clone()))
                    .await?;
                Ok(self.store.get(&id).await?)
            }
            status => {
                tracing::info!(payment_id = %id, ?status, "already final: duplicate delivery ignored");
                Ok(None)
            }
        }
    }

    async fn charge(
        &self,
        stored: &StoredPayment,
        charged: &Charged,
        message: &SqsMessage,
        last: bool,
    ) -> Result<(), Retry> {
        let payment = &stored.payment;
        let request = ChargeRequest {
            payment_id: payment.id,
            account_id: payment.account_id,
            payment_type: payment.payment_type,
            credit_card: charged.clone(),
            amount: payment.amount,
        };
        let outcome = self.gateway.charge(&request).await;
        if let Some(entry) = outcome.log_entry(payment.id) {
            self.reporter.report(entry).await;
        }
        let mut next = payment.clone();
        next.updated_at = self.clock.now();
        // Once a charge went unanswered, no later failure tells whether it charged: only an
        // answer (or the reconciler's deadline) ends the payment.
        let unanswered_since = payment.failure.as_ref().and_then(|f| f.unanswered_since);
        match (&outcome, last) {
            (ChargeOutcome::Transient(failure) | ChargeOutcome::Unanswered(failure), false) => {
                return Err(Retry::Transient(format!(
                    "gateway (delivery {}): {failure}",
                    receive_count(message)
                )));
            }
            (ChargeOutcome::Unanswered(failure), true) => {
                return self
                    .keep_pending(stored, next, failure, unanswered_since, message)
                    .await;
            }
            (ChargeOutcome::Transient(failure), true) if unanswered_since.is_some() => {
                return self
                    .keep_pending(stored, next, failure, unanswered_since, message)
                    .await;
            }
            (ChargeOutcome::Transient(failure), true) => {
                next.status = PaymentStatus::Failed;
                next.failure = Some(Failure {
                    error_type: FailureKind::Network,
                    message: format!(
                        "gave up after {} deliveries: {failure}",
                        receive_count(message)
                    ),
                    unanswered_since: None,
                });
            }
            (outcome, _) => {
                next.status = outcome.status().unwrap_or(PaymentStatus::Failed);
                next.failure = outcome.failure();
            }
        }
        // Final: no ciphertext of the card remains on the payment.
        self.write(stored, &next, None).await?;
        tracing::info!(payment_id = %next.id, status = ?next.status, "payment validated");
        if next.status == PaymentStatus::Failed {
            // Unprocessed: the message goes on to the dead-letter queue.
            return Err(Retry::Transient("retries exhausted".to_owned()));
        }
        Ok(())
    }

    /// The last delivery ended without an answer, and the gateway may have charged (this call
    /// or an earlier one went unanswered): the payment stays `pending` with its sealed card and
    /// the failure recorded, the alarm metric is counted, and the message is done with
    /// (deleted, not dead-lettered: the payment holds all a re-send needs, and the reconciler
    /// re-sends it once it has been pending `RECONCILE_AFTER_SECONDS`).
    async fn keep_pending(
        &self,
        stored: &StoredPayment,
        mut next: Payment,
        failure: &TransientFailure,
        unanswered_since: Option<Timestamp>,
        message: &SqsMessage,
    ) -> Result<(), Retry> {
        let since = unanswered_since.unwrap_or(next.updated_at);
        next.failure = Some(Failure {
            error_type: FailureKind::Network,
            message: format!(
                "no answer after {} deliveries, the gateway may have charged; kept pending and \
                 re-sent by the reconciler: {failure}",
                receive_count(message)
            ),
            unanswered_since: Some(since),
        });
        self.write(stored, &next, stored.card_sealed.clone())
            .await?;
        record::charge_unanswered();
        tracing::warn!(
            payment_id = %next.id,
            unanswered_since = since.millis(),
            cause = %failure,
            "charge unanswered on the last delivery: kept pending for the reconciler"
        );
        Ok(())
    }

    /// Writes `next` over `stored`; a conflict means another delivery got there first, which
    /// is fine if that one finished the payment.
    async fn write(
        &self,
        stored: &StoredPayment,
        next: &Payment,
        sealed: Option<String>,
    ) -> Result<(), Retry> {
        match self.store.update(stored, next, sealed).await {
            Ok(()) => Ok(()),
            Err(PaymentWriteError::Conflict) => {
                let now = self.store.get(&next.id).await?;
                match now.map(|s| s.payment.status) {
                    Some(PaymentStatus::Created | PaymentStatus::Pending) | None => Err(
                        Retry::Transient("database: concurrent update, retrying".to_owned()),
                    ),
                    Some(_) => Ok(()),
                }
            }
            Err(PaymentWriteError::NoSuchAccount(account)) => Err(Retry::Invalid(Invalid(
                format!("account {account} does not exist"),
            ))),
            Err(PaymentWriteError::Store(err)) => Err(err.into()),
        }
    }

    /// A message that can never be processed: reported, and on its last delivery its payment
    /// (when the message names one) is stored `failed` before it goes to the dead-letter queue.
    async fn invalid(&self, id: Option<PaymentId>, invalid: Invalid, last: bool) -> Retry {
        if let Some(id) = id {
            self.report(id, ErrorType::Other, &invalid.0).await;
            if last && let Err(err) = self.store.mark_failed(&id, &invalid.0).await {
                tracing::error!(payment_id = %id, error = %err, "could not mark the payment failed");
            }
        } else {
            self.reporter
                .report(LogEntry::new(None, ErrorType::Other, &invalid.0))
                .await;
        }
        Retry::Invalid(invalid)
    }

    async fn report(&self, id: PaymentId, error_type: ErrorType, description: &str) {
        self.reporter
            .report(LogEntry::new(Some(id), error_type, description))
            .await;
    }
}
