//! Account–merchant links: one item per (account, merchant) that holds a payment of that
//! account to that merchant, in the transactions table (`pk = ACCT#<account>`,
//! `sk = MERCHANT#<merchant>`). It is written in the same transaction as the payment's first
//! write, so a merchant may see an account exactly when the link exists, and it carries the
//! merchant's own `last_payment_date`, moved forward in the transaction that completes one of
//! its payments. The item has none of the index attributes: no listing or report sees it.

use super::error::StoreError;
use super::keys::attr;
use crate::domain::{AccountId, Payment, Timestamp};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

/// The merchant's newest completed payment (unix ms, by `created_at`).
pub const LAST_PAYMENT_DATE: &str = "last_payment_date";
/// The merchant, also in `sk`: set by every link write so that a bare link has an attribute
/// to set (an Update needs one).
pub const LINK_MERCHANT: &str = "link_merchant";

pub fn link_pk(account: AccountId) -> String {
    format!("ACCT#{account}")
}

pub fn link_sk(merchant: &str) -> String {
    format!("MERCHANT#{merchant}")
}

/// What a payment write does to its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEffect {
    /// No link action (the write adds nothing the link records, or the payment has no owner).
    Skip,
    /// The link exists afterwards; its date is left as it is.
    Ensure,
    /// The link exists afterwards and its date moves forward to the payment's `created_at`.
    /// The action's condition fails when the date is already later: the writer then retries
    /// with [`LinkEffect::Ensure`].
    Touch,
}

impl LinkEffect {
    /// The effect of a payment's write: `first` when it is the payment's first write,
    /// `becomes_completed` when the write makes it completed.
    pub fn of(payment: &Payment, first: bool, becomes_completed: bool) -> Self {
        match (&payment.merchant, first, becomes_completed) {
            (None, _, _) => LinkEffect::Skip,
            (Some(_), _, true) => LinkEffect::Touch,
            (Some(_), true, false) => LinkEffect::Ensure,
            (Some(_), false, false) => LinkEffect::Skip,
        }
    }

    /// After the link action's condition failed: the date is already later, keep it.
    pub fn after_failed_condition(self) -> Self {
        match self {
            LinkEffect::Touch => LinkEffect::Ensure,
            other => other,
        }
    }
}

/// The transaction action `effect` asks for on `payment`'s link; none for
/// [`LinkEffect::Skip`] and for a payment without an owner.
pub fn action(
    table: &str,
    payment: &Payment,
    effect: LinkEffect,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let Some(merchant) = payment.merchant.as_deref() else {
        return Ok(None);
    };
    let at = match effect {
        LinkEffect::Skip => return Ok(None),
        LinkEffect::Ensure => None,
        LinkEffect::Touch => Some(payment.created_at),
    };
    Ok(Some(
        TransactWriteItem::builder()
            .update(update(table, payment.account_id, merchant, at)?)
            .build(),
    ))
}

/// An upsert of the link; with `at`, conditional on its date being absent or older.
pub fn update(
    table: &str,
    account: AccountId,
    merchant: &str,
    at: Option<Timestamp>,
) -> Result<Update, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .key(attr::PK, AttributeValue::S(link_pk(account)))
        .key(attr::SK, AttributeValue::S(link_sk(merchant)))
        .expression_attribute_names("#m", LINK_MERCHANT)
        .expression_attribute_values(":m", AttributeValue::S(merchant.to_owned()));
    let update = match at {
        None => update.update_expression("SET #m = :m"),
        Some(at) => update
            .update_expression("SET #m = :m, #lpd = :at")
            .condition_expression("attribute_not_exists(#lpd) OR #lpd < :at")
            .expression_attribute_names("#lpd", LAST_PAYMENT_DATE)
            .expression_attribute_values(":at", AttributeValue::N(at.millis().to_string())),
    };
    Ok(update.build()?)
}

/// A link as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_date: Option<Timestamp>,
}

/// Reads links (GET /accounts/{id} for a merchant).
#[derive(Debug, Clone)]
pub struct DynamoLinks {
    client: Client,
    table: String,
}

impl DynamoLinks {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLinks {
            client,
            table: table.into(),
        }
    }

    /// The link of `account` to `merchant`; none when the merchant holds no payment of it.
    pub async fn get(
        &self,
        account: AccountId,
        merchant: &str,
    ) -> Result<Option<Link>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, AttributeValue::S(link_pk(account)))
            .key(attr::SK, AttributeValue::S(link_sk(merchant)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(match output.item {
            Some(item) => Some(serde_dynamo::from_item(item)?),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CardType, Country, Currency, MinorUnits, PaymentId, PaymentMethod, PaymentStatus,
        PaymentType,
    };

    fn payment(merchant: Option<&str>) -> Payment {
        Payment {
            id: PaymentId::new(),
            account_id: AccountId::new(7),
            payment_type: PaymentType::Offline,
            method: PaymentMethod::Wallet,
            card_type: CardType::Paypal,
            card: None,
            amount: MinorUnits::new(1250).unwrap_or_else(|_| unreachable!()),
            currency: Currency::parse("EUR").unwrap_or_else(|_| unreachable!()),
            vendor: "v".to_owned(),
            address: "a".to_owned(),
            country: Country::parse("DE").unwrap_or_else(|_| unreachable!()),
            status: PaymentStatus::Created,
            created_at: Timestamp::from_millis(1_000),
            updated_at: Timestamp::from_millis(1_000),
            refunded_amount: 0,
            failure: None,
            merchant: merchant.map(str::to_owned),
        }
    }

    #[test]
    fn a_first_write_links_and_completion_dates_and_nothing_else_touches_the_link() {
        let owned = payment(Some("Alice's Shop"));
        assert_eq!(LinkEffect::of(&owned, true, false), LinkEffect::Ensure);
        assert_eq!(LinkEffect::of(&owned, true, true), LinkEffect::Touch);
        assert_eq!(LinkEffect::of(&owned, false, true), LinkEffect::Touch);
        assert_eq!(LinkEffect::of(&owned, false, false), LinkEffect::Skip);
        let unowned = payment(None);
        for (first, completes) in [(true, true), (true, false), (false, true)] {
            assert_eq!(LinkEffect::of(&unowned, first, completes), LinkEffect::Skip);
        }
    }

    #[test]
    fn the_link_carries_no_index_attribute() -> Result<(), StoreError> {
        let Some(action) = action("t", &payment(Some("m")), LinkEffect::Touch)? else {
            unreachable!("an owned payment has a link")
        };
        let update = action.update.unwrap_or_else(|| unreachable!("an update"));
        let names: Vec<&String> = update
            .expression_attribute_names()
            .map(|n| n.values().collect())
            .unwrap_or_default();
        for index_attr in [attr::MERCHANT, attr::ACCOUNT_ID, attr::OTIME] {
            assert!(!names.iter().any(|n| *n == index_attr), "{names:?}");
        }
        assert_eq!(update.key()["pk"], AttributeValue::S("ACCT#7".to_owned()));
        assert_eq!(
            update.key()["sk"],
            AttributeValue::S("MERCHANT#m".to_owned())
        );
        Ok(())
    }
}
