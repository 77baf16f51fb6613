//! The reports answered from DynamoDB: Query on the date-bucketed, write-sharded, sparse report
//! indexes and on the per-day aggregate counters. Never a Scan.

use super::directory::next_day_with_data;
use super::expr::{Expr, s};
use super::plan::Plan;
use super::request::{CountRequest, ListRequest, Position, ReadStats, TransactionFilter, Window};
use super::shard_stream::{Found, ShardStream};
use crate::domain::{Day, Payment};
use crate::store::StoreError;
use crate::store::aggregates::AggregateCount;
use crate::store::keys::{self, REPORT_SHARDS, attr, index};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::Select;
use futures::future::try_join_all;

/// A page of a list report. `has_more` comes from reading one item past the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub items: Vec<Payment>,
    pub next: Option<Position>,
}

#[derive(Debug, Clone)]
pub struct DynamoReports {
    client: Client,
    table: String,
}

impl DynamoReports {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoReports {
            client,
            table: table.into(),
        }
    }

    /// Completed transactions in the window, newest first, one page.
    #[tracing::instrument(skip_all, fields(limit = request.limit))]
    pub async fn list(&self, request: &ListRequest) -> Result<(ListPage, ReadStats), StoreError> {
        let plan = Plan::choose(&request.filter);
        let want = usize::from(request.limit) + 1;
        let resume = request
            .after
            .as_ref()
            .map(|p| keys::time_key(p.created_at, &p.id));
        let (_, top) = keys::time_key_bounds(request.window.from, request.window.to);
        let upper = match &resume {
            Some(r) if *r < top => r.clone(),
            _ => top,
        };
        let mut day = request
            .after
            .as_ref()
            .map_or(request.window.last_day(), |p| {
                p.created_at.day().min(request.window.last_day())
            });
        let mut found: Vec<Found> = Vec::new();
        let mut stats = ReadStats::default();
        while day >= request.window.first_day() && found.len() < want {
            let need = want - found.len();
            let ctx = DayQuery {
                client: &self.client,
                table: &self.table,
                plan,
                request,
                day,
                upper: &upper,
                resume: resume.as_deref(),
            };
            let (got, day_stats) = match plan {
                Plan::ByTime { .. } => ctx.merge_newest(need).await?,
                Plan::ByAmount => ctx.amount_day(need).await?,
            };
            stats.add(day_stats);
            let empty = got.is_empty();
            found.extend(got);
            day = if empty {
                let (next, dir_stats) = next_day_with_data(
                    &self.client,
                    &self.table,
                    &request.filter,
                    &request.window,
                    day.previous(),
                )
                .await?;
                stats.add(dir_stats);
                match next {
                    Some(d) => d,
                    None => break,
                }
            } else {
                day.previous()
            };
        }
        let has_more = found.len() > usize::from(request.limit);
        found.truncate(usize::from(request.limit));
        let next = if has_more {
            found.last().map(|f| Position {
                created_at: f.item.payment.created_at,
                id: f.item.payment.id.to_string(),
            })
        } else {
            None
        };
        let items = found.into_iter().map(|f| f.item.payment).collect();
        Ok((ListPage { items, next }, stats))
    }

    /// Completed transactions of one card type (and optionally one country) in the window:
    /// the aggregate counters of the days the window holds whole, plus a count over the index
    /// of the day its lower edge cuts in two, less anything stamped after its upper edge.
    #[tracing::instrument(skip_all, fields(card_type = %request.card_type))]
    pub async fn count(&self, request: &CountRequest) -> Result<(u64, ReadStats), StoreError> {
        let window = request.window;
        let mut stats = ReadStats::default();
        let filter = TransactionFilter {
            card_type: Some(request.card_type),
            country: request.country,
            ..Default::default()
        };
        let first = window.first_day();
        if first == window.last_day() {
            let edge = Window {
                from: window.from,
                to: window.to,
            };
            let (n, s) = self.count_indexed(&filter, first, &edge).await?;
            return Ok((n, s));
        }
        // Whole days after the first, up to and including the last (today).
        let (aggregated, agg_stats) = self
            .sum_aggregates(request, first.next(), window.last_day())
            .await?;
        stats.add(agg_stats);
        let first_day_part = Window {
            from: window.from,
            to: first.next().start().plus(-1),
        };
        let (head, head_stats) = self.count_indexed(&filter, first, &first_day_part).await?;
        stats.add(head_stats);
        // The last day's counter holds that whole day; take away what lies after `to`
        // (normally nothing: payments are not stamped in the future).
        let after_to = Window {
            from: window.to.plus(1),
            to: window.last_day().next().start().plus(-1),
        };
        let (tail, tail_stats) = self
            .count_indexed(&filter, window.last_day(), &after_to)
            .await?;
        stats.add(tail_stats);
        Ok(((aggregated + head).saturating_sub(tail), stats))
    }

    async fn sum_aggregates(
        &self,
        request: &CountRequest,
        from: Day,
        to: Day,
    ) -> Result<(u64, ReadStats), StoreError> {
        let mut e = Expr::default();
        let (pk, pkv) = (
            e.name(attr::PK),
            e.value(s(keys::aggregate_pk(request.card_type))),
        );
        let (low, high) = keys::aggregate_sk_bounds(from, to);
        let (sk, lo, hi) = (e.name(attr::SK), e.value(s(low)), e.value(s(high)));
        e.key(format!("{pk} = {pkv} AND {sk} BETWEEN {lo} AND {hi}"));
        let (mut total, mut stats, mut start) = (0u64, ReadStats::default(), None);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(e.key_condition())
                .set_expression_attribute_names(Some(e.names.clone()))
                .set_expression_attribute_values(Some(e.values.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            stats.queries += 1;
            stats.items_read += u64::try_from(output.scanned_count()).unwrap_or(0);
            total += output
                .items()
                .iter()
                .filter_map(AggregateCount::from_item)
                .map(|a| a.count(request.country))
                .sum::<u64>();
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((total, stats));
            }
        }
    }

    /// Counts, with Select COUNT over the card-type index, the items of one day inside `part`.
    async fn count_indexed(
        &self,
        filter: &TransactionFilter,
        day: Day,
        part: &Window,
    ) -> Result<(u64, ReadStats), StoreError> {
        if part.from > part.to {
            return Ok((0, ReadStats::default()));
        }
        let plan = Plan::choose(filter);
        let (_, upper) = keys::time_key_bounds(part.from, part.to);
        let counts = (0..REPORT_SHARDS).map(|shard| {
            let e = plan.expression(filter, part, day, shard, &upper);
            self.count_query(index::BY_CARD_TYPE_DAY, e)
        });
        let results = try_join_all(counts).await?;
        let mut stats = ReadStats::default();
        let total = results
            .iter()
            .map(|(n, s)| {
                stats.add(*s);
                n
            })
            .sum();
        Ok((total, stats))
    }

    async fn count_query(&self, index: &str, e: Expr) -> Result<(u64, ReadStats), StoreError> {
        let (mut total, mut stats, mut start) = (0u64, ReadStats::default(), None);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .select(Select::Count)
                .key_condition_expression(e.key_condition())
                .set_filter_expression(e.filter_expression())
                .set_expression_attribute_names(Some(e.names.clone()))
                .set_expression_attribute_values(Some(e.values.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            stats.queries += 1;
            stats.items_read += u64::try_from(output.scanned_count()).unwrap_or(0);
            total += u64::try_from(output.count()).unwrap_or(0);
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((total, stats));
            }
        }
    }
}

/// The reads of one day of a list report.
struct DayQuery<'a> {
    client: &'a Client,
    table: &'a str,
    plan: Plan,
    request: &'a ListRequest,
    day: Day,
    upper: &'a str,
    resume: Option<&'a str>,
}

impl DayQuery<'_> {
    fn streams(&self) -> Vec<ShardStream<'_>> {
        (0..REPORT_SHARDS)
            .map(|shard| {
                let e = self.plan.expression(
                    &self.request.filter,
                    &self.request.window,
                    self.day,
                    shard,
                    self.upper,
                );
                ShardStream::new(
                    self.client,
                    self.table,
                    self.plan.index(),
                    e,
                    self.resume.map(str::to_owned),
                )
            })
            .collect()
    }

    /// Up to `need` items of the day, newest first: a k-way merge of the shards that asks each
    /// shard for its fair share of what is still needed, so little is read and left unused.
    async fn merge_newest(&self, need: usize) -> Result<(Vec<Found>, ReadStats), StoreError> {
        let mut streams = self.streams();
        let mut out = Vec::with_capacity(need);
        let mut first_fill = true;
        while out.len() < need {
            let remaining = need - out.len();
            // A shard's fair share is what is still needed over the shards that may still hold
            // some: the others' buffered items will fill the rest, so asking an empty shard
            // for everything would read what the page never uses.
            let live = streams.iter().filter(|s| s.is_live()).count().max(1);
            // The first fill takes three quarters of an even split: the shards that hold more of
            // the page are topped up in small refills rather than all shards reading extra.
            if streams.iter().any(|s| s.needs_refill()) {
                let wanted = if first_fill {
                    (remaining * 3).div_ceil(4)
                } else {
                    remaining
                };
                first_fill = false;
                let share = i32::try_from(wanted.div_ceil(live)).unwrap_or(i32::MAX);
                try_join_all(
                    streams
                        .iter_mut()
                        .filter(|s| s.needs_refill())
                        .map(|s| s.refill(share)),
                )
                .await?;
            }
            let newest = streams
                .iter_mut()
                .filter(|s| s.head().is_some())
                .max_by(|a, b| a.head().map(|f| &f.order).cmp(&b.head().map(|f| &f.order)));
            match newest.and_then(|s| s.pop()) {
                Some(found) => out.push(found),
                None => break,
            }
        }
        let mut stats = ReadStats::default();
        streams.iter().for_each(|s| stats.add(s.stats));
        Ok((out, stats))
    }

    /// The day's items inside the amount range, read from the amount-ordered index, then put
    /// in time order; the whole day's matches are read even when the page needs fewer.
    async fn amount_day(&self, need: usize) -> Result<(Vec<Found>, ReadStats), StoreError> {
        let mut streams = self.streams();
        let drained = try_join_all(streams.iter_mut().map(|s| s.drain(1000))).await?;
        let mut all: Vec<Found> = drained.into_iter().flatten().collect();
        all.sort_by(|a, b| b.order.cmp(&a.order));
        all.truncate(need);
        let mut stats = ReadStats::default();
        streams.iter().for_each(|s| stats.add(s.stats));
        Ok((all, stats))
    }
}
