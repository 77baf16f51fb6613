//! Per-day, per-card-type counters of completed payments (with a per-country breakdown), so that
//! counting by card type reads a few items per day (its shards) instead of every transaction.

use super::keys::{self, attr};
use crate::domain::{CardType, Country, Day};
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use std::collections::{BTreeMap, HashMap};

/// Completed payments to add to one aggregate item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateDelta {
    pub total: u64,
    pub by_country: BTreeMap<Country, u64>,
}

impl AggregateDelta {
    pub fn one(country: Country) -> Self {
        AggregateDelta {
            total: 1,
            by_country: BTreeMap::from([(country, 1)]),
        }
    }

    pub fn add(&mut self, country: Country) {
        self.total += 1;
        *self.by_country.entry(country).or_default() += 1;
    }
}

/// The key and `ADD` expression of an aggregate update; shared by the transactional writer
/// (one payment) and the bulk loader (many payments at once).
pub struct AggregateUpdate {
    pub key: HashMap<String, AttributeValue>,
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl AggregateUpdate {
    /// A shard for a payment's update, at random (see [`keys::AGGREGATE_SHARDS`]).
    pub fn random_shard() -> u8 {
        rand::random_range(0..keys::AGGREGATE_SHARDS)
    }

    pub fn new(card_type: CardType, day: Day, shard: u8, delta: &AggregateDelta) -> Self {
        let key = HashMap::from([
            (
                attr::PK.to_owned(),
                AttributeValue::S(keys::aggregate_pk(card_type)),
            ),
            (
                attr::SK.to_owned(),
                AttributeValue::S(keys::aggregate_sk(day, shard)),
            ),
        ]);
        let mut clauses = vec!["#n :n".to_owned()];
        let mut names = HashMap::from([("#n".to_owned(), attr::COUNT.to_owned())]);
        let mut values =
            HashMap::from([(":n".to_owned(), AttributeValue::N(delta.total.to_string()))]);
        for (i, (country, count)) in delta.by_country.iter().enumerate() {
            clauses.push(format!("#c{i} :c{i}"));
            names.insert(format!("#c{i}"), keys::country_count_attr(*country));
            values.insert(format!(":c{i}"), AttributeValue::N(count.to_string()));
        }
        AggregateUpdate {
            key,
            expression: format!("ADD {}", clauses.join(", ")),
            names,
            values,
        }
    }

    /// As one action of a TransactWriteItems.
    pub fn into_transact(self, table: &str) -> Result<Update, aws_sdk_dynamodb::error::BuildError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.expression)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
    }
}

/// One aggregate item as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateCount {
    pub day: Day,
    pub total: u64,
    pub by_country: BTreeMap<String, u64>,
}

impl AggregateCount {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let day = item
            .get(attr::SK)?
            .as_s()
            .ok()
            .and_then(|s| keys::aggregate_day(s))?;
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
        let total = item.get(attr::COUNT).and_then(number).unwrap_or(0);
        let by_country = item
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("c_")?.to_owned(), number(v)?)))
            .collect();
        Some(AggregateCount {
            day,
            total,
            by_country,
        })
    }

    pub fn count(&self, country: Option<Country>) -> u64 {
        match country {
            Some(c) => self.by_country.get(c.code()).copied().unwrap_or(0),
            None => self.total,
        }
    }
}
