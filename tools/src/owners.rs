//! `owners backfill`: moves a deployed stage from merchant names to merchant ids as owners
//! (docs/deployment.md, "Owner ids"). In order, each step idempotent and safe to repeat:
//! 1. **users**: every merchant user without a `merchant_id` gets its merchant's, one new id per
//!    merchant name (users of one name were one merchant while names owned), and every merchant
//!    id its registry item;
//! 2. **payments**: every payment whose `merchant` is a name gets its merchant's id (a name no
//!    merchant has, such as a stream vendor, gets the reserved upstream merchant), with
//!    `version + 1` so that a writer holding the old item retries instead of writing the name
//!    back;
//! 3. **links**: `accounts backfill-links` writes the id-keyed account–merchant links from the
//!    rewritten payments (none for a payment left under a name), then the name-keyed links are
//!    deleted;
//! 4. **idempotency records** under a name are copied under the id (kept 24 h like the
//!    original), so a client's retry across the deploy still replays.
//!
//! Every read is a Scan: an operator command, never a request path.

use crate::links::backfill_links_of;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::domain::MerchantId;
use payrail_shared::store::StoreError;
use payrail_shared::store::keys::{PAYMENT_SK, attr};
use payrail_shared::users::{DynamoUsers, UserWriteError};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a backfill changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnersBackfilled {
    /// Merchant users given an id.
    pub users: u64,
    /// Payments whose owner moved from a name to an id.
    pub payments: u64,
    /// Of those, owned by the reserved upstream merchant (their name was no merchant's).
    pub to_upstream: u64,
    /// Payments left as they were: their name is that of several merchants (ids given by
    /// hand), so the operator must decide.
    pub ambiguous: Vec<String>,
    /// Links written from the rewritten payments, and name-keyed links deleted.
    pub links: u64,
    pub old_links: u64,
    /// Idempotency records copied under the merchant's id.
    pub idempotency: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Users(#[from] UserWriteError),
}

/// Which steps to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    /// Step 1 only: safe before the deploy (the old code ignores ids and registry items).
    UsersOnly,
    All,
}

/// Runs the steps on a stage's users and transactions tables.
pub async fn backfill_owners(
    client: &Client,
    users_table: &str,
    transactions_table: &str,
    steps: Steps,
) -> Result<OwnersBackfilled, BackfillError> {
    let mut report = OwnersBackfilled::default();
    let names = assign_user_ids(client, users_table, &mut report).await?;
    if steps == Steps::UsersOnly {
        return Ok(report);
    }
    rewrite_payments(client, transactions_table, &names, &mut report).await?;
    // A payment left under a name (several merchants have it) gets no link: only ids are read.
    report.links = backfill_links_of(client, transactions_table, |owner| {
        MerchantId::parse(owner).is_ok()
    })
    .await?
    .links;
    report.old_links = delete_name_links(client, transactions_table).await?;
    report.idempotency = copy_idempotency(client, transactions_table, &names).await?;
    Ok(report)
}

/// Step 1; returns each merchant name with the ids of its merchant users.
async fn assign_user_ids(
    client: &Client,
    table: &str,
    report: &mut OwnersBackfilled,
) -> Result<BTreeMap<String, BTreeSet<MerchantId>>, BackfillError> {
    let users = DynamoUsers::new(client.clone(), table);
    let all = users.list().await?;
    let mut names: BTreeMap<String, BTreeSet<MerchantId>> = BTreeMap::new();
    for user in &all {
        if let (Some(name), Some(id)) = (&user.merchant, &user.merchant_id) {
            names.entry(name.clone()).or_default().insert(id.clone());
        }
    }
    for user in &all {
        let (Some(name), None) = (&user.merchant, &user.merchant_id) else {
            continue;
        };
        let ids = names.entry(name.clone()).or_default();
        let id = ids.iter().next().cloned().unwrap_or_else(MerchantId::new);
        match users.set_merchant_id(&user.username, &id).await {
            Ok(()) => {
                ids.insert(id);
                report.users += 1;
            }
            // Given one meanwhile (another run): the next run maps its payments.
            Err(UserWriteError::NoSuchUser(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (name, ids) in &names {
        for id in ids {
            users.register_merchant(id, name).await?;
        }
    }
    Ok(names)
}

/// The id a stored owner name moves to: its merchant's, the upstream merchant's for a name no
/// merchant has, none when several merchants have it.
fn id_for(names: &BTreeMap<String, BTreeSet<MerchantId>>, name: &str) -> Option<MerchantId> {
    match names.get(name).map(|ids| ids.iter().collect::<Vec<_>>()) {
        None => Some(MerchantId::upstream()),
        Some(ids) if ids.is_empty() => Some(MerchantId::upstream()),
        Some(ids) if ids.len() == 1 => ids.first().map(|id| (*id).clone()),
        Some(_) => None,
    }
}

/// Every item of `table` matching `filter`.
async fn scan(
    client: &Client,
    table: &str,
    filter: &str,
    names: &[(&str, &str)],
    values: &[(&str, &str)],
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let mut request = client
            .scan()
            .table_name(table)
            .filter_expression(filter)
            .set_exclusive_start_key(start.take());
        for (k, v) in names {
            request = request.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            request = request.expression_attribute_values(*k, AttributeValue::S((*v).to_owned()));
        }
        let page = request.send().await?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

/// Step 2.
async fn rewrite_payments(
    client: &Client,
    table: &str,
    names: &BTreeMap<String, BTreeSet<MerchantId>>,
    report: &mut OwnersBackfilled,
) -> Result<(), StoreError> {
    let payments = scan(
        client,
        table,
        "#sk = :payment AND attribute_exists(#m)",
        &[("#sk", attr::SK), ("#m", attr::MERCHANT)],
        &[(":payment", PAYMENT_SK)],
    )
    .await?;
    for item in payments {
        let (Some(pk), Some(owner)) = (text(&item, attr::PK), text(&item, attr::MERCHANT)) else {
            continue;
        };
        if MerchantId::parse(owner).is_ok() {
            continue;
        }
        let Some(id) = id_for(names, owner) else {
            report.ambiguous.push(pk.to_owned());
            continue;
        };
        let result = client
            .update_item()
            .table_name(table)
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .key(attr::SK, AttributeValue::S(PAYMENT_SK.to_owned()))
            .update_expression("SET #m = :id, #v = if_not_exists(#v, :zero) + :one")
            .condition_expression("#m = :name")
            .expression_attribute_names("#m", attr::MERCHANT)
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .expression_attribute_values(":name", AttributeValue::S(owner.to_owned()))
            .expression_attribute_values(":zero", AttributeValue::N("0".to_owned()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => {
                report.payments += 1;
                if id.is_upstream() {
                    report.to_upstream += 1;
                }
            }
            // Rewritten meanwhile (a concurrent run, or a writer that re-read): nothing to do.
            Err(e) if StoreError::is_conditional_check_failed(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Step 3's second half: the links keyed by a name, which no reader asks for any more.
async fn delete_name_links(client: &Client, table: &str) -> Result<u64, StoreError> {
    let links = scan(
        client,
        table,
        "begins_with(#pk, :acct) AND begins_with(#sk, :merchant)",
        &[("#pk", attr::PK), ("#sk", attr::SK)],
        &[(":acct", "ACCT#"), (":merchant", "MERCHANT#")],
    )
    .await?;
    let mut deleted = 0;
    for item in links {
        let (Some(pk), Some(sk)) = (text(&item, attr::PK), text(&item, attr::SK)) else {
            continue;
        };
        let owner = sk.trim_start_matches("MERCHANT#");
        if MerchantId::parse(owner).is_ok() {
            continue;
        }
        client
            .delete_item()
            .table_name(table)
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .key(attr::SK, AttributeValue::S(sk.to_owned()))
            .send()
            .await?;
        deleted += 1;
    }
    Ok(deleted)
}

/// The owner and key of an idempotency record's `pk` (`IDEM#<owner length>:<owner>#<key>`).
fn idempotency_owner(pk: &str) -> Option<(&str, &str)> {
    let rest = pk.strip_prefix("IDEM#")?;
    let (len, rest) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let owner = rest.get(..len)?;
    let key = rest.get(len..)?.strip_prefix('#')?;
    Some((owner, key))
}

/// Step 4.
async fn copy_idempotency(
    client: &Client,
    table: &str,
    names: &BTreeMap<String, BTreeSet<MerchantId>>,
) -> Result<u64, StoreError> {
    let records = scan(
        client,
        table,
        "begins_with(#pk, :idem)",
        &[("#pk", attr::PK)],
        &[(":idem", "IDEM#")],
    )
    .await?;
    let mut copied = 0;
    for mut item in records {
        let Some((owner, key)) = text(&item, attr::PK).and_then(idempotency_owner) else {
            continue;
        };
        if MerchantId::parse(owner).is_ok() {
            continue;
        }
        // A record of a name no single merchant has would be no merchant's retry.
        let Some(id) = id_for(names, owner).filter(|id| !id.is_upstream()) else {
            continue;
        };
        let pk = payrail_shared::payments::idempotency::record_pk(id.as_str(), key);
        item.insert(attr::PK.to_owned(), AttributeValue::S(pk));
        let result = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => copied += 1,
            // The id's own record (a request since the deploy, or an earlier run) wins.
            Err(e) if StoreError::is_conditional_check_failed(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_owner_and_key_of_an_idempotency_record_even_with_hashes_in_the_name() {
        assert_eq!(
            idempotency_owner("IDEM#12:Alice's Shop#k-1"),
            Some(("Alice's Shop", "k-1"))
        );
        assert_eq!(idempotency_owner("IDEM#3:a#b#c"), Some(("a#b", "c")));
        assert_eq!(idempotency_owner("IDEM#x:a#b"), None);
        assert_eq!(idempotency_owner("PAY#1"), None);
    }

    #[test]
    fn a_name_moves_to_its_one_merchant_to_upstream_when_none_and_nowhere_when_several() {
        let (a, b) = (MerchantId::new(), MerchantId::new());
        let names = BTreeMap::from([
            ("Alice's Shop".to_owned(), BTreeSet::from([a.clone()])),
            ("Twice".to_owned(), BTreeSet::from([a.clone(), b])),
        ]);
        assert_eq!(id_for(&names, "Alice's Shop"), Some(a));
        assert_eq!(id_for(&names, "Corner Kiosk"), Some(MerchantId::upstream()));
        assert_eq!(id_for(&names, "Twice"), None);
    }
}
