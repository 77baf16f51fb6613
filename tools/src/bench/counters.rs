//! The day counters as the API leaves them. The generator adds each day's deltas to one counter
//! item (shard 0); payments through the API spread over `AGGREGATE_SHARDS` items per day. This
//! rewrites the seeded counters into that layout (each counted payment dealt to the shards in
//! turn, totals and per-country counts unchanged), so that `bench reports` can measure what a
//! count reads before and after sharding on the same data.

use super::BenchResult;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use payrail_shared::store::keys::{self, AGGREGATE_SHARDS, attr};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// Deals one counter's payments to the shards: shard `s` gets the units `s, s + shards, …` of
/// the country-ordered list, so every shard's `n` is the sum of its own country counts.
fn deal(item: &Item, shards: u8) -> Vec<(u64, Vec<(String, u64)>)> {
    let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    let mut countries: Vec<(String, u64)> = item
        .iter()
        .filter(|(k, _)| k.starts_with("c_"))
        .filter_map(|(k, v)| Some((k.clone(), number(v)?)))
        .collect();
    countries.sort();
    let units: Vec<&String> = countries
        .iter()
        .flat_map(|(c, n)| std::iter::repeat_n(c, usize::try_from(*n).unwrap_or(0)))
        .collect();
    (0..usize::from(shards))
        .map(|s| {
            let mine: Vec<&&String> = units.iter().skip(s).step_by(usize::from(shards)).collect();
            let mut by_country: HashMap<String, u64> = HashMap::new();
            for c in &mine {
                *by_country.entry((**c).clone()).or_default() += 1;
            }
            (mine.len() as u64, by_country.into_iter().collect())
        })
        .filter(|(n, _)| *n > 0)
        .collect()
}

/// Rewrites the counters of every (card type, day) of `table` into the API's sharded layout,
/// in one transaction per day; returns (counter items before, after).
pub async fn spread(client: &Client, table: &str) -> BenchResult<(u64, u64)> {
    let mut counters = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("begins_with(#pk, :agg)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":agg", AttributeValue::S("AGG#".to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        counters.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let before = counters.len() as u64;
    // A day's counters (whatever their layout) summed, with the keys they had.
    let mut days: HashMap<(String, String), (Item, Vec<String>)> = HashMap::new();
    for item in counters {
        let (Some(pk), Some(sk)) = (
            item.get(attr::PK).and_then(|v| v.as_s().ok()).cloned(),
            item.get(attr::SK).and_then(|v| v.as_s().ok()).cloned(),
        ) else {
            continue;
        };
        let Some(day) = keys::aggregate_day(&sk) else {
            continue;
        };
        let (sum, sks) = days.entry((pk, day.to_string())).or_default();
        for (name, value) in item
            .iter()
            .filter(|(k, _)| *k == attr::COUNT || k.starts_with("c_"))
        {
            let add = value
                .as_n()
                .ok()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            let had = sum
                .get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            sum.insert(name.clone(), AttributeValue::N((had + add).to_string()));
        }
        sks.push(sk);
    }
    let mut after = 0u64;
    for ((pk, day), (sum, old_sks)) in days {
        let Some(day) = keys::aggregate_day(&day) else {
            continue;
        };
        let mut actions = Vec::new();
        let mut new_sks = Vec::new();
        for (shard, (n, countries)) in deal(&sum, AGGREGATE_SHARDS).into_iter().enumerate() {
            let shard_sk = keys::aggregate_sk(day, u8::try_from(shard).unwrap_or(0));
            let mut put = Put::builder()
                .table_name(table)
                .item(attr::PK, AttributeValue::S(pk.clone()))
                .item(attr::SK, AttributeValue::S(shard_sk.clone()))
                .item(attr::COUNT, AttributeValue::N(n.to_string()));
            for (country, count) in countries {
                put = put.item(country, AttributeValue::N(count.to_string()));
            }
            actions.push(TransactWriteItem::builder().put(put.build()?).build());
            new_sks.push(shard_sk);
            after += 1;
        }
        // A transaction may not touch one item twice: keys rewritten by a Put are not deleted.
        for sk in old_sks.into_iter().filter(|sk| !new_sks.contains(sk)) {
            let delete = Delete::builder()
                .table_name(table)
                .key(attr::PK, AttributeValue::S(pk.clone()))
                .key(attr::SK, AttributeValue::S(sk))
                .build()?;
            actions.push(TransactWriteItem::builder().delete(delete).build());
        }
        client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await?;
    }
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dealing_keeps_every_total_and_country_count() {
        let item: Item = HashMap::from([
            ("n".to_owned(), AttributeValue::N("19".to_owned())),
            ("c_GB".to_owned(), AttributeValue::N("12".to_owned())),
            ("c_DE".to_owned(), AttributeValue::N("7".to_owned())),
        ]);
        let dealt = deal(&item, 8);
        assert_eq!(dealt.len(), 8);
        assert_eq!(dealt.iter().map(|(n, _)| n).sum::<u64>(), 19);
        for country in ["c_GB", "c_DE"] {
            let sum: u64 = dealt
                .iter()
                .flat_map(|(_, c)| c.iter())
                .filter(|(k, _)| k == country)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(sum, if country == "c_GB" { 12 } else { 7 });
        }
        for (n, countries) in &dealt {
            assert_eq!(*n, countries.iter().map(|(_, c)| c).sum::<u64>());
        }
        assert_eq!(deal(&item, 40).len(), 19, "no empty shard is written");
    }
}
