//! Refunds of completed payments (SPEC §2 Refund, §3 POST/GET /payments/{id}/refunds).
//!
//! A refund is `pending` while the gateway has not answered finally (online payments only),
//! then `succeeded` or `failed`; an offline payment's refund succeeds at once. What a payment's
//! amount is committed to is its [`RefundLedger`]: `refunded` (succeeded refunds) plus
//! `reserved` (pending ones), never more than the amount.

pub mod message;
pub mod request;
pub mod service;
pub mod store;

use crate::domain::{Currency, Failure, MinorUnits, PaymentId, PaymentStatus, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

pub use message::RefundMessage;
pub use request::CreateRefund;
pub use service::{Attempt, Completion, Created, RefundError, Refunds};
pub use store::{DynamoRefunds, RefundablePayment};

/// A refund's id: UUID v4, like payment ids; the gateway deduplicates refunds on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefundId(Uuid);

impl RefundId {
    pub fn new() -> Self {
        RefundId(Uuid::new_v4())
    }

    pub fn uuid(&self) -> Uuid {
        self.0
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        RefundId(uuid)
    }
}

impl Default for RefundId {
    fn default() -> Self {
        RefundId::new()
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Sent to the gateway, no final answer yet: its amount is reserved on the payment.
    Pending,
    Succeeded,
    /// The gateway refused it; nothing was refunded.
    Failed,
}

/// One refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: MinorUnits,
    /// The payment's currency.
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// Why a refund of this amount cannot be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("nothing is left to refund")]
    NothingLeft,
    #[error("the refund exceeds what is left to refund ({left})")]
    Exceeds { left: u64 },
}

/// A payment's amount and what is committed of it, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundLedger {
    pub amount: u64,
    /// Sum of succeeded refunds (the payment's `refunded_amount`).
    pub refunded: u64,
    /// Sum of pending refunds.
    pub reserved: u64,
}

impl RefundLedger {
    /// What a new refund may still take.
    pub fn left(&self) -> u64 {
        self.amount
            .saturating_sub(self.refunded.saturating_add(self.reserved))
    }

    /// The amount of a new refund: the one asked for, or all that is left.
    pub fn resolve(&self, requested: Option<MinorUnits>) -> Result<MinorUnits, Refused> {
        let left = self.left();
        match requested {
            Some(amount) if amount.get() <= left => Ok(amount),
            Some(_) => Err(Refused::Exceeds { left }),
            None => MinorUnits::new(left).map_err(|_| Refused::NothingLeft),
        }
    }

    /// The ledger once a refund of `amount` is opened: refunded at once when `settled`
    /// (offline), reserved otherwise (online, until the gateway answers).
    pub fn open(&self, amount: MinorUnits, settled: bool) -> Result<RefundLedger, Refused> {
        self.resolve(Some(amount))?;
        let mut next = *self;
        if settled {
            next.refunded += amount.get();
        } else {
            next.reserved += amount.get();
        }
        Ok(next)
    }

    /// The ledger once a pending refund of `amount` is final: its reservation released, and
    /// added to `refunded` if it succeeded.
    pub fn settle(&self, amount: MinorUnits, succeeded: bool) -> RefundLedger {
        let mut next = *self;
        next.reserved = next.reserved.saturating_sub(amount.get());
        if succeeded {
            next.refunded = next.refunded.saturating_add(amount.get());
        }
        next
    }

    /// The payment's status for this ledger: only succeeded refunds count.
    pub fn status(&self) -> PaymentStatus {
        if self.refunded == 0 {
            PaymentStatus::Succeeded
        } else if self.refunded >= self.amount {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    }
}

/// Whether a payment in this status may be refunded: only a completed one with money left.
pub fn refundable(status: PaymentStatus) -> bool {
    match status {
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded => true,
        PaymentStatus::Created
        | PaymentStatus::Pending
        | PaymentStatus::Declined
        | PaymentStatus::Failed
        | PaymentStatus::Refunded => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn units(n: u64) -> MinorUnits {
        MinorUnits::new(n).unwrap_or_else(|_| unreachable!("test amounts are positive"))
    }

    fn ledger(amount: u64) -> RefundLedger {
        RefundLedger {
            amount,
            refunded: 0,
            reserved: 0,
        }
    }

    #[test]
    fn no_amount_means_everything_that_is_left() {
        let l = RefundLedger {
            amount: 1000,
            refunded: 300,
            reserved: 200,
        };
        assert_eq!(l.resolve(None), Ok(units(500)));
        let spent = RefundLedger { refunded: 800, ..l };
        assert_eq!(spent.resolve(None), Err(Refused::NothingLeft));
    }

    #[test]
    fn refuses_more_than_is_left_counting_pending_refunds() {
        let l = RefundLedger {
            amount: 1000,
            refunded: 300,
            reserved: 600,
        };
        assert_eq!(
            l.open(units(101), false),
            Err(Refused::Exceeds { left: 100 })
        );
        assert!(l.open(units(100), true).is_ok());
    }

    #[test]
    fn the_status_follows_succeeded_refunds_only() -> Result<(), Refused> {
        let l = ledger(1000).open(units(400), false)?;
        assert_eq!(l.status(), PaymentStatus::Succeeded);
        let l = l.settle(units(400), true);
        assert_eq!(l.status(), PaymentStatus::PartiallyRefunded);
        let l = l.open(units(600), true)?;
        assert_eq!(l.status(), PaymentStatus::Refunded);
        assert_eq!(l.left(), 0);
        Ok(())
    }

    #[test]
    fn a_failed_refund_gives_its_reservation_back() -> Result<(), Refused> {
        let l = ledger(1000).open(units(1000), false)?;
        assert_eq!(l.left(), 0);
        let l = l.settle(units(1000), false);
        assert_eq!(l, ledger(1000));
        Ok(())
    }

    #[test]
    fn only_succeeded_and_partially_refunded_payments_are_refundable() {
        assert!(refundable(PaymentStatus::Succeeded));
        assert!(refundable(PaymentStatus::PartiallyRefunded));
        for status in [
            PaymentStatus::Created,
            PaymentStatus::Pending,
            PaymentStatus::Declined,
            PaymentStatus::Failed,
            PaymentStatus::Refunded,
        ] {
            assert!(!refundable(status), "{status:?}");
        }
    }

    proptest! {
        /// Whatever refunds are asked for, and however they end, the committed sum never
        /// exceeds the amount and `refunded` is the sum of the succeeded ones.
        #[test]
        fn never_commits_more_than_the_amount(
            amount in 1u64..100_000,
            asks in proptest::collection::vec((proptest::option::of(1u64..50_000), any::<bool>(), any::<bool>()), 0..40),
        ) {
            let mut l = ledger(amount);
            let mut succeeded = 0u64;
            for (ask, online, ok) in asks {
                let requested = ask.and_then(|a| MinorUnits::new(a).ok());
                let Ok(a) = l.resolve(requested) else { continue };
                l = l.open(a, !online).map_err(|e| TestCaseError::fail(e.to_string()))?;
                if online {
                    l = l.settle(a, ok);
                    if ok { succeeded += a.get(); }
                } else {
                    succeeded += a.get();
                }
                prop_assert!(l.refunded + l.reserved <= amount);
            }
            prop_assert_eq!(l.refunded, succeeded);
            prop_assert_eq!(l.reserved, 0);
        }
    }
}
