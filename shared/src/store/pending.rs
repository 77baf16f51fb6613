//! The payments still `pending` since before a cut-off, read from the sparse `by_pending` index
//! (one small partition per shard, oldest first): what the reconciler re-sends.

use super::error::StoreError;
use super::item::PaymentItem;
use super::keys::{self, PENDING_SHARDS, attr, index};
use super::payments::{DynamoPayments, PaymentWriteError, StoredPayment};
use crate::domain::{Payment, Timestamp};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;

/// Finds payments pending since before `cutoff`, at most `limit` of them, oldest first.
pub trait FindPending: Send + Sync {
    fn pending_before(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredPayment>, StoreError>> + Send;
}

/// Writes `failed` (a final payment, no sealed card) over a pending payment as read: the
/// reconciler giving up on one at its deadline. [`PaymentWriteError::Conflict`] when it changed
/// since it was read.
pub trait FailPending: Send + Sync {
    fn fail(
        &self,
        pending: &StoredPayment,
        failed: &Payment,
    ) -> impl Future<Output = Result<(), PaymentWriteError>> + Send;
}

impl FailPending for DynamoPayments {
    async fn fail(
        &self,
        pending: &StoredPayment,
        failed: &Payment,
    ) -> Result<(), PaymentWriteError> {
        self.update(pending, failed, None).await
    }
}

#[derive(Debug, Clone)]
pub struct DynamoPending {
    client: Client,
    table: String,
}

impl DynamoPending {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoPending {
            client,
            table: table.into(),
        }
    }

    async fn shard(
        &self,
        shard: u8,
        cutoff: &str,
        limit: usize,
    ) -> Result<Vec<StoredPayment>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index::BY_PENDING)
                .key_condition_expression("#s = :s AND #t < :t")
                .expression_attribute_names("#s", attr::PENDING_SHARD)
                .expression_attribute_names("#t", attr::PENDING_SINCE)
                .expression_attribute_values(
                    ":s",
                    AttributeValue::S(keys::pending_partition(shard)),
                )
                .expression_attribute_values(":t", AttributeValue::S(cutoff.to_owned()))
                .limit(i32::try_from(limit.saturating_sub(found.len())).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in output.items.unwrap_or_default() {
                let item: PaymentItem = serde_dynamo::from_item(item)?;
                found.push(StoredPayment {
                    payment: item.payment,
                    version: item.version,
                    card_sealed: item.card_sealed,
                });
            }
            start = output.last_evaluated_key;
            if start.is_none() || found.len() >= limit {
                return Ok(found);
            }
        }
    }
}

impl FindPending for DynamoPending {
    #[tracing::instrument(skip_all, fields(cutoff = cutoff.millis()))]
    async fn pending_before(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredPayment>, StoreError> {
        // Time keys are `<13-digit ms>#<id>`: everything below "<cutoff ms>#" became pending
        // strictly before the cut-off.
        let (below, _) = keys::time_key_bounds(cutoff, cutoff);
        let mut all = Vec::new();
        for shard in 0..PENDING_SHARDS {
            all.extend(self.shard(shard, &below, limit.max(1)).await?);
        }
        all.sort_by(|a, b| {
            (a.payment.updated_at, a.payment.id).cmp(&(b.payment.updated_at, b.payment.id))
        });
        all.truncate(limit);
        Ok(all)
    }
}
