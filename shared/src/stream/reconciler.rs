//! The reconciler: the safety net under the online queue. A payment is stored `pending` with
//! its card sealed on the item, and its message goes on the `online` queue; if that message is
//! lost (a send that failed after the write, an SQS outage, a consumer that died mid-batch),
//! nothing else would ever finish the payment. On a schedule, the reconciler reads the payments
//! pending for longer than any healthy message takes (`by_pending`, a sparse index) and sends
//! their message again, built from the stored payment. A duplicate is harmless: the validator
//! is idempotent on `payment_id` and the gateway deduplicates charges.
//!
//! It also ends what only it can end: a payment the validator kept `pending` because a charge
//! went unanswered (the gateway may have charged; `failure.unanswered_since` set) is re-sent
//! like any other until an answer comes, but once it has been unanswered for longer than
//! `deadline` (`UNANSWERED_DEADLINE_SECONDS`, 24 h) it is marked `failed` (`network`), its
//! sealed card dropped, reported and counted for an alarm, and never re-sent again.
//!
//! Every re-sent payment is reported to the log service (`other`), a payment given up at the
//! deadline as `network`, a store that cannot be read or written as `database`.

use crate::domain::{
    Clock, Failure, FailureKind, PaymentId, PaymentStatus, PaymentType, Timestamp,
};
use crate::logservice::{ErrorReporter, ErrorType, LogEntry};
use crate::payments::StreamMessage;
use crate::queue::SendMessage;
use crate::store::StoreError;
use crate::store::payments::{PaymentWriteError, StoredPayment};
use crate::store::pending::{FailPending, FindPending};
use crate::telemetry::record;
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Most payments one run re-sends: far more than a healthy system ever strands, few enough to
/// finish well inside the function's timeout; the next run takes the rest.
pub const MAX_PER_RUN: usize = 1000;
/// Sends in flight at once.
const CONCURRENCY: usize = 16;

/// How long a payment may stay unanswered before the reconciler gives up on it (24 h): well
/// past any gateway outage worth waiting out, and well inside the 3 days its webhooks retry.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(86_400);

/// What the reconciler needs, built once per cold start.
pub struct Reconciler<P, Q, F> {
    pub pending: P,
    pub online: Q,
    /// Marks a payment `failed` at its deadline.
    pub store: F,
    pub reporter: Arc<dyn ErrorReporter>,
    pub clock: Arc<dyn Clock>,
    /// How long a payment may stay pending before its message counts as lost
    /// (`RECONCILE_AFTER_SECONDS`): longer than the validator's retries of one message take.
    pub after: Duration,
    /// How long a charge may stay unanswered (`UNANSWERED_DEADLINE_SECONDS`), counted from
    /// `failure.unanswered_since`, before the payment is marked `failed`.
    pub deadline: Duration,
}

/// The answer of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Payments found pending since before the cut-off.
    pub stale: usize,
    /// Their messages sent again.
    pub resent: usize,
    /// Sends that failed (the next run tries again).
    pub failed: usize,
    /// Pending payments that cannot be re-sent (no sealed card on the item).
    pub unsendable: usize,
    /// Unanswered payments past their deadline, marked `failed` instead of re-sent.
    pub given_up: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the pending payments could not be read: {0}")]
pub struct ReconcileError(#[from] StoreError);

enum Resend {
    Sent,
    Failed,
    Unsendable,
    GivenUp,
    /// Changed while the run looked at it: nothing done.
    Changed,
}

impl<P: FindPending, Q: SendMessage, F: FailPending> Reconciler<P, Q, F> {
    /// Re-sends the message of every payment pending since before now − `after`.
    pub async fn run(&self) -> Result<Summary, ReconcileError> {
        let now = self.clock.now();
        let after_ms = i64::try_from(self.after.as_millis()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::from_millis(now.millis().saturating_sub(after_ms));
        let stale = match self.pending.pending_before(cutoff, MAX_PER_RUN).await {
            Ok(stale) => stale,
            Err(err) => {
                let description = format!("reconciler: pending payments unreadable: {err}");
                self.reporter
                    .report(LogEntry::new(None, ErrorType::Database, &description))
                    .await;
                return Err(err.into());
            }
        };
        let outcomes: Vec<Resend> = futures::stream::iter(&stale)
            .map(|stored| self.resend(stored, now))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut summary = Summary {
            stale: stale.len(),
            ..Summary::default()
        };
        for outcome in outcomes {
            match outcome {
                Resend::Sent => summary.resent += 1,
                Resend::Failed => summary.failed += 1,
                Resend::Unsendable => summary.unsendable += 1,
                Resend::GivenUp => summary.given_up += 1,
                Resend::Changed => {}
            }
        }
        tracing::info!(
            stale = summary.stale,
            resent = summary.resent,
            failed = summary.failed,
            unsendable = summary.unsendable,
            given_up = summary.given_up,
            "reconciled pending payments"
        );
        Ok(summary)
    }

    async fn resend(&self, stored: &StoredPayment, now: Timestamp) -> Resend {
        let payment = &stored.payment;
        let deadline_ms = i64::try_from(self.deadline.as_millis()).unwrap_or(i64::MAX);
        if let Some(since) = payment.failure.as_ref().and_then(|f| f.unanswered_since)
            && now.millis().saturating_sub(since.millis()) >= deadline_ms
        {
            return self.give_up(stored, since, now).await;
        }
        let waited_s = (now.millis() - payment.updated_at.millis()) / 1000;
        let sealed = match (&stored.card_sealed, payment.payment_type) {
            (Some(sealed), PaymentType::Online) => sealed,
            // Not written by payrail's own code paths: say so every run until someone looks.
            _ => {
                let why = format!(
                    "reconciler: pending for {waited_s} s but cannot be re-sent (no sealed card, \
                     or not an online payment)"
                );
                self.report(payment.id, &why).await;
                return Resend::Unsendable;
            }
        };
        let message = StreamMessage::of(payment, sealed);
        let sent = match serde_json::to_string(&message) {
            Ok(body) => self.online.send(body).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("message: {e}")),
        };
        match sent {
            Ok(()) => {
                let what = format!(
                    "reconciler: pending for {waited_s} s, its message presumed lost: re-sent to \
                     the online queue"
                );
                self.report(payment.id, &what).await;
                Resend::Sent
            }
            Err(cause) => {
                let what = format!("reconciler: pending for {waited_s} s, re-send failed: {cause}");
                self.report(payment.id, &what).await;
                Resend::Failed
            }
        }
    }

    /// Unanswered since `since`, past the deadline: `failed` (`network`), the sealed card
    /// dropped, no more re-sends. Written over the version read, so an answer that came
    /// meanwhile wins (the write conflicts and nothing changes).
    async fn give_up(&self, stored: &StoredPayment, since: Timestamp, now: Timestamp) -> Resend {
        let mut failed = stored.payment.clone();
        let hours = (now.millis() - since.millis()) / 3_600_000;
        let why = format!(
            "no answer from the gateway for {hours} h (deadline {} h): given up; the gateway may \
             have charged, so check with it before charging the customer again",
            self.deadline.as_secs() / 3600
        );
        failed.status = PaymentStatus::Failed;
        failed.updated_at = now;
        failed.failure = Some(Failure {
            error_type: FailureKind::Network,
            message: why.clone(),
            unanswered_since: Some(since),
        });
        match self.store.fail(stored, &failed).await {
            Ok(()) => {
                record::charge_given_up();
                tracing::warn!(payment_id = %failed.id, unanswered_since = since.millis(), "unanswered past the deadline: marked failed");
                self.reporter
                    .report(LogEntry::new(Some(failed.id), ErrorType::Network, &why))
                    .await;
                Resend::GivenUp
            }
            // Changed since it was read (an answer came): the next run sees what it is now.
            Err(PaymentWriteError::Conflict) => Resend::Changed,
            Err(err) => {
                let what = format!("reconciler: could not mark the payment failed: {err}");
                self.reporter
                    .report(LogEntry::new(Some(failed.id), ErrorType::Database, &what))
                    .await;
                Resend::Failed
            }
        }
    }

    async fn report(&self, id: PaymentId, description: &str) {
        self.reporter
            .report(LogEntry::new(Some(id), ErrorType::Other, description))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccountId, CardType, Country, Currency, FixedClock, MinorUnits, Payment, PaymentMethod,
    };
    use crate::logservice::MemoryReporter;
    use crate::queue::SendError;
    use std::sync::Mutex;

    const NOW: i64 = 1_800_000_000_000;

    struct Pending(Result<Vec<StoredPayment>, ()>);

    impl FindPending for Pending {
        async fn pending_before(
            &self,
            cutoff: Timestamp,
            limit: usize,
        ) -> Result<Vec<StoredPayment>, StoreError> {
            let all = self
                .0
                .clone()
                .map_err(|()| StoreError::Request("connection refused".into()))?;
            Ok(all
                .into_iter()
                .filter(|s| s.payment.updated_at < cutoff)
                .take(limit)
                .collect())
        }
    }

    #[derive(Default)]
    struct Queue {
        sent: Mutex<Vec<String>>,
        down: bool,
    }

    impl SendMessage for Queue {
        async fn send(&self, body: String) -> Result<(), SendError> {
            if self.down {
                return Err(SendError("connection refused".into()));
            }
            self.sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(body);
            Ok(())
        }
    }

    fn pending(updated_ago_ms: i64, sealed: Option<&str>) -> StoredPayment {
        let at = Timestamp::from_millis(NOW - updated_ago_ms);
        StoredPayment {
            payment: Payment {
                id: PaymentId::new(),
                account_id: AccountId::new(3),
                payment_type: PaymentType::Online,
                method: PaymentMethod::Wallet,
                card_type: CardType::Paypal,
                card: None,
                amount: MinorUnits::new(4200).unwrap_or_else(|_| unreachable!()),
                currency: Currency::parse("GBP").unwrap_or_else(|_| unreachable!()),
                vendor: "Alice's Shop".into(),
                address: "1 Road".into(),
                country: Country::parse("GB").unwrap_or_else(|_| unreachable!()),
                status: PaymentStatus::Pending,
                created_at: at,
                updated_at: at,
                refunded_amount: 0,
                failure: None,
                merchant: Some("Alice's Shop".into()),
            },
            version: 1,
            card_sealed: sealed.map(str::to_owned),
        }
    }

    /// The payments marked failed; `conflict` answers every write as changed meanwhile.
    #[derive(Default)]
    struct Store {
        failed: Mutex<Vec<Payment>>,
        conflict: bool,
    }

    impl FailPending for Store {
        async fn fail(
            &self,
            _pending: &StoredPayment,
            failed: &Payment,
        ) -> Result<(), PaymentWriteError> {
            if self.conflict {
                return Err(PaymentWriteError::Conflict);
            }
            self.failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(failed.clone());
            Ok(())
        }
    }

    fn reconciler(
        found: Result<Vec<StoredPayment>, ()>,
        queue: Queue,
    ) -> (Reconciler<Pending, Queue, Store>, Arc<MemoryReporter>) {
        let reporter = Arc::new(MemoryReporter::new());
        let r = Reconciler {
            pending: Pending(found),
            online: queue,
            store: Store::default(),
            reporter: reporter.clone(),
            clock: Arc::new(FixedClock(Timestamp::from_millis(NOW))),
            after: Duration::from_secs(120),
            deadline: DEFAULT_DEADLINE,
        };
        (r, reporter)
    }

    /// A payment kept pending by the validator: unanswered since `since_ago_ms`.
    fn unanswered(since_ago_ms: i64) -> StoredPayment {
        let mut stored = pending(300_000, Some("v1.kid.sealed"));
        stored.payment.failure = Some(Failure {
            error_type: FailureKind::Network,
            message: "no answer after 5 deliveries".into(),
            unanswered_since: Some(Timestamp::from_millis(NOW - since_ago_ms)),
        });
        stored
    }

    #[tokio::test]
    async fn an_unanswered_payment_is_re_sent_until_its_deadline_then_failed_once()
    -> Result<(), ReconcileError> {
        let day_ms = 86_400_000;
        let young = unanswered(day_ms - 60_000);
        let old = unanswered(day_ms);
        let (r, reporter) = reconciler(Ok(vec![young.clone(), old.clone()]), Queue::default());

        let summary = r.run().await?;

        assert_eq!((summary.resent, summary.given_up), (1, 1), "{summary:?}");
        let sent = r.online.sent.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains(&young.payment.id.to_string()));
        let failed = r.store.failed.lock().map(|f| f.clone()).unwrap_or_default();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, old.payment.id);
        assert_eq!(failed[0].status, PaymentStatus::Failed);
        assert_eq!(failed[0].updated_at, Timestamp::from_millis(NOW));
        let failure = failed[0].failure.clone().unwrap_or_else(|| unreachable!());
        assert_eq!(failure.error_type, FailureKind::Network);
        assert_eq!(
            failure.unanswered_since,
            Some(Timestamp::from_millis(NOW - day_ms))
        );
        let given_up: Vec<_> = reporter
            .entries()
            .into_iter()
            .filter(|e| e.payment_id() == Some(old.payment.id))
            .collect();
        assert_eq!(given_up.len(), 1);
        assert_eq!(given_up[0].error_type(), ErrorType::Network);
        Ok(())
    }

    #[tokio::test]
    async fn a_payment_answered_meanwhile_is_neither_failed_nor_re_sent()
    -> Result<(), ReconcileError> {
        let (mut r, _) = reconciler(Ok(vec![unanswered(90_000_000)]), Queue::default());
        r.store.conflict = true;

        let summary = r.run().await?;

        assert_eq!(
            (
                summary.stale,
                summary.resent,
                summary.given_up,
                summary.failed
            ),
            (1, 0, 0, 0)
        );
        assert!(r.online.sent.lock().map(|s| s.is_empty()).unwrap_or(false));
        Ok(())
    }

    #[tokio::test]
    async fn resends_only_payments_pending_longer_than_the_delay_with_their_sealed_card()
    -> Result<(), ReconcileError> {
        let stale = pending(300_000, Some("v1.kid.sealed"));
        let fresh = pending(30_000, Some("v1.kid.other"));
        let (r, reporter) = reconciler(Ok(vec![stale.clone(), fresh]), Queue::default());

        let summary = r.run().await?;

        assert_eq!(
            summary,
            Summary {
                stale: 1,
                resent: 1,
                failed: 0,
                unsendable: 0,
                given_up: 0,
            }
        );
        let sent = r.online.sent.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(sent.len(), 1);
        let message: serde_json::Value = serde_json::from_str(&sent[0]).unwrap_or_default();
        assert_eq!(message["payment_id"], stale.payment.id.to_string());
        assert_eq!(message["credit_card"], "v1.kid.sealed");
        assert_eq!(message["amount"], 4200);
        assert_eq!(message["payment_type"], "online");
        let entries = reporter.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].payment_id(), Some(stale.payment.id));
        assert_eq!(entries[0].error_type(), ErrorType::Other);
        assert!(entries[0].error_description().contains("re-sent"));
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_send_or_a_missing_card_is_counted_and_reported() -> Result<(), ReconcileError>
    {
        let queue = Queue {
            down: true,
            ..Queue::default()
        };
        let (r, reporter) = reconciler(
            Ok(vec![
                pending(200_000, Some("v1.k.s")),
                pending(200_000, None),
            ]),
            queue,
        );

        let summary = r.run().await?;

        assert_eq!(
            (summary.failed, summary.unsendable, summary.resent),
            (1, 1, 0)
        );
        let descriptions: Vec<String> = reporter
            .entries()
            .iter()
            .map(|e| e.error_description().to_owned())
            .collect();
        assert!(descriptions.iter().any(|d| d.contains("re-send failed")));
        assert!(descriptions.iter().any(|d| d.contains("cannot be re-sent")));
        Ok(())
    }

    #[tokio::test]
    async fn an_unreadable_store_is_an_error_reported_as_database() {
        let (r, reporter) = reconciler(Err(()), Queue::default());

        let result = r.run().await;

        assert!(result.is_err());
        let entries = reporter.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].error_type(), ErrorType::Database);
        assert_eq!(entries[0].payment_id(), None);
    }
}
