//! The validator's second kind of message: a refund to finish (see `refunds::service`). The
//! refund is read from the table; when it is missing (its request was refused before storing
//! it) or already final (the request finished it), there is nothing to do. Otherwise the
//! gateway is asked again (it deduplicates on the refund id) and a final answer is settled
//! conditionally on the refund still being pending, so repeats change nothing.
//!
//! A transient failure is retried with the validator's backoff; after the last delivery the
//! refund stays `pending` (its amount reserved) and the message rests in the dead-letter queue
//! until it is re-driven: a refund the gateway may have executed is never marked `failed`.

use super::incoming::Invalid;
use super::validator::{Retry, Validator};
use crate::logservice::{ErrorType, LogEntry};
use crate::payments::SealCards;
use crate::refunds::{Attempt, Completion, DynamoRefunds, RefundMessage, RefundStatus};
use aws_lambda_events::event::sqs::SqsMessage;

impl<S: SealCards> Validator<S> {
    pub(super) async fn refund(&self, body: &str, message: &SqsMessage) -> Result<(), Retry> {
        let parsed: RefundMessage = match serde_json::from_str(body) {
            Ok(parsed) => parsed,
            Err(err) => {
                let why = format!("refund message: {err}");
                self.reporter
                    .report(LogEntry::new(None, ErrorType::Other, &why))
                    .await;
                return Err(Retry::Invalid(Invalid(why)));
            }
        };
        let id = parsed.payment_id;
        let result = self.finish_refund(&parsed, message).await;
        if let Err(Retry::Transient(cause)) = &result
            && cause.starts_with("database")
        {
            self.reporter
                .report(LogEntry::new(Some(id), ErrorType::Database, cause))
                .await;
        }
        result
    }

    async fn finish_refund(
        &self,
        parsed: &RefundMessage,
        message: &SqsMessage,
    ) -> Result<(), Retry> {
        let store = DynamoRefunds::new(self.store.client().clone(), self.store.table());
        let stored = store
            .refund(&parsed.payment_id, parsed.created_at, &parsed.refund_id)
            .await?;
        let Some(refund) = stored.filter(|r| r.status == RefundStatus::Pending) else {
            tracing::info!(refund_id = %parsed.refund_id, "refund missing or already final: nothing to do");
            return Ok(());
        };
        let completion = Completion {
            store: &store,
            gateway: &self.gateway,
            reporter: self.reporter.as_ref(),
            clock: self.clock.as_ref(),
        };
        match completion.attempt(&refund).await? {
            Attempt::Final(done) => {
                tracing::info!(refund_id = %done.id, status = ?done.status, "refund finished");
                Ok(())
            }
            Attempt::Pending(failure) => {
                if self.redelivery.is_last(message) {
                    tracing::error!(
                        refund_id = %refund.id,
                        "refund still pending after the last delivery: re-drive the dead-letter queue to finish it"
                    );
                }
                Err(Retry::Transient(format!("gateway refund: {failure}")))
            }
        }
    }
}
