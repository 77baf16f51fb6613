//! Idempotency-Key on POST /payments: the first request with a key runs, later ones with the same
//! key and body get its response replayed, with another body a 422, while it runs a 409. Kept
//! 24 h (DynamoDB TTL on `expires_at`). Safe under concurrent duplicates because the first step
//! is a conditional put, never a read-then-write.
//!
//! The record also fixes the payment id before anything is written: a request whose Lambda died
//! mid-way leaves an expired lock, and the retry that takes it over creates the payment under the
//! same id, which the conditional create turns into "already there" instead of a second payment.
//! A request that failed on our side (5xx) unlocks its key the same way, keeping the id.

use crate::domain::{PaymentId, Timestamp};
use crate::store::StoreError;
use crate::store::keys::attr;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a key is remembered.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a request holds its key before a retry may take it over (longer than the function's
/// timeout, so a live request is never overtaken).
pub const LOCK_MS: i64 = 60 * 1000;

/// A client's Idempotency-Key: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > 255 {
            return Err("must be 1 to 255 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces");
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }
}

/// Digest of a request body in canonical form (keys sorted, no whitespace), so the same JSON
/// sent with other formatting is the same request.
pub fn body_digest(body: &serde_json::Value) -> String {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A response to replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This request runs, creating its payment under this id.
    Run(PaymentId),
    Replay(StoredResponse),
    InFlight,
    Mismatch,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pk: String,
    sk: String,
    digest: String,
    payment_id: PaymentId,
    /// Unix ms until which the running request holds the key; absent once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locked_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<StoredResponse>,
    /// Unix seconds: DynamoDB's TTL deletes the record after this (within a day or two), and
    /// every read treats it as gone from this moment.
    expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotency {
            client,
            table: table.into(),
        }
    }

    fn pk(merchant: &str, key: &IdempotencyKey) -> String {
        // The merchant's length keeps ("a#b", "c") and ("a", "b#c") apart.
        format!("IDEM#{}:{merchant}#{}", merchant.len(), key.0)
    }

    fn key(pk: &str) -> [(String, AttributeValue); 2] {
        [
            (attr::PK.to_owned(), AttributeValue::S(pk.to_owned())),
            (attr::SK.to_owned(), AttributeValue::S("IDEM".to_owned())),
        ]
    }

    pub async fn begin(
        &self,
        merchant: &str,
        key: &IdempotencyKey,
        digest: &str,
        now: Timestamp,
    ) -> Result<Begin, StoreError> {
        let pk = Self::pk(merchant, key);
        let payment_id = PaymentId::new();
        let record = Record {
            pk: pk.clone(),
            sk: "IDEM".to_owned(),
            digest: digest.to_owned(),
            payment_id,
            locked_until: Some(now.millis() + LOCK_MS),
            response: None,
            expires_at: (now.millis() + RETENTION_MS) / 1000,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(&record)?))
            .condition_expression("attribute_not_exists(#pk) OR expires_at < :now")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(
                ":now",
                AttributeValue::N((now.millis() / 1000).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => return Ok(Begin::Run(payment_id)),
            Err(err) if StoreError::is_conditional_check_failed(&err) => {}
            Err(err) => return Err(err.into()),
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&pk).into_iter().collect()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            // Expired and deleted between the two calls: a client retry starts afresh.
            return Ok(Begin::InFlight);
        };
        let existing: Record = serde_dynamo::from_item(item)?;
        if existing.digest != digest {
            return Ok(Begin::Mismatch);
        }
        if let Some(response) = existing.response {
            return Ok(Begin::Replay(response));
        }
        match existing.locked_until {
            Some(until) if until < now.millis() => {
                self.take_over(&pk, until, now, existing.payment_id).await
            }
            _ => Ok(Begin::InFlight),
        }
    }

    /// The request holding the key died: this one continues it, with the same payment id.
    async fn take_over(
        &self,
        pk: &str,
        until: i64,
        now: Timestamp,
        payment_id: PaymentId,
    ) -> Result<Begin, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk).into_iter().collect()))
            .update_expression("SET locked_until = :new")
            .condition_expression("locked_until = :old")
            .expression_attribute_values(":old", AttributeValue::N(until.to_string()))
            .expression_attribute_values(
                ":new",
                AttributeValue::N((now.millis() + LOCK_MS).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Begin::Run(payment_id)),
            Err(err) if StoreError::is_conditional_check_failed(&err) => Ok(Begin::InFlight),
            Err(err) => Err(err.into()),
        }
    }

    /// Stores the response to replay and releases the key. A 5xx is never replayed (it asks
    /// the client to retry, and the retry must run): the key is only unlocked, as by
    /// [`Self::release`].
    pub async fn complete(
        &self,
        merchant: &str,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        if response.status >= 500 {
            return self.release(merchant, key).await;
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(
                Self::key(&Self::pk(merchant, key)).into_iter().collect(),
            ))
            .update_expression("SET #r = :r REMOVE locked_until")
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":r", serde_dynamo::to_attribute_value(response)?)
            .send()
            .await?;
        Ok(())
    }

    /// Unlocks a key whose request failed on our side, so that the client's retry runs again at
    /// once, under the same payment id: the failed attempt may have sent its message already
    /// (the validator then stores the payment from it), and a new id would make a second one.
    pub async fn release(&self, merchant: &str, key: &IdempotencyKey) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(
                Self::key(&Self::pk(merchant, key)).into_iter().collect(),
            ))
            .update_expression("SET locked_until = :unlocked")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#r)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":unlocked", AttributeValue::N("0".to_owned()))
            .send()
            .await
            .map(|_| ())
            .or_else(|err| {
                if StoreError::is_conditional_check_failed(&err) {
                    Ok(())
                } else {
                    Err(err.into())
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("order-42_retry.1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }

    #[test]
    fn digest_ignores_formatting_and_key_order_but_not_values() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"a":1, "b":[1,2]}"#).unwrap_or_default();
        let b: serde_json::Value =
            serde_json::from_str("{ \"b\": [1, 2],\n \"a\": 1 }").unwrap_or_default();
        assert_eq!(body_digest(&a), body_digest(&b));
        assert_ne!(body_digest(&a), body_digest(&json!({"a": 2, "b": [1, 2]})));
    }
}
