//! `accounts backfill-links`: the account–merchant links (shared/src/store/links.rs) of the
//! payments stored before links were written. Reads every payment of the transactions table
//! once (a Scan: an operator command, never a request path), keeps per (account, merchant) the
//! newest `created_at` of its completed payments, and upserts each link through the same
//! action the payment writes use. The date only ever moves forward, so the command is
//! idempotent and safe to run while the functions write links of their own.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use payrail_shared::domain::{AccountId, PaymentStatus, Timestamp};
use payrail_shared::store::StoreError;
use payrail_shared::store::keys::{PAYMENT_SK, attr};
use payrail_shared::store::links;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a backfill read and wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Payment items read.
    pub payments: u64,
    /// Payments without an owner (generated history), or with one the caller does not link
    /// ([`backfill_links_of`]): they link no merchant.
    pub unowned: u64,
    /// Links written (created, dated, or confirmed as they were).
    pub links: u64,
}

/// The attributes of a payment item the backfill needs.
#[derive(Debug, Deserialize)]
struct Seen {
    account_id: AccountId,
    #[serde(default)]
    merchant: Option<String>,
    status: PaymentStatus,
    created_at: Timestamp,
}

/// Writes the link of every (account, merchant) that holds a payment in `table`.
pub async fn backfill_links(client: &Client, table: &str) -> Result<Backfilled, StoreError> {
    backfill_links_of(client, table, |_| true).await
}

/// [`backfill_links`] of the owners `links_owner` accepts (`owners backfill`: merchant ids
/// only, as no reader asks for a name's link).
pub async fn backfill_links_of(
    client: &Client,
    table: &str,
    links_owner: impl Fn(&str) -> bool,
) -> Result<Backfilled, StoreError> {
    let mut report = Backfilled::default();
    let mut newest: BTreeMap<(AccountId, String), Option<Timestamp>> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("#sk = :payment")
            .projection_expression("#a, #m, #st, #c")
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_names("#a", attr::ACCOUNT_ID)
            .expression_attribute_names("#m", attr::MERCHANT)
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_names("#c", attr::CREATED_AT)
            .expression_attribute_values(":payment", AttributeValue::S(PAYMENT_SK.to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await?;
        for item in page.items.unwrap_or_default() {
            let seen: Seen = serde_dynamo::from_item(item)?;
            report.payments += 1;
            let Some(merchant) = seen.merchant.filter(|m| links_owner(m)) else {
                report.unowned += 1;
                continue;
            };
            let date = newest.entry((seen.account_id, merchant)).or_default();
            if seen.status.is_completed() {
                *date = (*date).max(Some(seen.created_at));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    for ((account, merchant), date) in newest {
        write_link(client, table, account, &merchant, date).await?;
        report.links += 1;
    }
    Ok(report)
}

/// Upserts one link, moving its date forward to `date`; a later date already there (a payment
/// the functions completed meanwhile) is kept.
async fn write_link(
    client: &Client,
    table: &str,
    account: AccountId,
    merchant: &str,
    date: Option<Timestamp>,
) -> Result<(), StoreError> {
    let request = |at| -> Result<_, StoreError> {
        Ok(client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(links::update(table, account, merchant, at)?)
                .build(),
        ))
    };
    match request(date)?.send().await {
        Ok(_) => Ok(()),
        Err(err) if date.is_some() && StoreError::is_condition_failure(&err) => {
            request(None)?.send().await?;
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}
