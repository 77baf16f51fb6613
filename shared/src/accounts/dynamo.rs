use super::Account;
use crate::domain::{AccountId, Timestamp};
use crate::store::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

pub const ACCOUNT_ID: &str = "account_id";
pub const LAST_PAYMENT_DATE: &str = "last_payment_date";

#[derive(Debug, Clone)]
pub struct DynamoAccounts {
    client: Client,
    table: String,
}

fn key(id: AccountId) -> (String, AttributeValue) {
    (ACCOUNT_ID.to_owned(), AttributeValue::N(id.to_string()))
}

impl DynamoAccounts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoAccounts {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let (name, value) = key(id);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(name, value)
            .consistent_read(true)
            .send()
            .await?;
        Ok(match output.item {
            Some(item) => Some(serde_dynamo::from_item(item)?),
            None => None,
        })
    }

    /// Adds an account unless one with its id exists; true when it was added.
    pub async fn add(&self, account: &Account) -> Result<bool, StoreError> {
        let item = serde_dynamo::to_item(account)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(account_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if StoreError::is_conditional_check_failed(&err) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Transaction action: the account exists (nothing written).
    pub fn exists_check(&self, id: AccountId) -> Result<TransactWriteItem, StoreError> {
        let (name, value) = key(id);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(name, value)
            .condition_expression("attribute_exists(account_id)")
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Transaction action: the account exists and its `last_payment_date` moves forward to `at`.
    /// Fails its condition also when the stored date is already later (see
    /// `store::payments`, which then retries with [`Self::exists_check`]).
    pub fn touch(&self, id: AccountId, at: Timestamp) -> Result<TransactWriteItem, StoreError> {
        let (name, value) = key(id);
        let update = Update::builder()
            .table_name(&self.table)
            .key(name, value)
            .update_expression("SET #lpd = :at")
            .condition_expression(
                "attribute_exists(account_id) AND (attribute_not_exists(#lpd) OR #lpd < :at)",
            )
            .expression_attribute_names("#lpd", LAST_PAYMENT_DATE)
            .expression_attribute_values(":at", AttributeValue::N(at.millis().to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
