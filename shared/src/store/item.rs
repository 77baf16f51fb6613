//! How a payment and the aggregate counters are stored as DynamoDB items.

use super::keys::{self, REPORT_SHARDS};
use crate::domain::{Payment, Timestamp};
use serde::{Deserialize, Serialize};

/// A payment as stored: the payment's fields, its keys, and, only while it is completed, the
/// attributes that put it into the report indexes (so those indexes are sparse).
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
        PaymentItem {
            pk: keys::payment_pk(&payment.id),
            sk: keys::PAYMENT_SK.to_owned(),
            otime: keys::time_key(payment.created_at, &payment.id.to_string()),
            version,
            card_sealed,
            payment,
            report,
        }
    }
}

/// The position of a payment in the newest-first order of every report: time, then id.
pub fn order_key(payment: &Payment) -> (Timestamp, String) {
    (payment.created_at, payment.id.to_string())
}
