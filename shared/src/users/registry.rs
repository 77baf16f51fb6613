//! The merchant registry: which merchant owns a stream payment. It lives in the users table: one
//! registry item per merchant, keyed by its id (`username = mer_…`, a name no user can have),
//! answers "does this id exist" with one consistent GetItem; the sparse index
//! `by_merchant_name` over the `merchant` attribute (merchant users and registry items) answers
//! "which merchant has this name" with one small Query. Answers are remembered for a minute in
//! the Lambda. One index, because CloudFormation adds one index to a table per update.

use crate::domain::MerchantId;
use crate::store::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The users-table index the registry reads (template.yaml `UsersTable`).
pub const BY_MERCHANT_NAME: &str = "by_merchant_name";

/// What a stream message says about its merchant, strongest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnerClaim<'a> {
    /// payrail's own producers: the merchant id the API authenticated.
    pub merchant_id: Option<&'a str>,
    /// payrail's producers before owner ids: the merchant's name (messages still in flight
    /// across the deploy).
    pub merchant_name: Option<&'a str>,
    /// The message's `vendor`: upstream producers name the merchant this way.
    pub vendor: Option<&'a str>,
}

/// Resolving a stream payment's owner. Never fails for an unknown merchant (that is the
/// reserved upstream merchant); fails only when the registry cannot be read, which the
/// consumers treat as transient (the message is redelivered, never given the wrong owner).
pub trait ResolveOwner: Send + Sync {
    fn owner(
        &self,
        claim: OwnerClaim<'_>,
    ) -> impl Future<Output = Result<MerchantId, StoreError>> + Send;
}

/// How long an answer is remembered: a merchant added (or renamed) is resolved by name within
/// this long, as the index itself is eventually consistent.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// Past this many entries the cache is emptied rather than grown (one entry per distinct vendor
/// name seen within a minute).
const CACHE_ENTRIES: usize = 10_000;

pub struct MerchantRegistry {
    client: Client,
    table: String,
    cache: Mutex<HashMap<String, (Instant, Option<MerchantId>)>>,
}

impl MerchantRegistry {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        MerchantRegistry {
            client,
            table: table.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str) -> Option<Option<MerchantId>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, id)| id.clone())
    }

    fn remember(&self, key: String, id: Option<MerchantId>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), id));
        }
    }

    /// The distinct merchant ids of the items named `name`: at most a handful (the users of
    /// one merchant and its registry item).
    async fn ids_named(&self, name: &str) -> Result<BTreeSet<MerchantId>, StoreError> {
        let mut ids = BTreeSet::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_MERCHANT_NAME)
                .key_condition_expression("merchant = :v")
                .expression_attribute_values(":v", AttributeValue::S(name.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                if let Some(AttributeValue::S(id)) = item.get("merchant_id")
                    && let Ok(id) = MerchantId::parse(id)
                {
                    ids.insert(id);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(ids)
    }

    async fn registered(&self, id: &MerchantId) -> Result<bool, StoreError> {
        let key = format!("id:{id}");
        if let Some(known) = self.cached(&key) {
            return Ok(known.is_some());
        }
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("username", AttributeValue::S(id.to_string()))
            .projection_expression("merchant_id")
            .consistent_read(true)
            .send()
            .await?
            .item;
        let found = matches!(
            item.as_ref().and_then(|i| i.get("merchant_id")),
            Some(AttributeValue::S(stored)) if stored == id.as_str()
        );
        self.remember(key, found.then(|| id.clone()));
        Ok(found)
    }

    async fn named(&self, name: &str) -> Result<Option<MerchantId>, StoreError> {
        let key = format!("name:{name}");
        if let Some(known) = self.cached(&key) {
            return Ok(known);
        }
        let ids = self.ids_named(name).await?;
        let id = only_one(name, ids);
        self.remember(key, id.clone());
        Ok(id)
    }
}

/// The one merchant of that name; none (so the upstream merchant) when no merchant or more
/// than one has it: two merchants of one name cannot tell whose a payment is.
fn only_one(name: &str, ids: BTreeSet<MerchantId>) -> Option<MerchantId> {
    if ids.len() > 1 {
        tracing::warn!(
            vendor = %crate::redact::scrub_card_numbers(name),
            merchants = ids.len(),
            "a vendor name shared by several merchants: owned by the upstream merchant"
        );
        return None;
    }
    ids.into_iter().next()
}

impl ResolveOwner for MerchantRegistry {
    async fn owner(&self, claim: OwnerClaim<'_>) -> Result<MerchantId, StoreError> {
        if let Some(raw) = claim.merchant_id {
            return match MerchantId::parse(raw) {
                Ok(id) if id.is_upstream() => Ok(id),
                Ok(id) if self.registered(&id).await? => Ok(id),
                _ => {
                    // An upstream value, logged only after card-like digits are masked.
                    tracing::warn!(
                        merchant_id = %crate::redact::scrub_card_numbers(raw),
                        "a message names an unknown merchant id: owned by the upstream merchant"
                    );
                    Ok(MerchantId::upstream())
                }
            };
        }
        let name = [claim.merchant_name, claim.vendor]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|n| !n.is_empty());
        match name {
            Some(name) if crate::users::check_merchant_name(name).is_ok() => {
                Ok(self.named(name).await?.unwrap_or_else(MerchantId::upstream))
            }
            _ => Ok(MerchantId::upstream()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_of_several_merchants_belongs_to_none() {
        let (a, b) = (MerchantId::new(), MerchantId::new());
        assert_eq!(only_one("x", BTreeSet::new()), None);
        assert_eq!(only_one("x", BTreeSet::from([a.clone()])), Some(a.clone()));
        assert_eq!(only_one("x", BTreeSet::from([a, b])), None);
    }
}
