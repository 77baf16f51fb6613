//! The payment stream's message (SPEC §4): what upstream shops and CRMs put on the `online` and
//! `offline` queues, and what the API puts on `online`. Upstream producers send
//! `{payment_id, account_id, payment_type, credit_card, amount}` plus any payment fields; payrail's
//! own producers also send `merchant_id` (the owner), `method` and the card's expiry, and always seal
//! `credit_card` (AES-256-GCM; a clear number from an upstream producer is accepted).

use crate::domain::{AccountId, PaymentType};
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMessage {
    pub payment_id: String,
    pub account_id: AccountId,
    pub payment_type: PaymentType,
    /// The card number (or wallet token): sealed by payrail's producers.
    pub credit_card: String,
    pub amount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// The merchant's name, as payrail's producers sent it before owner ids: read (resolved
    /// through the registry) for messages still in flight across that deploy, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// The owning merchant's id (payrail's producers; an upstream producer may send it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_month: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_year: Option<u16>,
}

impl std::fmt::Debug for StreamMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMessage")
            .field("payment_id", &self.payment_id)
            .field("account_id", &self.account_id)
            .field("payment_type", &self.payment_type)
            .field("credit_card", &"***")
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}
