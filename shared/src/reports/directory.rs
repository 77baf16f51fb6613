//! Finding the next day that holds data, from the aggregate counters, so that a long window
//! (up to 3650 days) over sparse data does not cost one query per empty day and shard.

use super::expr::{Expr, s};
use super::request::{ReadStats, TransactionFilter, Window};
use crate::domain::{CardType, Day};
use crate::store::StoreError;
use crate::store::keys::{self, attr};
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;

/// The newest day on or before `at_or_before`, inside the window, with completed transactions
/// of the filter's card type (any, when unset) and country.
pub async fn next_day_with_data(
    client: &Client,
    table: &str,
    filter: &TransactionFilter,
    window: &Window,
    at_or_before: Day,
) -> Result<(Option<Day>, ReadStats), StoreError> {
    if at_or_before < window.first_day() {
        return Ok((None, ReadStats::default()));
    }
    let card_types: Vec<CardType> = match filter.card_type {
        Some(card_type) => vec![card_type],
        None => CardType::ALL.to_vec(),
    };
    let lookups = card_types.into_iter().map(|card_type| {
        newest_day(
            client,
            table,
            filter,
            card_type,
            window.first_day(),
            at_or_before,
        )
    });
    let results = try_join_all(lookups).await?;
    let mut stats = ReadStats::default();
    let mut newest = None;
    for (day, s) in results {
        stats.add(s);
        newest = newest.max(day);
    }
    Ok((newest, stats))
}

async fn newest_day(
    client: &Client,
    table: &str,
    filter: &TransactionFilter,
    card_type: CardType,
    from: Day,
    to: Day,
) -> Result<(Option<Day>, ReadStats), StoreError> {
    let mut e = Expr::default();
    let (pk, pkv) = (e.name(attr::PK), e.value(s(keys::aggregate_pk(card_type))));
    let (low, high) = keys::aggregate_sk_bounds(from, to);
    let (sk, lo, hi) = (e.name(attr::SK), e.value(s(low)), e.value(s(high)));
    e.key(format!("{pk} = {pkv} AND {sk} BETWEEN {lo} AND {hi}"));
    if let Some(country) = filter.country {
        let c = e.name(&keys::country_count_attr(country));
        e.filter(format!("attribute_exists({c})"));
    }
    let (mut stats, mut start) = (ReadStats::default(), None);
    loop {
        let output = client
            .query()
            .table_name(table)
            .key_condition_expression(e.key_condition())
            .set_filter_expression(e.filter_expression())
            .set_expression_attribute_names(Some(e.names.clone()))
            .set_expression_attribute_values(Some(e.values.clone()))
            .scan_index_forward(false)
            .limit(if e.has_filter() { 32 } else { 1 })
            .set_exclusive_start_key(start)
            .send()
            .await?;
        stats.queries += 1;
        stats.items_read += u64::try_from(output.scanned_count()).unwrap_or(0);
        let day = output
            .items()
            .first()
            .and_then(|item| item.get(attr::SK))
            .and_then(|v| v.as_s().ok())
            .and_then(|d| keys::aggregate_day(d));
        if day.is_some() {
            return Ok((day, stats));
        }
        start = output.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok((None, stats));
        }
    }
}
