//! Idempotency-Key on POST /payments and POST /payments/{id}/refunds: the first request with a
//! key runs, later ones with the same key and body get its response replayed, with another body
//! a 422, while it runs a 409. Kept 24 h (DynamoDB TTL on `expires_at`). Safe under concurrent
//! duplicates because the first step is a conditional put, never a read-then-write. A merchant's
//! keys are scoped per operation ([`Scope`]): a payment's key and a refund's never meet.
//!
//! The record also fixes the new resource's id (and time) before anything is written: a request
//! whose Lambda died mid-way leaves an expired lock, and the retry that takes it over
//! ([`Reserved::resumed`]) continues under the same id, which the conditional create turns into
//! "already there" instead of a second payment or refund. A request that failed on our side
//! (5xx) unlocks its key the same way, keeping the id.

use crate::domain::{MerchantId, PaymentId, RequestDigestKey, Timestamp};
use crate::store::StoreError;
use crate::store::keys::attr;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a key is remembered.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a request holds its key before a retry may take it over (longer than the function's
/// timeout, so a live request is never overtaken).
pub const LOCK_MS: i64 = 60 * 1000;

/// A client's Idempotency-Key: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// A record's partition key, `IDEM#<owner length>:<owner>#<key>`: the owner is a merchant id,
/// or a merchant name for records from before owner ids (the length keeps ("a#b", "c") and
/// ("a", "b#c") apart). The one place the format is written (`owners backfill` uses it too).
pub fn record_pk(owner: &str, key: &str) -> String {
    format!("IDEM#{}:{owner}#{key}", owner.len())
}

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

/// What identifies a request for its Idempotency-Key. A request body holds card data, so its
/// digest is never a plain hash (BIN, last 4 and expiry are stored beside it: ~10^8 guesses
/// would recover the number and the CVC from an unkeyed SHA-256). It is an HMAC, under a key
/// derived from the card-data key and never stored, of the body in canonical form (keys
/// sorted, no whitespace, so other formatting is the same request) from which the card number
/// is replaced by its keyed fingerprint and the CVC and the wallet token are removed (PCI DSS
/// 4.0 3.3.1.2 allows the CVC in no form after authorisation).
#[derive(Clone)]
pub struct RequestDigest {
    keyed: String,
    /// The digest records written before keyed digests had (plain SHA-256 of the body), only
    /// compared in memory, never stored: so that a retry of a request begun before the change
    /// still matches its record. Such records are gone 24 h after the change (their TTL).
    legacy: Option<String>,
}

/// Marks a keyed digest, and tells it from a legacy (unkeyed) one.
const KEYED_PREFIX: &str = "hmac1:";
/// Marks the digest of a body that holds no card data (a refund's).
const PLAIN_PREFIX: &str = "sha256:";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl RequestDigest {
    /// The digest of a POST /payments body whose card (if any) has `card_fingerprint`.
    pub fn of_payment(
        body: &serde_json::Value,
        card_fingerprint: Option<&str>,
        key: &RequestDigestKey,
    ) -> Self {
        let mut canonical = body.clone();
        if let Some(card) = canonical.get_mut("card").and_then(|c| c.as_object_mut()) {
            card.remove("cvc");
            if let Some(fingerprint) = card_fingerprint {
                card.insert("number".to_owned(), fingerprint.into());
            } else {
                card.remove("number");
            }
        }
        if let Some(wallet) = canonical.get_mut("wallet").and_then(|w| w.as_object_mut()) {
            wallet.remove("token");
        }
        Self::keyed(&canonical, body, key)
    }

    /// The digest of a body without card data, keyed all the same.
    pub fn of(body: &serde_json::Value, key: &RequestDigestKey) -> Self {
        Self::keyed(body, body, key)
    }

    /// The digest of a refund request: the payment it refunds and its body. A refund holds no
    /// card data, so its digest needs no key, and refunds-create no access to the card key.
    pub fn of_refund(payment_id: &PaymentId, body: &serde_json::Value) -> Self {
        let canonical = serde_json::json!({"payment_id": payment_id.to_string(), "body": body});
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        RequestDigest {
            keyed: format!("{PLAIN_PREFIX}{}", sha256_hex(&bytes)),
            legacy: None,
        }
    }

    fn keyed(
        canonical: &serde_json::Value,
        original: &serde_json::Value,
        key: &RequestDigestKey,
    ) -> Self {
        let canonical = serde_json::to_vec(canonical).unwrap_or_default();
        let original = serde_json::to_vec(original).unwrap_or_default();
        RequestDigest {
            keyed: format!("{KEYED_PREFIX}{}", key.digest(&canonical)),
            legacy: Some(sha256_hex(&original)),
        }
    }

    /// What a record stores.
    fn stored(&self) -> &str {
        &self.keyed
    }

    /// Whether a record's digest is this request's.
    fn matches(&self, stored: &str) -> bool {
        if stored.starts_with(KEYED_PREFIX) || stored.starts_with(PLAIN_PREFIX) {
            stored == self.keyed
        } else {
            self.legacy.as_deref() == Some(stored)
        }
    }
}

/// Two requests are the same request when their keyed digests are equal.
impl PartialEq for RequestDigest {
    fn eq(&self, other: &Self) -> bool {
        self.keyed == other.keyed
    }
}

impl Eq for RequestDigest {}

impl std::fmt::Debug for RequestDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestDigest({})", self.keyed)
    }
}

/// A response to replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// Its Location header (records from before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Which operation a key belongs to: each has its own records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Payment,
    Refund,
}

impl Scope {
    fn sort_key(self) -> &'static str {
        match self {
            // The payments' records predate scopes: their sort key stays as it was.
            Scope::Payment => "IDEM",
            Scope::Refund => "IDEM#refund",
        }
    }
}

/// What the request holding a key creates: under this id, at this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub id: Uuid,
    pub created_at: Timestamp,
    /// A retry taking over from an attempt that died or failed on our side: what it was
    /// creating may exist already.
    pub resumed: bool,
}

impl Reserved {
    pub fn payment_id(&self) -> PaymentId {
        PaymentId::from_uuid(self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This request runs, creating what it creates as reserved.
    Run(Reserved),
    Replay(StoredResponse),
    InFlight,
    Mismatch,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pk: String,
    sk: String,
    digest: String,
    /// The id of what the request creates (a payment's or a refund's).
    #[serde(alias = "payment_id")]
    resource_id: Uuid,
    /// Unix ms: when the first attempt began (what it creates carries this time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<i64>,
    /// Unix ms until which the running request holds the key; absent once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locked_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<StoredResponse>,
    /// Unix seconds: DynamoDB's TTL deletes the record after this (within a day or two), and
    /// every read treats it as gone from this moment.
    expires_at: i64,
}

/// What [`DynamoIdempotency::adopt_legacy`] found.
enum Adopted {
    /// No live record under the name: the fresh reservation stands.
    None,
    /// The name's record, now under the id.
    Record(Record),
    /// The fresh reservation was overtaken meanwhile.
    Lost,
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

    fn pk(merchant: &MerchantId, key: &IdempotencyKey) -> String {
        record_pk(merchant.as_str(), &key.0)
    }

    fn key(scope: Scope, pk: &str) -> std::collections::HashMap<String, AttributeValue> {
        std::collections::HashMap::from([
            (attr::PK.to_owned(), AttributeValue::S(pk.to_owned())),
            (
                attr::SK.to_owned(),
                AttributeValue::S(scope.sort_key().to_owned()),
            ),
        ])
    }

    pub async fn begin(
        &self,
        scope: Scope,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        digest: &RequestDigest,
        now: Timestamp,
    ) -> Result<Begin, StoreError> {
        self.begin_as(scope, merchant, None, key, digest, now).await
    }

    /// [`Self::begin`] for a merchant that went by `legacy_name` before owner ids: when its
    /// key is fresh under the id, a live record the code before owner ids kept under the name
    /// (a request begun before the deploy, not yet copied by `owners backfill`) answers
    /// instead. That record is copied under the id in place of the fresh reservation, and
    /// answered as the id's own record would be: replayed, 422 for another body, 409 while its
    /// request runs, continued under its id once that request died. One consistent GetItem,
    /// only on a fresh keyed request. Removable 24 h after the backfill: the records expire.
    pub async fn begin_as(
        &self,
        scope: Scope,
        merchant: &MerchantId,
        legacy_name: Option<&str>,
        key: &IdempotencyKey,
        digest: &RequestDigest,
        now: Timestamp,
    ) -> Result<Begin, StoreError> {
        let pk = Self::pk(merchant, key);
        let reserved = Reserved {
            id: Uuid::new_v4(),
            created_at: now,
            resumed: false,
        };
        let record = Record {
            pk: pk.clone(),
            sk: scope.sort_key().to_owned(),
            digest: digest.stored().to_owned(),
            resource_id: reserved.id,
            created_at: Some(now.millis()),
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
            Ok(_) => {
                let Some(name) = legacy_name else {
                    return Ok(Begin::Run(reserved));
                };
                return match self
                    .adopt_legacy(scope, &pk, name, key, &reserved, now)
                    .await?
                {
                    Adopted::None => Ok(Begin::Run(reserved)),
                    Adopted::Record(existing) => {
                        self.answer(scope, &pk, existing, digest, now).await
                    }
                    Adopted::Lost => Ok(Begin::InFlight),
                };
            }
            Err(err) if StoreError::is_conditional_check_failed(&err) => {}
            Err(err) => return Err(err.into()),
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, &pk)))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            // Expired and deleted between the two calls: a client retry starts afresh.
            return Ok(Begin::InFlight);
        };
        let existing: Record = serde_dynamo::from_item(item)?;
        self.answer(scope, &pk, existing, digest, now).await
    }

    /// What a live record under `pk` answers to a request with `digest`.
    async fn answer(
        &self,
        scope: Scope,
        pk: &str,
        existing: Record,
        digest: &RequestDigest,
        now: Timestamp,
    ) -> Result<Begin, StoreError> {
        if !digest.matches(&existing.digest) {
            return Ok(Begin::Mismatch);
        }
        if let Some(response) = existing.response {
            return Ok(Begin::Replay(response));
        }
        match existing.locked_until {
            Some(until) if until < now.millis() => {
                let reserved = Reserved {
                    id: existing.resource_id,
                    created_at: existing.created_at.map_or(now, Timestamp::from_millis),
                    resumed: true,
                };
                self.take_over(scope, pk, until, now, reserved).await
            }
            _ => Ok(Begin::InFlight),
        }
    }

    /// The live record the code before owner ids kept for `legacy_name`'s `key`, if any, put
    /// under the id's `pk` in place of the fresh reservation this request just made (which
    /// nothing else has seen: the conditional put was its only write).
    async fn adopt_legacy(
        &self,
        scope: Scope,
        pk: &str,
        legacy_name: &str,
        key: &IdempotencyKey,
        reserved: &Reserved,
        now: Timestamp,
    ) -> Result<Adopted, StoreError> {
        let legacy_pk = record_pk(legacy_name, &key.0);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, &legacy_pk)))
            .consistent_read(true)
            .send()
            .await?;
        let Some(mut item) = output.item else {
            return Ok(Adopted::None);
        };
        let legacy: Record = serde_dynamo::from_item(item.clone())?;
        if legacy.expires_at < now.millis() / 1000 {
            return Ok(Adopted::None);
        }
        item.insert(attr::PK.to_owned(), AttributeValue::S(pk.to_owned()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("resource_id = :mine AND attribute_not_exists(#r)")
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":mine", AttributeValue::S(reserved.id.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Adopted::Record(Record {
                pk: pk.to_owned(),
                ..legacy
            })),
            // Not ours any more (only if this request outlived its lock): let the client retry.
            Err(err) if StoreError::is_conditional_check_failed(&err) => Ok(Adopted::Lost),
            Err(err) => Err(err.into()),
        }
    }

    /// The request holding the key died: this one continues it, with the same id and time.
    async fn take_over(
        &self,
        scope: Scope,
        pk: &str,
        until: i64,
        now: Timestamp,
        reserved: Reserved,
    ) -> Result<Begin, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, pk)))
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
            Ok(_) => Ok(Begin::Run(reserved)),
            Err(err) if StoreError::is_conditional_check_failed(&err) => Ok(Begin::InFlight),
            Err(err) => Err(err.into()),
        }
    }

    /// Stores the response to replay and releases the key. A 5xx is never replayed (it asks
    /// the client to retry, and the retry must run): the key is only unlocked, as by
    /// [`Self::release`].
    pub async fn complete(
        &self,
        scope: Scope,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        if response.status >= 500 {
            return self.release(scope, merchant, key).await;
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, &Self::pk(merchant, key))))
            .update_expression("SET #r = :r REMOVE locked_until")
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":r", serde_dynamo::to_attribute_value(response)?)
            .send()
            .await?;
        Ok(())
    }

    /// Unlocks a key whose request failed on our side, so that the client's retry runs again at
    /// once, under the same id: the failed attempt may have sent its message already (the
    /// validator then stores the payment from it), and a new id would make a second one.
    pub async fn release(
        &self,
        scope: Scope,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, &Self::pk(merchant, key))))
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

    fn key(fill: u8) -> RequestDigestKey {
        RequestDigestKey::new(vec![fill; 32])
    }

    fn body(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap_or_default()
    }

    #[test]
    fn digest_ignores_formatting_and_key_order_but_not_values() {
        let a = body(r#"{"a":1, "b":[1,2]}"#);
        let b = body("{ \"b\": [1, 2],\n \"a\": 1 }");
        assert_eq!(
            RequestDigest::of(&a, &key(1)),
            RequestDigest::of(&b, &key(1))
        );
        assert_ne!(
            RequestDigest::of(&a, &key(1)),
            RequestDigest::of(&json!({"a": 2, "b": [1, 2]}), &key(1))
        );
    }

    #[test]
    fn a_payment_digest_is_keyed_and_holds_no_card_number_cvc_or_token() {
        let card = json!({"amount": 100, "card": {"number": "4111111111111111", "cvc": "123", "exp_month": 12, "exp_year": 2030}});
        let wallet =
            json!({"amount": 100, "wallet": {"provider": "paypal", "token": "wtk_secret"}});
        let unkeyed = |v: &serde_json::Value| -> String {
            Sha256::digest(serde_json::to_vec(v).unwrap_or_default())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        for body in [&card, &wallet] {
            let digest = RequestDigest::of_payment(body, Some("fp"), &key(1));
            assert!(digest.stored().starts_with(KEYED_PREFIX));
            assert!(!digest.stored().contains(&unkeyed(body)));
            assert_ne!(digest, RequestDigest::of_payment(body, Some("fp"), &key(2)));
        }
        // What is digested: the fingerprint in the number's place, no CVC, no token.
        let expected =
            json!({"amount": 100, "card": {"number": "fp", "exp_month": 12, "exp_year": 2030}});
        assert_eq!(
            RequestDigest::of_payment(&card, Some("fp"), &key(1)).stored(),
            format!(
                "{KEYED_PREFIX}{}",
                key(1).digest(&serde_json::to_vec(&expected).unwrap_or_default())
            )
        );
        let other_cvc = json!({"amount": 100, "card": {"number": "4111111111111111", "cvc": "999", "exp_month": 12, "exp_year": 2030}});
        assert_eq!(
            RequestDigest::of_payment(&card, Some("fp"), &key(1)),
            RequestDigest::of_payment(&other_cvc, Some("fp"), &key(1)),
        );
        assert_ne!(
            RequestDigest::of_payment(&card, Some("fp"), &key(1)),
            RequestDigest::of_payment(&card, Some("other card"), &key(1)),
        );
    }

    #[test]
    fn a_record_written_before_keyed_digests_still_matches_its_retry() {
        let sent = json!({"amount": 100, "card": {"number": "4111111111111111", "cvc": "123"}});
        let digest = RequestDigest::of_payment(&sent, Some("fp"), &key(1));
        let legacy: String = Sha256::digest(serde_json::to_vec(&sent).unwrap_or_default())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(digest.matches(&legacy));
        assert!(digest.matches(digest.stored()));
        assert!(!digest.matches("0000"));
        assert!(!digest.matches(&format!("{KEYED_PREFIX}{legacy}")));
        assert!(!format!("{digest:?}").contains(&legacy));
    }
}
