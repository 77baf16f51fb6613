//! Payments as the API and the queue consumers change them. Every write is one
//! TransactWriteItems conditioned on what was read (a new id, or the version read), so concurrent
//! or repeated writers never double-write, double-count, or move a payment backwards:
//! - the payment item;
//! - when the payment becomes completed: its day's aggregate counter, and the account's
//!   `last_payment_date` (moved forward only);
//! - otherwise: a check that the account exists;
//! - on the payment's first write and when it becomes completed: its account–merchant link
//!   (`store::links`), which the merchant's view of the account reads.

use super::aggregates::{AggregateDelta, AggregateUpdate};
use super::error::StoreError;
use super::item::PaymentItem;
use super::keys::{self, attr, index};
use super::links::{self, LinkEffect};
use super::transact::{TransactFailure, transact_write};
use crate::accounts::DynamoAccounts;
use crate::domain::{
    AccountId, Failure, FailureKind, MerchantId, Payment, PaymentId, PaymentStatus,
};
use crate::reports::Position;
use crate::telemetry::record;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;

/// A payment with what its next write needs.
#[derive(Debug, Clone)]
pub struct StoredPayment {
    pub payment: Payment,
    pub version: u64,
    pub card_sealed: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentWriteError {
    /// Create: a payment with this id exists. Update: it changed since it was read.
    #[error("the payment was written concurrently or already exists")]
    Conflict,
    #[error("account {0} does not exist")]
    NoSuchAccount(AccountId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for PaymentWriteError
where
    StoreError: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        PaymentWriteError::Store(err.into())
    }
}

/// Items read per query when a filter may drop most of them.
const FILTERED_READ: usize = 200;

/// Most items one filtered listing request reads (evaluates, matching or not), or `limit + 1`
/// when that is more. A merchant with many payments that do not match would otherwise make one
/// request read its whole partition and time out. When the cap is reached the page ends there,
/// possibly short or empty, with a position after the last item read (docs/design.md,
/// "Pagination").
pub const MAX_ITEMS_READ: usize = 1000;

/// Which payments to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentQuery {
    pub scope: ListScope,
    pub status: Option<PaymentStatus>,
    pub limit: u16,
    pub after: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// One merchant's payments (by its id), optionally of one account.
    Merchant {
        merchant: MerchantId,
        account_id: Option<AccountId>,
    },
    /// One account's payments, whoever the merchant.
    Account(AccountId),
}

#[derive(Debug, Clone)]
pub struct DynamoPayments {
    client: Client,
    table: String,
    accounts: DynamoAccounts,
}

/// Positions in a payment write's transaction, for reading its cancellation reasons.
const ACCOUNT_ACTION: usize = 1;
const LINK_ACTION: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum AccountEffect {
    /// Move `last_payment_date` forward (payment becomes completed).
    Touch,
    /// Only check the account exists.
    Check,
}

impl DynamoPayments {
    pub fn new(client: Client, table: impl Into<String>, accounts: DynamoAccounts) -> Self {
        DynamoPayments {
            client,
            table: table.into(),
            accounts,
        }
    }

    pub fn accounts(&self) -> &DynamoAccounts {
        &self.accounts
    }

    /// The DynamoDB client and table, for stores that share the table (refunds).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, AttributeValue::S(keys::payment_pk(id)))
            .key(attr::SK, AttributeValue::S(keys::PAYMENT_SK.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: PaymentItem = serde_dynamo::from_item(item)?;
        Ok(Some(StoredPayment {
            payment: item.payment,
            version: item.version,
            card_sealed: item.card_sealed,
        }))
    }

    /// Stores a new payment (conditional on its id being new).
    #[tracing::instrument(skip_all, fields(payment_id = %payment.id, status = ?payment.status))]
    pub async fn create(
        &self,
        payment: &Payment,
        card_sealed: Option<String>,
    ) -> Result<(), PaymentWriteError> {
        let item = PaymentItem::stored(payment.clone(), 1, card_sealed);
        let link = LinkEffect::of(payment, true, payment.status.is_completed());
        self.write(item, None, payment.status.is_completed(), link)
            .await?;
        // Counted where the status is committed, so a duplicate delivery or a replayed
        // request (whose write fails its condition) counts nothing.
        record::payment_reached(payment.status);
        Ok(())
    }

    /// Replaces `current` by `next` (same id), conditional on `current`'s version; adds the
    /// payment to the aggregates and the account when it becomes completed here.
    #[tracing::instrument(skip_all, fields(payment_id = %next.id, from = ?current.payment.status, to = ?next.status))]
    pub async fn update(
        &self,
        current: &StoredPayment,
        next: &Payment,
        card_sealed: Option<String>,
    ) -> Result<(), PaymentWriteError> {
        let item = PaymentItem::stored(next.clone(), current.version + 1, card_sealed);
        let becomes_completed =
            next.status.is_completed() && !current.payment.status.is_completed();
        let link = LinkEffect::of(next, false, becomes_completed);
        self.write(item, Some(current.version), becomes_completed, link)
            .await?;
        if next.status != current.payment.status {
            record::payment_reached(next.status);
        }
        Ok(())
    }

    async fn write(
        &self,
        item: PaymentItem,
        expected_version: Option<u64>,
        becomes_completed: bool,
        mut link: LinkEffect,
    ) -> Result<(), PaymentWriteError> {
        let payment = item.payment.clone();
        let attributes: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(item).map_err(StoreError::from)?;
        let mut effect = if becomes_completed {
            AccountEffect::Touch
        } else {
            AccountEffect::Check
        };
        loop {
            let written = transact_write(&self.client, || {
                self.actions(
                    &payment,
                    attributes.clone(),
                    expected_version,
                    becomes_completed,
                    effect,
                    link,
                )
            })
            .await;
            let failed = match written {
                Ok(()) => return Ok(()),
                Err(TransactFailure::Store(err)) => return Err(err.into()),
                Err(TransactFailure::Conditions(failed)) => failed,
            };
            if failed.first() == Some(&true) {
                return Err(PaymentWriteError::Conflict);
            }
            // The link's date is already later (another payment of this merchant to this
            // account): keep it, and write the rest again.
            if failed.get(LINK_ACTION) == Some(&true) && link == LinkEffect::Touch {
                link = link.after_failed_condition();
                if failed.get(ACCOUNT_ACTION) != Some(&true) {
                    continue;
                }
            }
            // The account's condition failed: either it does not exist, or (touch) it already
            // has a later payment, in which case the date stays and the payment is written
            // with an existence check only.
            if effect == AccountEffect::Touch
                && self.accounts.get(payment.account_id).await?.is_some()
            {
                effect = AccountEffect::Check;
                continue;
            }
            return Err(PaymentWriteError::NoSuchAccount(payment.account_id));
        }
    }

    fn actions(
        &self,
        payment: &Payment,
        attributes: HashMap<String, AttributeValue>,
        expected_version: Option<u64>,
        becomes_completed: bool,
        effect: AccountEffect,
        link: LinkEffect,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .expression_attribute_names("#pk", attr::PK);
        let put = match expected_version {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(version) => put
                .condition_expression("attribute_exists(#pk) AND #v = :v")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":v", AttributeValue::N(version.to_string())),
        };
        let mut actions = vec![TransactWriteItem::builder().put(put.build()?).build()];
        actions.push(match effect {
            AccountEffect::Touch => self
                .accounts
                .touch(payment.account_id, payment.created_at)?,
            AccountEffect::Check => self.accounts.exists_check(payment.account_id)?,
        });
        // At LINK_ACTION, where the cancellation reasons of `write` look for it.
        actions.extend(links::action(&self.table, payment, link)?);
        if becomes_completed {
            let delta = AggregateDelta::one(payment.country);
            let update = AggregateUpdate::new(
                payment.card_type,
                payment.created_at.day(),
                AggregateUpdate::random_shard(),
                &delta,
            )
            .into_transact(&self.table)?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        Ok(actions)
    }

    /// Marks a `created` or `pending` payment `failed` (a message that can never be processed,
    /// on its last delivery). Nothing to do when it is missing or already final.
    pub async fn mark_failed(&self, id: &PaymentId, why: &str) -> Result<(), StoreError> {
        let Some(stored) = self.get(id).await? else {
            return Ok(());
        };
        if !matches!(
            stored.payment.status,
            PaymentStatus::Created | PaymentStatus::Pending
        ) {
            return Ok(());
        }
        let mut next = stored.payment.clone();
        next.status = PaymentStatus::Failed;
        next.failure = Some(Failure {
            error_type: FailureKind::Other,
            message: why.to_owned(),
            unanswered_since: None,
        });
        match self.update(&stored, &next, None).await {
            Ok(()) | Err(PaymentWriteError::Conflict) => Ok(()),
            Err(PaymentWriteError::NoSuchAccount(_)) => Ok(()),
            Err(PaymentWriteError::Store(err)) => Err(err),
        }
    }

    /// Stores a payment that can never be processed as `failed` (its account does not exist, so
    /// no account check), unless its id is taken.
    pub async fn store_failed(&self, payment: &Payment, why: &str) -> Result<(), StoreError> {
        let mut failed = payment.clone();
        failed.status = PaymentStatus::Failed;
        failed.failure = Some(Failure {
            error_type: FailureKind::Other,
            message: why.to_owned(),
            unanswered_since: None,
        });
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(PaymentItem::stored(failed, 1, None))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => {
                record::payment_reached(PaymentStatus::Failed);
                Ok(())
            }
            Err(err) if StoreError::is_conditional_check_failed(&err) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// A page of payments, newest first, and the position after its last one when more follow.
    pub async fn list(
        &self,
        query: &PaymentQuery,
    ) -> Result<(Vec<Payment>, Option<Position>), StoreError> {
        // One merchant's payments of one account: read the account's (few) payments and keep
        // the merchant's, rather than all the merchant's (many) to keep the account's.
        let (index_name, hash_attr, hash_value, merchant_filter) = match &query.scope {
            ListScope::Merchant {
                merchant,
                account_id: None,
            } => (
                index::BY_MERCHANT,
                attr::MERCHANT,
                AttributeValue::S(merchant.to_string()),
                None,
            ),
            ListScope::Merchant {
                merchant,
                account_id: Some(id),
            } => (
                index::BY_ACCOUNT,
                attr::ACCOUNT_ID,
                AttributeValue::N(id.to_string()),
                Some(merchant),
            ),
            ListScope::Account(id) => (
                index::BY_ACCOUNT,
                attr::ACCOUNT_ID,
                AttributeValue::N(id.to_string()),
                None,
            ),
        };
        let mut filters = Vec::new();
        let mut names = HashMap::from([("#h".to_owned(), hash_attr.to_owned())]);
        let mut values = HashMap::from([(":h".to_owned(), hash_value.clone())]);
        if let Some(status) = query.status {
            filters.push("#st = :st");
            names.insert("#st".to_owned(), attr::STATUS.to_owned());
            values.insert(
                ":st".to_owned(),
                serde_dynamo::to_attribute_value(status).map_err(StoreError::from)?,
            );
        }
        if let Some(merchant) = merchant_filter {
            filters.push("#m = :m");
            names.insert("#m".to_owned(), attr::MERCHANT.to_owned());
            values.insert(":m".to_owned(), AttributeValue::S(merchant.to_string()));
        }
        let limit = usize::from(query.limit.max(1));
        // DynamoDB applies Limit before the filter: a filtered read takes bigger bites.
        let read = if filters.is_empty() {
            limit + 1
        } else {
            (limit + 1).max(FILTERED_READ)
        };
        let mut start = query.after.as_ref().map(|p| {
            let id = p.id.clone();
            HashMap::from([
                (attr::PK.to_owned(), AttributeValue::S(format!("PAY#{id}"))),
                (
                    attr::SK.to_owned(),
                    AttributeValue::S(keys::PAYMENT_SK.to_owned()),
                ),
                (hash_attr.to_owned(), hash_value.clone()),
                (
                    attr::OTIME.to_owned(),
                    AttributeValue::S(keys::time_key(p.created_at, &id)),
                ),
            ])
        });
        let budget = if filters.is_empty() {
            limit + 1
        } else {
            MAX_ITEMS_READ.max(limit + 1)
        };
        let mut evaluated = 0usize;
        let mut found: Vec<Payment> = Vec::new();
        // Read one more than asked to know whether more follow; filters may thin pages out,
        // so keep reading until enough, the index ends, or the read budget is spent.
        loop {
            let bite = read.min(budget.saturating_sub(evaluated)).max(1);
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index_name)
                .key_condition_expression("#h = :h")
                .scan_index_forward(false)
                .limit(i32::try_from(bite).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if !filters.is_empty() {
                request = request.filter_expression(filters.join(" AND "));
            }
            let output = request
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
                .await?;
            evaluated += usize::try_from(output.scanned_count).unwrap_or(bite);
            for item in output.items.unwrap_or_default() {
                let item: PaymentItem = serde_dynamo::from_item(item)?;
                found.push(item.payment);
            }
            start = output.last_evaluated_key;
            if found.len() > limit || start.is_none() || evaluated >= budget {
                break;
            }
        }
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|p| Position {
                created_at: p.created_at,
                id: p.id.to_string(),
            })
        } else {
            // The budget ran out before the page filled: resume after the last item read,
            // which the filter may have dropped (so the page can be short, even empty).
            start.as_ref().and_then(position_of_key)
        };
        Ok((found, next))
    }
}

/// The listing position of a `by_merchant` / `by_account` key (its `otime`,
/// `<13-digit created_at>#<id>`).
fn position_of_key(key: &HashMap<String, AttributeValue>) -> Option<Position> {
    let otime = key.get(attr::OTIME)?.as_s().ok()?;
    let (millis, id) = otime.split_once('#')?;
    Some(Position {
        created_at: crate::domain::Timestamp::from_millis(millis.parse().ok()?),
        id: id.to_owned(),
    })
}
