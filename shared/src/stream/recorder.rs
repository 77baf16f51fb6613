//! The recorder: consumes the `offline` queue (shops, CRM: payments already valid) and stores
//! each payment `succeeded`, with its aggregate and its account's `last_payment_date` in the same
//! transaction. The write is conditional on the id being new, so a duplicate delivery stores and
//! counts nothing twice.

use super::incoming::{self, Invalid};
use super::redelivery::Redelivery;
use super::validator::Retry;
use crate::domain::{Clock, FingerprintKey, PaymentId, PaymentStatus, PaymentType};
use crate::logservice::{ErrorReporter, ErrorType, LogEntry};
use crate::payments::SealCards;
use crate::sqs_batch::process_batch;
use crate::store::payments::{DynamoPayments, PaymentWriteError};
use crate::users::{MerchantRegistry, ResolveOwner};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::sync::Arc;

pub struct Recorder<S> {
    pub store: DynamoPayments,
    /// Who owns each payment ([`incoming::owner_claim`] through the merchant registry).
    pub owners: MerchantRegistry,
    pub cards: S,
    pub fingerprint_key: FingerprintKey,
    pub reporter: Arc<dyn ErrorReporter>,
    pub redelivery: Redelivery,
    pub clock: Arc<dyn Clock>,
}

impl<S: SealCards> Recorder<S> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |message| self.message(message)).await
    }

    async fn message(&self, message: SqsMessage) -> Result<(), Retry> {
        let result = self.record(&message).await;
        if let Err(err) = &result {
            self.redelivery
                .delay(&message, matches!(err, Retry::Transient(_)))
                .await;
        }
        result
    }

    async fn record(&self, message: &SqsMessage) -> Result<(), Retry> {
        let last = self.redelivery.is_last(message);
        let body = message.body.as_deref().unwrap_or_default();
        let parsed = match incoming::parse(body) {
            Ok(parsed) => parsed,
            Err((id, invalid)) => return Err(self.invalid(id, invalid, last).await),
        };
        let id = PaymentId::parse(&parsed.payment_id).ok();
        if parsed.payment_type != PaymentType::Offline {
            let invalid = Invalid("an online payment on the offline queue".to_owned());
            return Err(self.invalid(id, invalid, last).await);
        }
        // The registry unreadable is transient: the message waits rather than take an owner.
        let owner = match self.owners.owner(incoming::owner_claim(&parsed)).await {
            Ok(owner) => owner,
            Err(err) => {
                let cause = format!("database: merchant registry: {err}");
                self.reporter
                    .report(LogEntry::new(id, ErrorType::Database, &cause))
                    .await;
                return Err(Retry::Transient(cause));
            }
        };
        let incoming = match incoming::read(
            &parsed,
            PaymentStatus::Succeeded,
            &owner,
            &self.cards,
            &self.fingerprint_key,
            self.clock.now(),
        ) {
            Ok(incoming) => incoming,
            Err(invalid) => return Err(self.invalid(id, invalid, last).await),
        };
        if let Some(note) = incoming.note() {
            tracing::warn!(payment_id = %incoming.payment.id, note, "message taken with a correction");
            self.reporter
                .report(LogEntry::new(
                    Some(incoming.payment.id),
                    ErrorType::Other,
                    &note,
                ))
                .await;
        }
        let payment = incoming.payment;
        match self.store.create(&payment, None).await {
            Ok(()) => {
                tracing::info!(payment_id = %payment.id, "offline payment recorded");
                Ok(())
            }
            Err(PaymentWriteError::Conflict) => {
                tracing::info!(payment_id = %payment.id, "already recorded: duplicate delivery ignored");
                Ok(())
            }
            Err(PaymentWriteError::NoSuchAccount(account)) => {
                let invalid = Invalid(format!("account {account} does not exist"));
                if last && let Err(err) = self.store.store_failed(&payment, &invalid.0).await {
                    tracing::error!(payment_id = %payment.id, error = %err, "could not store the failed payment");
                }
                Err(self.invalid(Some(payment.id), invalid, false).await)
            }
            Err(PaymentWriteError::Store(err)) => {
                let cause = format!("database: {err}");
                self.reporter
                    .report(LogEntry::new(Some(payment.id), ErrorType::Database, &cause))
                    .await;
                Err(Retry::Transient(cause))
            }
        }
    }

    async fn invalid(&self, id: Option<PaymentId>, invalid: Invalid, last: bool) -> Retry {
        self.reporter
            .report(LogEntry::new(id, ErrorType::Other, &invalid.0))
            .await;
        if last
            && let Some(id) = id
            && let Err(err) = self.store.mark_failed(&id, &invalid.0).await
        {
            tracing::error!(payment_id = %id, error = %err, "could not mark the payment failed");
        }
        Retry::Invalid(invalid)
    }
}
