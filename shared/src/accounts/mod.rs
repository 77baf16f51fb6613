//! Paying accounts (template.yaml `AccountsTable`, key `account_id`): a payment must name one,
//! and every stored successful payment moves its `last_payment_date` forward in the same
//! transaction as the payment.

mod dynamo;

pub use dynamo::DynamoAccounts;

use crate::domain::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub account_id: AccountId,
    pub email: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// Unix ms of the newest successful payment (by its `created_at`); none before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_date: Option<Timestamp>,
    pub created_at: Timestamp,
}
