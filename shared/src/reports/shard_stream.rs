//! One shard of one day of a report index, read newest first in pages sized by the caller, so
//! that a merge across shards reads little more than it returns.

use super::expr::Expr;
use super::request::ReadStats;
use crate::store::StoreError;
use crate::store::item::PaymentItem;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{HashMap, VecDeque};

/// A payment read from an index, with the time key that orders it.
#[derive(Debug, Clone)]
pub struct Found {
    pub order: String,
    pub item: PaymentItem,
}

pub struct ShardStream<'a> {
    client: &'a Client,
    table: &'a str,
    index: &'static str,
    expr: Expr,
    /// Items at or above this time key are skipped: the position a page resumes after.
    exclusive_upper: Option<String>,
    buffer: VecDeque<Found>,
    next_start: Option<HashMap<String, AttributeValue>>,
    exhausted: bool,
    pub stats: ReadStats,
}

impl<'a> ShardStream<'a> {
    pub fn new(
        client: &'a Client,
        table: &'a str,
        index: &'static str,
        expr: Expr,
        exclusive_upper: Option<String>,
    ) -> Self {
        ShardStream {
            client,
            table,
            index,
            expr,
            exclusive_upper,
            buffer: VecDeque::new(),
            next_start: None,
            exhausted: false,
            stats: ReadStats::default(),
        }
    }

    pub fn head(&self) -> Option<&Found> {
        self.buffer.front()
    }

    pub fn pop(&mut self) -> Option<Found> {
        self.buffer.pop_front()
    }

    /// True while the shard may still yield items: buffered, or more in DynamoDB.
    pub fn is_live(&self) -> bool {
        !self.exhausted || !self.buffer.is_empty()
    }

    pub fn needs_refill(&self) -> bool {
        !self.exhausted && self.buffer.is_empty()
    }

    /// Reads until at least one item is buffered or the shard is exhausted, asking DynamoDB
    /// for `limit` items at a time (with a FilterExpression a page may hold none).
    pub async fn refill(&mut self, limit: i32) -> Result<(), StoreError> {
        while self.buffer.is_empty() && !self.exhausted {
            let output = self
                .client
                .query()
                .table_name(self.table)
                .index_name(self.index)
                .key_condition_expression(self.expr.key_condition())
                .set_filter_expression(self.expr.filter_expression())
                .set_expression_attribute_names(Some(self.expr.names.clone()))
                .set_expression_attribute_values(Some(self.expr.values.clone()))
                .scan_index_forward(false)
                .limit(limit.max(1))
                .set_exclusive_start_key(self.next_start.take())
                .send()
                .await?;
            self.stats.queries += 1;
            self.stats.items_read += u64::try_from(output.scanned_count()).unwrap_or(0);
            self.next_start = output.last_evaluated_key().cloned();
            self.exhausted = self.next_start.is_none();
            for raw in output.items() {
                let item: PaymentItem = serde_dynamo::from_item(raw.clone())?;
                let Some(order) = item.report.as_ref().map(|r| r.rpt_time.clone()) else {
                    continue;
                };
                if self
                    .exclusive_upper
                    .as_ref()
                    .is_some_and(|upper| order >= *upper)
                {
                    continue;
                }
                self.buffer.push_back(Found { order, item });
            }
        }
        Ok(())
    }

    /// Reads everything that is left (for the amount path, which must order a day by time).
    pub async fn drain(&mut self, page: i32) -> Result<Vec<Found>, StoreError> {
        let mut all = Vec::new();
        loop {
            self.refill(page).await?;
            if self.buffer.is_empty() {
                return Ok(all);
            }
            all.extend(self.buffer.drain(..));
        }
    }
}
