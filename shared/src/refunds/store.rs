//! Refunds in the transactions table, under their payment's partition: pk `PAY#<payment id>`,
//! sk `REFUND#<13-digit created_at>#<refund id>`, so one Query lists a payment's refunds in
//! time order without an index. Refund items carry none of the index attributes (`rpt_*`,
//! `merchant`, `account_id`, `otime`): no report or listing ever reads one.
//!
//! Every refund write is one TransactWriteItems of the refund item and an update of the payment
//! item conditioned on the payment's `version` (the optimistic version every payment write
//! bumps): concurrent refunds are serialised on the payment, so together they can never commit
//! more than its amount. The payment item gains `refund_reserved`, the sum of its pending
//! refunds. It is updated in place (UpdateItem), never rewritten: only refunds write a completed
//! payment, and `DynamoPayments::update` (a whole-item Put) is only used before completion.

use super::{Refund, RefundId, RefundLedger, RefundStatus};
use crate::domain::{Payment, PaymentId, Timestamp};
use crate::reports::Position;
use crate::store::StoreError;
use crate::store::keys::{self, attr};
use crate::store::transact::cancellation_codes;
use crate::telemetry::record;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const SK_PREFIX: &str = "REFUND#";
/// Payment attribute: the sum of the payment's pending refunds.
const RESERVED: &str = "refund_reserved";
const REFUNDED: &str = "refunded_amount";
const UPDATED_AT: &str = "updated_at";
const FAILURE: &str = "failure";

/// The sort key of a refund: its time, then its id (ties broken by id).
pub fn refund_sk(created_at: Timestamp, id: &str) -> String {
    format!("{SK_PREFIX}{}", keys::time_key(created_at, id))
}

#[derive(Serialize, Deserialize)]
struct RefundItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    refund: Refund,
}

/// The payment item as refunds read it.
#[derive(Deserialize)]
struct PaymentRead {
    #[serde(flatten)]
    payment: Payment,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    refund_reserved: u64,
}

/// A payment with what a refund's write needs.
#[derive(Debug, Clone)]
pub struct RefundablePayment {
    pub payment: Payment,
    pub version: u64,
    /// Sum of the payment's pending refunds.
    pub reserved: u64,
}

impl RefundablePayment {
    pub fn ledger(&self) -> RefundLedger {
        RefundLedger {
            amount: self.payment.amount.get(),
            refunded: self.payment.refunded_amount,
            reserved: self.reserved,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefundWriteError {
    /// The payment changed since it was read (another refund): read it again and retry.
    #[error("the payment was changed concurrently")]
    Conflict,
    /// Settling: the refund is already final (settled by another path).
    #[error("the refund is no longer pending")]
    NotPending,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<aws_sdk_dynamodb::error::BuildError> for RefundWriteError {
    fn from(err: aws_sdk_dynamodb::error::BuildError) -> Self {
        RefundWriteError::Store(err.into())
    }
}

impl From<serde_dynamo::Error> for RefundWriteError {
    fn from(err: serde_dynamo::Error) -> Self {
        RefundWriteError::Store(err.into())
    }
}

/// Counts what a committed refund write reached: the refund's status, and the payment's when
/// it changed (`partially_refunded`, `refunded`).
fn committed(payment: &RefundablePayment, next: RefundLedger, refund: RefundStatus) {
    record::refund_reached(refund);
    if next.status() != payment.payment.status {
        record::payment_reached(next.status());
    }
}

#[derive(Debug, Clone)]
pub struct DynamoRefunds {
    client: Client,
    table: String,
}

impl DynamoRefunds {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRefunds {
            client,
            table: table.into(),
        }
    }

    fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (attr::PK.to_owned(), AttributeValue::S(pk)),
            (attr::SK.to_owned(), AttributeValue::S(sk)),
        ])
    }

    /// The payment (consistent read), with its version and reservation.
    pub async fn payment(&self, id: &PaymentId) -> Result<Option<RefundablePayment>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::payment_pk(id),
                keys::PAYMENT_SK.to_owned(),
            )))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let read: PaymentRead = serde_dynamo::from_item(item)?;
        Ok(Some(RefundablePayment {
            payment: read.payment,
            version: read.version,
            reserved: read.refund_reserved,
        }))
    }

    /// One refund (consistent read).
    pub async fn refund(
        &self,
        payment_id: &PaymentId,
        created_at: Timestamp,
        id: &RefundId,
    ) -> Result<Option<Refund>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::payment_pk(payment_id),
                refund_sk(created_at, &id.to_string()),
            )))
            .consistent_read(true)
            .send()
            .await?;
        match output.item {
            Some(item) => Ok(Some(serde_dynamo::from_item::<_, RefundItem>(item)?.refund)),
            None => Ok(None),
        }
    }

    /// The payment's update to `next`, conditioned on the version read.
    fn payment_update(
        &self,
        payment: &RefundablePayment,
        next: RefundLedger,
        now: Timestamp,
    ) -> Result<TransactWriteItem, RefundWriteError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::payment_pk(&payment.payment.id),
                keys::PAYMENT_SK.to_owned(),
            )))
            .update_expression("SET #v = :next, #ra = :ra, #rr = :rr, #st = :st, #ua = :ua")
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_names("#ra", REFUNDED)
            .expression_attribute_names("#rr", RESERVED)
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_names("#ua", UPDATED_AT)
            .expression_attribute_values(":v", AttributeValue::N(payment.version.to_string()))
            .expression_attribute_values(
                ":next",
                AttributeValue::N((payment.version + 1).to_string()),
            )
            .expression_attribute_values(":ra", AttributeValue::N(next.refunded.to_string()))
            .expression_attribute_values(":rr", AttributeValue::N(next.reserved.to_string()))
            .expression_attribute_values(":st", serde_dynamo::to_attribute_value(next.status())?)
            .expression_attribute_values(":ua", AttributeValue::N(now.millis().to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Stores a new refund (`pending`, or `succeeded` for an offline payment) and moves the
    /// payment to `next`, in one transaction conditioned on the payment's version.
    #[tracing::instrument(skip_all, fields(payment_id = %refund.payment_id, refund_id = %refund.id))]
    pub async fn open(
        &self,
        payment: &RefundablePayment,
        next: RefundLedger,
        refund: &Refund,
    ) -> Result<(), RefundWriteError> {
        let refund_status = refund.status;
        let item = serde_dynamo::to_item(RefundItem {
            pk: keys::payment_pk(&refund.payment_id),
            sk: refund_sk(refund.created_at, &refund.id.to_string()),
            refund: refund.clone(),
        })?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .build()?;
        let actions = vec![
            TransactWriteItem::builder().put(put).build(),
            self.payment_update(payment, next, refund.updated_at)?,
        ];
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                committed(payment, next, refund_status);
                return Ok(());
            }
            Err(err) => err,
        };
        match cancellation_codes(&err).as_deref() {
            Some([first, _]) if first == "ConditionalCheckFailed" => Err(RefundWriteError::Store(
                StoreError::Request(format!("refund id {} is taken", refund.id)),
            )),
            Some(codes) if retryable(codes) => Err(RefundWriteError::Conflict),
            _ => Err(RefundWriteError::Store(err.into())),
        }
    }

    /// Writes `settled` (the refund, now `succeeded` or `failed`) over its pending version and
    /// moves the payment to `next`, conditioned on the refund still being pending and on the
    /// payment's version.
    #[tracing::instrument(skip_all, fields(payment_id = %settled.payment_id, refund_id = %settled.id, status = ?settled.status))]
    pub async fn settle(
        &self,
        payment: &RefundablePayment,
        next: RefundLedger,
        settled: &Refund,
    ) -> Result<(), RefundWriteError> {
        let refund_status = settled.status;
        let mut expression = "SET #st = :st, #ua = :ua".to_owned();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::payment_pk(&settled.payment_id),
                refund_sk(settled.created_at, &settled.id.to_string()),
            )))
            .condition_expression("#st = :pending")
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_names("#ua", UPDATED_AT)
            .expression_attribute_values(":st", serde_dynamo::to_attribute_value(settled.status)?)
            .expression_attribute_values(
                ":pending",
                serde_dynamo::to_attribute_value(RefundStatus::Pending)?,
            )
            .expression_attribute_values(
                ":ua",
                AttributeValue::N(settled.updated_at.millis().to_string()),
            );
        if let Some(failure) = &settled.failure {
            expression.push_str(", #f = :f");
            update = update
                .expression_attribute_names("#f", FAILURE)
                .expression_attribute_values(":f", serde_dynamo::to_attribute_value(failure)?);
        }
        let update = update.update_expression(expression).build()?;
        let actions = vec![
            TransactWriteItem::builder().update(update).build(),
            self.payment_update(payment, next, settled.updated_at)?,
        ];
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                committed(payment, next, refund_status);
                return Ok(());
            }
            Err(err) => err,
        };
        match cancellation_codes(&err).as_deref() {
            Some([first, _]) if first == "ConditionalCheckFailed" => {
                Err(RefundWriteError::NotPending)
            }
            Some(codes) if retryable(codes) => Err(RefundWriteError::Conflict),
            _ => Err(RefundWriteError::Store(err.into())),
        }
    }

    /// A page of a payment's refunds, newest first, and the position after its last one when
    /// more follow.
    pub async fn list(
        &self,
        payment_id: &PaymentId,
        limit: u16,
        after: Option<&Position>,
    ) -> Result<(Vec<Refund>, Option<Position>), StoreError> {
        let limit = usize::from(limit.max(1));
        let pk = keys::payment_pk(payment_id);
        let mut start = after.map(|p| Self::key(pk.clone(), refund_sk(p.created_at, &p.id)));
        let mut found: Vec<Refund> = Vec::new();
        // One more than asked tells whether more follow; a page cut by DynamoDB's 1 MB limit
        // is continued until enough or the partition ends.
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":prefix", AttributeValue::S(SK_PREFIX.to_owned()))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(i32::try_from(limit + 1 - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in output.items.unwrap_or_default() {
                found.push(serde_dynamo::from_item::<_, RefundItem>(item)?.refund);
            }
            start = output.last_evaluated_key;
            if found.len() > limit || start.is_none() {
                break;
            }
        }
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|r| Position {
                created_at: r.created_at,
                id: r.id.to_string(),
            })
        } else {
            None
        };
        Ok((found, next))
    }
}

/// A cancellation that a fresh read and another attempt can get past: the payment's version
/// moved, or DynamoDB cancelled the transaction for a concurrent one on the same items.
fn retryable(codes: &[String]) -> bool {
    codes
        .iter()
        .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_keys_sort_by_time_then_id_after_the_prefix() {
        let early = refund_sk(Timestamp::from_millis(5), "b");
        let late = refund_sk(Timestamp::from_millis(1_700_000_000_000), "a");
        assert_eq!(early, "REFUND#0000000000005#b");
        assert!(early < late);
        assert!(early.starts_with(SK_PREFIX) && late.starts_with(SK_PREFIX));
    }

    #[test]
    fn a_version_conflict_or_a_transaction_conflict_is_retried() {
        let codes = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(retryable(&codes(&["None", "ConditionalCheckFailed"])));
        assert!(retryable(&codes(&["TransactionConflict", "None"])));
        assert!(!retryable(&codes(&["None", "ValidationError"])));
    }
}
