//! Every report, through its handler and the local DynamoDB, against a brute-force answer
//! computed from every payment written: several windows, filters and page sizes, payments
//! exactly on the window's edges, ties, non-completed payments, and windows cutting days in two.

mod support;

use payrail_shared::domain::{
    CardType, Country, Currency, FixedClock, MS_PER_DAY, Payment, PaymentStatus, Timestamp,
};
use payrail_shared::http::ApiError;
use payrail_shared::http::cursor::CursorKey;
use payrail_shared::http::transactions::{Reports, count, list};
use payrail_shared::reports::DynamoReports;
use rand::Rng;
use std::sync::Arc;
use support::{TestResult, payment, rng};

/// 13:37:00.123 UTC on 2026-03-15: a `now` in mid-day, so every window cuts two days in two.
const NOW: i64 = 1_773_581_820_123;
const DAYS: [i64; 5] = [1, 2, 7, 30, 60];

fn dataset() -> Vec<Payment> {
    let mut rng = rng(7);
    let mut payments = Vec::new();
    for _ in 0..1200 {
        let t = NOW - rng.random_range(0..50 * MS_PER_DAY);
        let status = match rng.random_range(0..20) {
            0 => PaymentStatus::Pending,
            1 => PaymentStatus::Failed,
            2 => PaymentStatus::Declined,
            3 => PaymentStatus::Refunded,
            4 => PaymentStatus::PartiallyRefunded,
            _ => PaymentStatus::Succeeded,
        };
        payments.push(payment(&mut rng, Timestamp::from_millis(t), status));
    }
    for d in DAYS {
        let edge = NOW - d * MS_PER_DAY;
        for t in [edge, edge - 1, edge + 1, edge, edge] {
            payments.push(payment(
                &mut rng,
                Timestamp::from_millis(t),
                PaymentStatus::Succeeded,
            ));
        }
        payments.push(payment(
            &mut rng,
            Timestamp::from_millis(edge),
            PaymentStatus::Pending,
        ));
    }
    for t in [NOW, NOW, NOW + 1, NOW + MS_PER_DAY / 4, NOW - 1] {
        payments.push(payment(
            &mut rng,
            Timestamp::from_millis(t),
            PaymentStatus::Succeeded,
        ));
    }
    payments
}

#[derive(Debug, Clone, Default)]
struct Filter {
    card_type: Option<CardType>,
    country: Option<&'static str>,
    min: Option<u64>,
    max: Option<u64>,
    currency: Option<&'static str>,
}

impl Filter {
    fn pairs(&self, days: i64, limit: u16) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("days".to_owned(), days.to_string()),
            ("limit".to_owned(), limit.to_string()),
        ];
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                pairs.push((k.to_owned(), v));
            }
        };
        add("card_type", self.card_type.map(|c| c.to_string()));
        add("country", self.country.map(str::to_owned));
        add("min_amount", self.min.map(|v| v.to_string()));
        add("max_amount", self.max.map(|v| v.to_string()));
        add("currency", self.currency.map(str::to_owned));
        pairs
    }

    fn matches(&self, p: &Payment) -> bool {
        let country = self
            .country
            .map(|c| Country::parse(c).map(|c| c == p.country).unwrap_or(false));
        let currency = self
            .currency
            .map(|c| Currency::parse(c).map(|c| c == p.currency).unwrap_or(false));
        self.card_type.is_none_or(|c| c == p.card_type)
            && country.unwrap_or(true)
            && currency.unwrap_or(true)
            && self.min.is_none_or(|m| p.amount.get() >= m)
            && self.max.is_none_or(|m| p.amount.get() <= m)
    }
}

/// The brute-force answer: every completed payment in `[now − days·86 400 000, now]`.
fn expected(all: &[Payment], days: i64, filter: &Filter) -> Vec<String> {
    let from = NOW - days * MS_PER_DAY;
    let mut hits: Vec<&Payment> = all
        .iter()
        .filter(|p| {
            p.status.is_completed()
                && (from..=NOW).contains(&p.created_at.millis())
                && filter.matches(p)
        })
        .collect();
    hits.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id.to_string())));
    hits.into_iter().map(|p| p.id.to_string()).collect()
}

fn reports(
    client: aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Reports<DynamoReports>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Reports {
        store: DynamoReports::new(client, table),
        clock: Arc::new(FixedClock(Timestamp::from_millis(NOW))),
        cursor_key: CursorKey::new(b"test cursor key, 16+ bytes".to_vec())?,
    })
}

/// A fresh table from template.yaml holding `payments`, and the reports over it; `None` when
/// the emulators are not running (outside `make test`).
async fn seeded(
    payments: &[Payment],
) -> Result<Option<Reports<DynamoReports>>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(client) = support::dynamodb().await else {
        return Ok(None);
    };
    let table = support::fresh_transactions_table(&client).await?;
    support::write_all(&client, &table, payments).await?;
    Ok(Some(reports(client, &table)?))
}

async fn all_pages(
    reports: &Reports<DynamoReports>,
    days: i64,
    filter: &Filter,
    limit: u16,
) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = filter.pairs(days, limit);
        if let Some(c) = &cursor {
            pairs.push(("cursor".to_owned(), c.clone()));
        }
        let page = list(reports, pairs).await?;
        assert!(page.data.len() <= usize::from(limit));
        assert_eq!(page.has_more, page.next_cursor.is_some());
        assert!(
            !page.has_more || page.data.len() == usize::from(limit),
            "a page with more after it must be full"
        );
        ids.extend(page.data.into_iter().map(|t| t.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
}

#[tokio::test]
async fn every_list_report_equals_the_brute_force_answer() -> TestResult {
    let payments = dataset();
    let Some(reports) = seeded(&payments).await? else {
        return Ok(());
    };

    let filters = [
        Filter::default(),
        Filter {
            card_type: Some(CardType::Visa),
            ..Default::default()
        },
        Filter {
            card_type: Some(CardType::GooglePay),
            ..Default::default()
        },
        Filter {
            country: Some("UK"),
            ..Default::default()
        },
        Filter {
            min: Some(20_000),
            max: Some(60_000),
            ..Default::default()
        },
        Filter {
            min: Some(150_000),
            ..Default::default()
        },
        Filter {
            max: Some(5_000),
            ..Default::default()
        },
        Filter {
            currency: Some("EUR"),
            ..Default::default()
        },
        Filter {
            card_type: Some(CardType::Mastercard),
            country: Some("DE"),
            min: Some(1_000),
            currency: Some("EUR"),
            ..Default::default()
        },
        Filter {
            country: Some("US"),
            max: Some(100_000),
            ..Default::default()
        },
    ];
    for days in DAYS {
        for filter in &filters {
            let want = expected(&payments, days, filter);
            for limit in [100u16, 1000] {
                let got = all_pages(&reports, days, filter, limit).await?;
                assert_eq!(got, want, "days={days} limit={limit} {filter:?}");
            }
        }
    }
    // Small pages, where pagination and the shard merge do the most work.
    for filter in &filters[..5] {
        for (days, limit) in [(1, 1), (2, 7), (7, 13)] {
            let got = all_pages(&reports, days, filter, limit).await?;
            assert_eq!(
                got,
                expected(&payments, days, filter),
                "days={days} limit={limit} {filter:?}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_count_equals_the_brute_force_answer() -> TestResult {
    let payments = dataset();
    let Some(reports) = seeded(&payments).await? else {
        return Ok(());
    };
    for days in DAYS {
        for card_type in CardType::ALL {
            for country in [None, Some("GB"), Some("JP")] {
                let filter = Filter {
                    card_type: Some(card_type),
                    country,
                    ..Default::default()
                };
                let want = expected(&payments, days, &filter).len() as u64;
                let mut pairs = vec![
                    ("days".to_owned(), days.to_string()),
                    ("card_type".to_owned(), card_type.to_string()),
                ];
                if let Some(c) = country {
                    pairs.push(("country".to_owned(), c.to_owned()));
                }
                let got = count(&reports, pairs).await?;
                assert_eq!(got.count, want, "days={days} {card_type} {country:?}");
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn refuses_tampered_foreign_and_garbage_cursors_with_400() -> TestResult {
    let Some(reports) = seeded(&dataset()[..200]).await? else {
        return Ok(());
    };
    let first = list(&reports, Filter::default().pairs(60, 5)).await?;
    let Some(cursor) = first.next_cursor else {
        return Err("expected a second page".into());
    };

    let mut tampered: Vec<char> = cursor.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let foreign = Filter {
        card_type: Some(CardType::Visa),
        ..Default::default()
    };
    for (pairs, what) in [
        (
            with_cursor(Filter::default().pairs(60, 5), &tampered),
            "tampered",
        ),
        (
            with_cursor(foreign.pairs(60, 5), &cursor),
            "another query's",
        ),
        (
            with_cursor(Filter::default().pairs(60, 5), "not-a-cursor"),
            "garbage",
        ),
    ] {
        match list(&reports, pairs).await {
            Err(err) => {
                let problem = err.problem();
                assert_eq!(problem.status, 400, "{what}");
                assert_eq!(problem.errors[0].field, "cursor", "{what}");
            }
            Ok(_) => return Err(format!("{what} cursor was accepted").into()),
        }
    }
    Ok(())
}

fn with_cursor(mut pairs: Vec<(String, String)>, cursor: &str) -> Vec<(String, String)> {
    pairs.push(("cursor".to_owned(), cursor.to_owned()));
    pairs
}
