//! Creating a refund (POST /payments/{id}/refunds) and finishing a pending one (the request
//! itself, or the validator from the refund message).
//!
//! - offline payment: the refund is stored `succeeded` and the payment's `refunded_amount` and
//!   status moved, in one transaction;
//! - online payment:
//!   1. the refund message goes on the `online` queue, delayed by `completion_delay` (longer
//!      than a request can last, so it never races the request);
//!   2. the refund is stored `pending`, its amount reserved on the payment (one transaction);
//!   3. the gateway is called within the request: 2xx → `succeeded`, a final 4xx → `failed`,
//!      each settled in one transaction (reservation released, `refunded_amount` moved); a
//!      transient failure leaves it `pending` (202) for the validator to finish from the message.
//!
//!   In that order nothing is stranded: whatever stops the request after step 1 (a crash, a
//!   timeout, a store failure after the gateway answered), the message finishes the refund; a
//!   message whose refund was never stored (step 2 refused) finds nothing and is dropped. A
//!   refund is never marked `failed` unless the gateway refused it: a timeout is not a refusal.

use super::store::RefundWriteError;
use super::{
    CreateRefund, DynamoRefunds, Refund, RefundId, RefundMessage, RefundStatus, RefundablePayment,
    Refused, refundable,
};
use crate::auth::Identity;
use crate::domain::{Clock, Failure, FailureKind, MinorUnits, PaymentId, PaymentType, Timestamp};
use crate::gateway::{GatewayClient, RefundOutcome, RefundRequest, TransientFailure};
use crate::http::ApiError;
use crate::logservice::{ErrorReporter, ErrorType, LogEntry};
use crate::queue::{SendDelayed, SendError};
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// Attempts at a write before giving up on a payment other refunds keep changing.
const MAX_ATTEMPTS: u32 = 25;

/// What POST /payments/{id}/refunds needs, built once per cold start.
pub struct Refunds<Q> {
    pub store: DynamoRefunds,
    pub gateway: GatewayClient,
    pub online: Q,
    pub reporter: Arc<dyn ErrorReporter>,
    pub clock: Arc<dyn Clock>,
    /// How long the refund message stays invisible: more than a request can last.
    pub completion_delay: Duration,
}

/// The id and time a new refund takes, fixed before anything is written: fresh, or reserved by
/// an Idempotency-Key's record (the same for every retry of the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRefund {
    pub id: RefundId,
    pub created_at: Timestamp,
    /// A retry taking over an attempt that died or failed on our side: the refund may exist.
    pub resumed: bool,
}

impl NewRefund {
    pub fn fresh(now: Timestamp) -> Self {
        NewRefund {
            id: RefundId::new(),
            created_at: now,
            resumed: false,
        }
    }
}

/// A new refund, and whether the answer is "accepted, in progress" (202, still `pending`).
#[derive(Debug, Clone)]
pub struct Created {
    pub refund: Refund,
    pub accepted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such payment, or another merchant's.
    #[error("no such payment")]
    NotFound,
    /// An admin refunding a registered merchant's payment: that merchant refunds it.
    #[error("an admin acts only for the upstream merchant")]
    NotActingFor,
    #[error("the payment is not in a refundable status")]
    NotRefundable,
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the payment kept changing under concurrent refunds")]
    Contended,
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] SendError),
}

impl From<RefundError> for ApiError {
    fn from(err: RefundError) -> Self {
        match err {
            RefundError::NotFound => ApiError::NotFound,
            RefundError::NotActingFor => ApiError::Forbidden(
                "Admins refund only the upstream merchant's payments; a merchant's own are refunded by that merchant.",
            ),
            RefundError::NotRefundable => ApiError::Conflict(
                "Only a completed payment (succeeded or partially_refunded) can be refunded.",
            ),
            RefundError::Refused(Refused::NothingLeft) => {
                ApiError::Conflict("Nothing is left to refund on this payment.")
            }
            RefundError::Refused(Refused::Exceeds { .. }) => {
                ApiError::Conflict("The refund exceeds what is left to refund on this payment.")
            }
            // Contention outlasting the retries is transient, like an outage: 503 + Retry-After.
            RefundError::Contended => ApiError::Unavailable(err.to_string()),
            // An outage answers 503 + Retry-After, as the payment routes do.
            RefundError::Store(err) => err.into(),
            RefundError::Queue(err) => ApiError::Unavailable(err.to_string()),
        }
    }
}

/// The payment if the caller may see it; another merchant's is "not found".
pub async fn visible(
    store: &DynamoRefunds,
    caller: &Identity,
    id: &PaymentId,
) -> Result<RefundablePayment, RefundError> {
    let payment = store.payment(id).await?.ok_or(RefundError::NotFound)?;
    caller
        .may_see(payment.payment.merchant.as_deref())
        .map_err(|_| RefundError::NotFound)?;
    Ok(payment)
}

/// The payment if the caller may refund it: a merchant its own, an admin the upstream
/// merchant's ([`Identity::acting_for`]).
async fn actionable(
    store: &DynamoRefunds,
    caller: &Identity,
    id: &PaymentId,
) -> Result<RefundablePayment, RefundError> {
    let payment = store.payment(id).await?.ok_or(RefundError::NotFound)?;
    match caller.acting_for(payment.payment.merchant.as_deref()) {
        Ok(_) => Ok(payment),
        Err(ApiError::Forbidden(_)) => Err(RefundError::NotActingFor),
        Err(_) => Err(RefundError::NotFound),
    }
}

/// A short pause before another attempt, growing, with jitter so that contenders spread out.
async fn backoff(attempt: u32) {
    let base = 10u64.saturating_mul(u64::from(attempt.min(10)) + 1);
    // uuid's CSPRNG is the randomness the crate already has; quality hardly matters here.
    let jitter = u64::try_from(uuid::Uuid::new_v4().as_u128() % 20).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

impl<Q: SendDelayed> Refunds<Q> {
    /// Refunds (part of) the caller's payment `payment_id`. Store and queue failures are
    /// reported to the log service here.
    pub async fn create(
        &self,
        caller: &Identity,
        payment_id: PaymentId,
        request: CreateRefund,
    ) -> Result<Created, RefundError> {
        let new = NewRefund::fresh(self.clock.now());
        self.create_as(caller, payment_id, request, new).await
    }

    /// As [`Self::create`], the refund taking `new`'s id and time. When `new` resumes an
    /// earlier attempt that stored the refund, that refund is the answer.
    #[tracing::instrument(skip_all, fields(payment_id = %payment_id, refund_id = %new.id))]
    pub async fn create_as(
        &self,
        caller: &Identity,
        payment_id: PaymentId,
        request: CreateRefund,
        new: NewRefund,
    ) -> Result<Created, RefundError> {
        let result = self.run(caller, payment_id, request, new).await;
        let error_type = match &result {
            Err(RefundError::Store(_)) => Some(ErrorType::Database),
            Err(RefundError::Queue(_)) => Some(ErrorType::Other),
            _ => None,
        };
        if let (Some(error_type), Err(err)) = (error_type, &result) {
            let entry = LogEntry::new(Some(payment_id), error_type, &format!("refund: {err}"));
            self.reporter.report(entry).await;
        }
        result
    }

    async fn run(
        &self,
        caller: &Identity,
        payment_id: PaymentId,
        request: CreateRefund,
        new: NewRefund,
    ) -> Result<Created, RefundError> {
        if new.resumed {
            actionable(&self.store, caller, &payment_id).await?;
            if let Some(refund) = self
                .store
                .refund(&payment_id, new.created_at, &new.id)
                .await?
            {
                // Its pending message (sent before it was written) settles it, if pending.
                let accepted = refund.status == RefundStatus::Pending;
                return Ok(Created { refund, accepted });
            }
        }
        let payment = self.refundable(caller, &payment_id).await?;
        let amount = payment.ledger().resolve(request.amount)?;
        let now = new.created_at;
        let online = payment.payment.payment_type == PaymentType::Online;
        let mut refund = Refund {
            id: new.id,
            payment_id,
            amount,
            currency: payment.payment.currency,
            reason: request.reason.clone(),
            status: if online {
                RefundStatus::Pending
            } else {
                RefundStatus::Succeeded
            },
            created_at: now,
            updated_at: now,
            failure: None,
        };
        if online {
            let message = RefundMessage {
                refund_id: refund.id,
                payment_id,
                created_at: now,
            };
            let body =
                serde_json::to_string(&message).map_err(|e| SendError(format!("message: {e}")))?;
            self.online
                .send_delayed(body, self.completion_delay)
                .await?;
        }
        self.open(caller, payment, &mut refund, request.amount)
            .await?;
        tracing::info!(refund_id = %refund.id, amount = refund.amount.get(), status = ?refund.status, "refund opened");
        if !online {
            return Ok(Created {
                refund,
                accepted: false,
            });
        }
        let completion = Completion {
            store: &self.store,
            gateway: &self.gateway,
            reporter: self.reporter.as_ref(),
            clock: self.clock.as_ref(),
        };
        match completion.attempt(&refund).await {
            Ok(Attempt::Final(refund)) => Ok(Created {
                refund,
                accepted: false,
            }),
            Ok(Attempt::Pending(_)) => Ok(Created {
                refund,
                accepted: true,
            }),
            Err(err) => {
                // The gateway answered but the refund could not be settled: it stays pending
                // and the queued message settles it (the gateway answers the retry from its
                // record of this refund id).
                let entry = LogEntry::new(
                    Some(payment_id),
                    ErrorType::Database,
                    &format!("refund {}: could not be settled: {err}", refund.id),
                );
                self.reporter.report(entry).await;
                Ok(Created {
                    refund,
                    accepted: true,
                })
            }
        }
    }

    async fn refundable(
        &self,
        caller: &Identity,
        id: &PaymentId,
    ) -> Result<RefundablePayment, RefundError> {
        let payment = actionable(&self.store, caller, id).await?;
        if !refundable(payment.payment.status) {
            return Err(RefundError::NotRefundable);
        }
        Ok(payment)
    }

    /// Stores the refund with its effect on the payment, re-reading the payment after each
    /// concurrent change (and recomputing "the rest" when no amount was asked for).
    async fn open(
        &self,
        caller: &Identity,
        mut payment: RefundablePayment,
        refund: &mut Refund,
        requested: Option<MinorUnits>,
    ) -> Result<(), RefundError> {
        let settled = refund.status == RefundStatus::Succeeded;
        for attempt in 0..MAX_ATTEMPTS {
            let next = payment.ledger().open(refund.amount, settled)?;
            match self.store.open(&payment, next, refund).await {
                Ok(()) => return Ok(()),
                Err(RefundWriteError::Conflict) => {
                    backoff(attempt).await;
                    payment = self.refundable(caller, &refund.payment_id).await?;
                    refund.amount = payment.ledger().resolve(requested)?;
                }
                Err(RefundWriteError::Store(err)) => return Err(err.into()),
                Err(RefundWriteError::NotPending) => {
                    return Err(StoreError::Request("a new refund was not pending".into()).into());
                }
            }
        }
        Err(RefundError::Contended)
    }
}

/// What finishing a pending refund needs; the request and the validator each lend theirs.
pub struct Completion<'a> {
    pub store: &'a DynamoRefunds,
    pub gateway: &'a GatewayClient,
    pub reporter: &'a dyn ErrorReporter,
    pub clock: &'a dyn Clock,
}

/// What one attempt at a pending refund came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// `succeeded` or `failed`, as stored.
    Final(Refund),
    /// No final answer from the gateway: still `pending`, to be tried again.
    Pending(TransientFailure),
}

impl Completion<'_> {
    /// Asks the gateway to refund `pending` (it deduplicates on the refund id, so asking again
    /// is safe) and settles a final answer. Every gateway error is reported to the log service
    /// (`network` transient, `other` refused). Errs only when the store does.
    #[tracing::instrument(skip_all, fields(payment_id = %pending.payment_id, refund_id = %pending.id))]
    pub async fn attempt(&self, pending: &Refund) -> Result<Attempt, StoreError> {
        let request = RefundRequest {
            payment_id: pending.payment_id,
            refund_id: pending.id.uuid(),
            amount: pending.amount,
        };
        let outcome = self.gateway.refund(&request).await;
        if let Some(entry) = outcome.log_entry(pending.payment_id) {
            self.reporter.report(entry).await;
        }
        let failure = match outcome {
            RefundOutcome::Refunded => None,
            RefundOutcome::Rejected(rejection) => Some(Failure {
                error_type: FailureKind::Declined,
                message: format!("the gateway rejected the refund ({rejection})"),
                unanswered_since: None,
            }),
            RefundOutcome::Transient(failure) => return Ok(Attempt::Pending(failure)),
        };
        self.settle(pending, failure).await.map(Attempt::Final)
    }

    /// Makes `pending` final (`failed` with `failure`, else `succeeded`) together with its
    /// payment; when another path settled it first, returns what that one stored.
    async fn settle(
        &self,
        pending: &Refund,
        failure: Option<Failure>,
    ) -> Result<Refund, StoreError> {
        let mut settled = pending.clone();
        settled.status = if failure.is_some() {
            RefundStatus::Failed
        } else {
            RefundStatus::Succeeded
        };
        settled.failure = failure;
        settled.updated_at = self.clock.now();
        let succeeded = settled.status == RefundStatus::Succeeded;
        for attempt in 0..MAX_ATTEMPTS {
            let payment = self
                .store
                .payment(&pending.payment_id)
                .await?
                .ok_or_else(|| StoreError::Request("the refunded payment is missing".into()))?;
            let next = payment.ledger().settle(pending.amount, succeeded);
            match self.store.settle(&payment, next, &settled).await {
                Ok(()) => {
                    tracing::info!(status = ?settled.status, "refund settled");
                    return Ok(settled);
                }
                Err(RefundWriteError::Conflict) => backoff(attempt).await,
                Err(RefundWriteError::NotPending) => {
                    return self
                        .store
                        .refund(&pending.payment_id, pending.created_at, &pending.id)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Request("the settled refund is missing".into())
                        });
                }
                Err(RefundWriteError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Request(
            "the payment kept changing under concurrent refunds".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_a_503_to_retry_and_a_refusal_a_409() {
        let status = |err: RefundError| ApiError::from(err).problem().status;
        assert_eq!(
            status(RefundError::Store(StoreError::Unavailable(
                "timeout".into()
            ))),
            503
        );
        assert_eq!(status(RefundError::Queue(SendError("refused".into()))), 503);
        assert_eq!(status(RefundError::Refused(Refused::NothingLeft)), 409);
    }
}
