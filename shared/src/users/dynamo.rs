//! The users table (template.yaml `UsersTable`, key `username`).

use super::{FindUser, User, Username};
use crate::domain::MerchantId;
use crate::store::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Clone)]
pub struct DynamoUsers {
    client: Client,
    table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("user {0} already exists")]
    Exists(Username),
    #[error("no user {0}")]
    NoSuchUser(Username),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DynamoUsers {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoUsers {
            client,
            table: table.into(),
        }
    }

    /// Adds a user; refuses to replace one (conditional on the name being new).
    pub async fn add(&self, user: &User) -> Result<(), UserWriteError> {
        let item = serde_dynamo::to_item(user).map_err(StoreError::from)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(username)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if StoreError::is_conditional_check_failed(&e) => {
                Err(UserWriteError::Exists(user.username.clone()))
            }
            Err(e) => Err(StoreError::from(e).into()),
        }
    }

    /// Enables or disables an existing user. A disabled user gets no new token; tokens already
    /// issued run out within their lifetime (30 s by default).
    pub async fn set_enabled(
        &self,
        username: &Username,
        enabled: bool,
    ) -> Result<(), UserWriteError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("username", AttributeValue::S(username.as_str().to_owned()))
            .update_expression("SET enabled = :e")
            .condition_expression("attribute_exists(username)")
            .expression_attribute_values(":e", AttributeValue::Bool(enabled))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if StoreError::is_conditional_check_failed(&e) => {
                Err(UserWriteError::NoSuchUser(username.clone()))
            }
            Err(e) => Err(StoreError::from(e).into()),
        }
    }

    /// Gives an existing merchant user of `merchant_id` the display name `name` (a rename of
    /// that merchant: it owns what it owned).
    pub async fn set_merchant_name(
        &self,
        username: &Username,
        merchant_id: &MerchantId,
        name: &str,
    ) -> Result<(), UserWriteError> {
        self.update(
            username,
            "SET merchant = :n",
            "attribute_exists(username) AND merchant_id = :id",
            [
                (":n", AttributeValue::S(name.to_owned())),
                (":id", AttributeValue::S(merchant_id.to_string())),
            ],
        )
        .await
    }

    /// Gives a merchant user written before owner ids its merchant's id (`owners backfill`);
    /// refused if it has one already.
    pub async fn set_merchant_id(
        &self,
        username: &Username,
        merchant_id: &MerchantId,
    ) -> Result<(), UserWriteError> {
        self.update(
            username,
            "SET merchant_id = :id",
            "attribute_exists(username) AND attribute_not_exists(merchant_id)",
            [(":id", AttributeValue::S(merchant_id.to_string()))],
        )
        .await
    }

    async fn update<const N: usize>(
        &self,
        username: &Username,
        update: &str,
        condition: &str,
        values: [(&str, AttributeValue); N],
    ) -> Result<(), UserWriteError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("username", AttributeValue::S(username.as_str().to_owned()))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if StoreError::is_conditional_check_failed(&e) => {
                Err(UserWriteError::NoSuchUser(username.clone()))
            }
            Err(e) => Err(StoreError::from(e).into()),
        }
    }

    /// Writes the merchant registry's item of `id` (`username` = the id, no password: nobody
    /// logs in as it), which the stream's consumers read to accept a message's merchant id,
    /// with the merchant's display name. Creates or renames it.
    pub async fn register_merchant(&self, id: &MerchantId, name: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("username", AttributeValue::S(id.to_string()))
            .item("merchant_id", AttributeValue::S(id.to_string()))
            .item("merchant", AttributeValue::S(name.to_owned()))
            .send()
            .await?;
        Ok(())
    }

    /// Every user, sorted by name. A Scan: the users table is small and only the operator's
    /// command lists it, never a request path.
    pub async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                // Users only: the merchant registry's items have no password.
                .filter_expression("attribute_exists(password_hash)")
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                users.push(serde_dynamo::from_item::<_, User>(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }
}

impl FindUser for DynamoUsers {
    async fn find(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("username", AttributeValue::S(username.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        output
            .item
            .map(serde_dynamo::from_item::<_, User>)
            .transpose()
            .map_err(StoreError::from)
    }
}
