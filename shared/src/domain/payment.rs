//! The payment (a "transaction" in the reports) as payrail records it.

use super::card::{CardSummary, CardType};
use super::country::Country;
use super::ids::{AccountId, PaymentId};
use super::money::{Currency, MinorUnits};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentType {
    Online,
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CreditCard,
    DebitCard,
    Wallet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Created,
    Pending,
    Succeeded,
    Declined,
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    /// A completed payment counts as a transaction in the reports.
    pub fn is_completed(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Database,
    Network,
    Other,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub error_type: FailureKind,
    pub message: String,
    /// On a payment kept `pending` because the gateway may have charged it (a charge sent and
    /// never answered, on its message's last delivery): when that first happened. The
    /// reconciler re-sends the payment until an answer comes or this is older than its
    /// deadline (docs/design.md, "Unanswered charges").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_since: Option<Timestamp>,
}

/// One payment. Holds no full card number and no CVC: `card` is a [`CardSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub account_id: AccountId,
    pub payment_type: PaymentType,
    pub method: PaymentMethod,
    pub card_type: CardType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSummary>,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub vendor: String,
    pub address: String,
    pub country: Country,
    pub status: PaymentStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub refunded_amount: u64,
    #[serde(default)]
    pub failure: Option<Failure>,
    /// The id of the merchant that owns the payment (who may see and refund it): the
    /// authenticated merchant's for API payments; for stream payments the message's merchant
    /// id, else its vendor's through the merchant registry, else the reserved upstream
    /// merchant's (`mer_upstream`); none for generated history. A payment stored before owner
    /// ids holds the merchant's name here until `owners backfill` rewrites it: no merchant
    /// sees it meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
}
