//! Measurements behind `make bench` (see docs/performance.md).

pub mod auth;
pub mod capacity;
pub mod cold_start;
pub mod counters;
pub mod payments_api;
pub mod stream;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use payrail_shared::domain::{CardType, Country, FingerprintKey, Timestamp};
use payrail_shared::reports::{
    AmountRange, CountRequest, Days, DynamoReports, ListRequest, TransactionFilter, Window,
};
use payrail_shared::store::PaymentItem;
use std::collections::HashMap;
use std::time::Instant;

pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Writes `count` generator payments with one PutItem each, in sequence; returns items/s.
pub async fn sequential_put(
    client: &Client,
    table: &str,
    count: u64,
    key: FingerprintKey,
) -> BenchResult<f64> {
    let now = payrail_shared::domain::Clock::now(&payrail_shared::domain::SystemClock);
    let started = Instant::now();
    for payment in crate::generator::payments(99, count, 90, now, Some(key)) {
        let item = serde_dynamo::to_item(PaymentItem::of(payment))?;
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

#[derive(Debug, Clone)]
pub enum Report {
    List {
        limit: u16,
        filter: TransactionFilter,
    },
    Count {
        card_type: CardType,
    },
}

#[derive(Debug, Clone)]
pub struct ReportCase {
    pub name: String,
    pub days: u16,
    pub report: Report,
}

impl ReportCase {
    pub fn list(days: u16, limit: u16) -> Self {
        ReportCase {
            name: String::new(),
            days,
            report: Report::List {
                limit,
                filter: TransactionFilter::default(),
            },
        }
    }

    pub fn count(days: u16, card_type: CardType) -> Self {
        ReportCase {
            name: String::new(),
            days,
            report: Report::Count { card_type },
        }
    }

    pub fn named(mut self, name: String) -> Self {
        self.name = name;
        self
    }

    fn filter_mut(&mut self) -> Option<&mut TransactionFilter> {
        match &mut self.report {
            Report::List { filter, .. } => Some(filter),
            Report::Count { .. } => None,
        }
    }

    pub fn card_type(mut self, card_type: CardType) -> Self {
        if let Some(f) = self.filter_mut() {
            f.card_type = Some(card_type);
        }
        self
    }

    pub fn country(mut self, country: Option<Country>) -> Self {
        if let Some(f) = self.filter_mut() {
            f.country = country;
        }
        self
    }

    pub fn amount(mut self, min: u64, max: u64) -> Self {
        if let Some(f) = self.filter_mut() {
            f.amount = AmountRange {
                min: Some(min),
                max: Some(max),
            };
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct ReportRow {
    pub name: String,
    pub returned: u64,
    pub items_read: u64,
    pub queries: u64,
    pub scan_read: u64,
}

/// Runs every case through the report engine (all pages) and through a Scan with the same
/// filter, and checks that both return as many transactions.
pub async fn report_ratios(
    client: &Client,
    table: &str,
    now: Timestamp,
    cases: &[ReportCase],
) -> BenchResult<Vec<ReportRow>> {
    let reports = DynamoReports::new(client.clone(), table);
    let mut rows = Vec::new();
    for case in cases {
        let window = Window::last(Days::new(i64::from(case.days))?, now);
        let (returned, items_read, queries, filter) = match &case.report {
            Report::List { limit, filter } => {
                let (mut returned, mut read, mut queries, mut after) = (0u64, 0u64, 0u64, None);
                loop {
                    let request = ListRequest {
                        window,
                        filter: *filter,
                        limit: *limit,
                        after,
                    };
                    let (page, stats) = reports.list(&request).await?;
                    returned += page.items.len() as u64;
                    read += stats.items_read;
                    queries += stats.queries;
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                (returned, read, queries, *filter)
            }
            Report::Count { card_type } => {
                let request = CountRequest {
                    window,
                    card_type: *card_type,
                    country: None,
                };
                let (count, stats) = reports.count(&request).await?;
                let filter = TransactionFilter {
                    card_type: Some(*card_type),
                    ..Default::default()
                };
                (count, stats.items_read, stats.queries, filter)
            }
        };
        let (scan_returned, scan_read) = scan_with_filter(client, table, &window, &filter).await?;
        if scan_returned != returned {
            return Err(format!(
                "{}: the report returned {returned}, the Scan {scan_returned}",
                case.name
            )
            .into());
        }
        rows.push(ReportRow {
            name: case.name.clone(),
            returned,
            items_read,
            queries,
            scan_read,
        });
    }
    Ok(rows)
}

/// The same question answered by Scan + FilterExpression: what the indexes avoid.
async fn scan_with_filter(
    client: &Client,
    table: &str,
    window: &Window,
    filter: &TransactionFilter,
) -> BenchResult<(u64, u64)> {
    let mut conditions = vec![
        "attribute_exists(rpt_day)".to_owned(),
        "created_at BETWEEN :from AND :to".to_owned(),
    ];
    let mut values: HashMap<String, AttributeValue> = HashMap::from([
        (
            ":from".to_owned(),
            AttributeValue::N(window.from.millis().to_string()),
        ),
        (
            ":to".to_owned(),
            AttributeValue::N(window.to.millis().to_string()),
        ),
    ]);
    if let Some(card_type) = filter.card_type {
        conditions.push("card_type = :ct".to_owned());
        values.insert(":ct".to_owned(), AttributeValue::S(card_type.to_string()));
    }
    if let Some(country) = filter.country {
        conditions.push("country = :c".to_owned());
        values.insert(":c".to_owned(), AttributeValue::S(country.to_string()));
    }
    if let Some(min) = filter.amount.min {
        conditions.push("amount >= :min".to_owned());
        values.insert(":min".to_owned(), AttributeValue::N(min.to_string()));
    }
    if let Some(max) = filter.amount.max {
        conditions.push("amount <= :max".to_owned());
        values.insert(":max".to_owned(), AttributeValue::N(max.to_string()));
    }
    let (mut returned, mut read, mut start) = (0u64, 0u64, None);
    loop {
        let page = client
            .scan()
            .table_name(table)
            .select(Select::Count)
            .filter_expression(conditions.join(" AND "))
            .set_expression_attribute_values(Some(values.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        returned += u64::try_from(page.count()).unwrap_or(0);
        read += u64::try_from(page.scanned_count()).unwrap_or(0);
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok((returned, read));
        }
    }
}
