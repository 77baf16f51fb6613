//! How a payment and the aggregate counters are stored as DynamoDB items.

use super::keys::{self, PENDING_SHARDS, REPORT_SHARDS};
use crate::domain::{Payment, PaymentStatus, Timestamp};
use serde::{Deserialize, Serialize};

/// A payment as stored: the payment's fields, its keys, and, only while it is completed, the
/// attributes that put it into the report indexes; only while it is pending, those that put it
/// into `by_pending` (so all those indexes are sparse).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentItem {
    pub pk: String,
    pub sk: String,
    #[serde(flatten)]
    pub payment: Payment,
    /// Sort key of the per-merchant and per-account listings (`by_merchant`, `by_account`).
    #[serde(default)]
    pub otime: String,
    /// Bumped by every write: each update is conditional on the version it read.
    #[serde(default)]
    pub version: u64,
    /// The card number (or wallet token) the gateway still needs, AES-256-GCM sealed; removed
    /// when the payment reaches a final state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_sealed: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportKeys>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingKeys>,
}

/// The `by_pending` index's key: which partition, and since when the payment is pending (its
/// `updated_at` as written by the write that made it pending; no write keeps a payment pending).
/// The reconciler reads this index to find payments whose queue message may be lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingKeys {
    pub pending_shard: String,
    pub pending_since: String,
}

impl PendingKeys {
    pub fn of(payment: &Payment) -> Self {
        PendingKeys {
            pending_shard: keys::pending_partition(payment.id.shard(PENDING_SHARDS)),
            pending_since: keys::time_key(payment.updated_at, &payment.id.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportKeys {
    pub rpt_day: String,
    pub rpt_card_day: String,
    pub rpt_country_day: String,
    pub rpt_time: String,
}

impl ReportKeys {
    pub fn of(payment: &Payment) -> Self {
        let day = payment.created_at.day();
        let shard = payment.id.shard(REPORT_SHARDS);
        ReportKeys {
            rpt_day: keys::day_partition(day, shard),
            rpt_card_day: keys::card_day_partition(payment.card_type, day, shard),
            rpt_country_day: keys::country_day_partition(payment.country, day, shard),
            rpt_time: keys::time_key(payment.created_at, &payment.id.to_string()),
        }
    }
}

impl PaymentItem {
    pub fn of(payment: Payment) -> Self {
        Self::stored(payment, 0, None)
    }

    pub fn stored(payment: Payment, version: u64, card_sealed: Option<String>) -> Self {
        let report = payment
            .status
            .is_completed()
            .then(|| ReportKeys::of(&payment));
        let pending = (payment.status == PaymentStatus::Pending).then(|| PendingKeys::of(&payment));
        PaymentItem {
            pk: keys::payment_pk(&payment.id),
            sk: keys::PAYMENT_SK.to_owned(),
            otime: keys::time_key(payment.created_at, &payment.id.to_string()),
            version,
            card_sealed,
            payment,
            report,
            pending,
        }
    }
}

/// The position of a payment in the newest-first order of every report: time, then id.
pub fn order_key(payment: &Payment) -> (Timestamp, String) {
    (payment.created_at, payment.id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccountId, CardType, Country, Currency, MinorUnits, PaymentId, PaymentMethod, PaymentType,
    };

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: PaymentId::new(),
            account_id: AccountId::new(7),
            payment_type: PaymentType::Online,
            method: PaymentMethod::Wallet,
            card_type: CardType::Paypal,
            card: None,
            amount: MinorUnits::new(1250).unwrap_or_else(|_| unreachable!()),
            currency: Currency::parse("EUR").unwrap_or_else(|_| unreachable!()),
            vendor: "v".to_owned(),
            address: "a".to_owned(),
            country: Country::parse("DE").unwrap_or_else(|_| unreachable!()),
            status,
            created_at: Timestamp::from_millis(1_000),
            updated_at: Timestamp::from_millis(5_000),
            refunded_amount: 0,
            failure: None,
            merchant: None,
        }
    }

    #[test]
    fn only_a_pending_payment_is_in_the_pending_index_keyed_by_when_it_became_pending() {
        for status in [
            PaymentStatus::Created,
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Declined,
            PaymentStatus::Failed,
        ] {
            let p = payment(status);
            let item = PaymentItem::stored(p.clone(), 1, None);
            assert_eq!(item.pending.is_some(), status == PaymentStatus::Pending);
            if let Some(keys) = item.pending {
                assert!(keys.pending_shard.starts_with("PENDING#"));
                assert_eq!(
                    keys.pending_since,
                    keys::time_key(p.updated_at, &p.id.to_string())
                );
            }
        }
    }

    #[test]
    fn the_pending_keys_round_trip_through_an_item_and_vanish_when_final()
    -> Result<(), serde_dynamo::Error> {
        let p = payment(PaymentStatus::Pending);
        let stored: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(PaymentItem::stored(p.clone(), 1, Some("v1.k.x".into())))?;
        assert!(stored.contains_key(keys::attr::PENDING_SHARD));
        let back: PaymentItem = serde_dynamo::from_item(stored)?;
        assert_eq!(back.pending, Some(PendingKeys::of(&p)));
        assert_eq!(back.payment.status, PaymentStatus::Pending);
        let mut done = p;
        done.status = PaymentStatus::Succeeded;
        let final_item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(PaymentItem::stored(done, 2, None))?;
        assert!(!final_item.contains_key(keys::attr::PENDING_SHARD));
        assert!(!final_item.contains_key(keys::attr::PENDING_SINCE));
        Ok(())
    }
}
