//! The generator against a real DynamoDB (the local one, Dynoxide): items written, counters
//! exact, no card number stored. Runs only when `PAYRAIL_TEST_DYNAMODB_ENDPOINT` is set (host:port
//! or URL), e.g. with the local DynamoDB started by hand:
//!
//! ```text
//! target/debug/payrail-dynamodb --port 8000 &
//! PAYRAIL_TEST_DYNAMODB_ENDPOINT=127.0.0.1:8000 cargo test -p payrail-tools --test generator_dynamodb
//! ```

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::domain::{CardNumber, Day, FingerprintKey, Timestamp};
use payrail_shared::store::PaymentItem;
use payrail_shared::store::aggregates::AggregateCount;
use payrail_tools::generator::{
    Config, GenerateOptions, GenerateReport, Progress, client, generate,
};
use payrail_tools::local::tables::{create_tables, tables_from_template};
use payrail_tools::local::template::Template;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Item = HashMap<String, AttributeValue>;

const ENDPOINT_VAR: &str = "PAYRAIL_TEST_DYNAMODB_ENDPOINT";

async fn local_client() -> Result<Option<Client>, Box<dyn std::error::Error>> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VAR) else {
        assert!(
            std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
            "{ENDPOINT_VAR} must be set: run the tests through `make test`"
        );
        eprintln!("note: {ENDPOINT_VAR} is not set; skipping the DynamoDB generator test");
        return Ok(None);
    };
    let yaml = format!(
        "endpoint: {endpoint}\nregion: eu-west-1\ncredentials: {{ access_key_id: local, secret_access_key: local }}\ntable: unused\n"
    );
    Ok(Some(client(&Config::parse(&yaml)?).await))
}

/// Creates `TransactionsTable` exactly as template.yaml declares it, under a fresh prefix, and
/// returns its name.
async fn create_transactions_table(client: &Client) -> Result<String, Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(root.join("template.yaml"))?;
    let tables: Vec<_> = tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "TransactionsTable")
        .collect();
    let prefix = format!("generator-test-{}-", uuid::Uuid::new_v4().simple());
    create_tables(client, &tables, &prefix).await?;
    Ok(format!("{prefix}TransactionsTable"))
}

/// Creates a fresh table, runs `body` on it, and deletes it whatever happened.
async fn with_table<F, Fut>(client: &Client, body: F) -> TestResult
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    let name = create_transactions_table(client).await?;
    let result = body(name.clone()).await;
    let _ = client.delete_table().table_name(&name).send().await;
    result
}

async fn scan(client: &Client, table: &str) -> Result<Vec<Item>, Box<dyn std::error::Error>> {
    Ok(client
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?)
}

fn options(count: u64, seed: u64) -> GenerateOptions {
    let mut options =
        GenerateOptions::new(Some(FingerprintKey::new(b"integration test key".to_vec())));
    options.count = count;
    options.seed = seed;
    options.days = 30;
    // Several flushes within the run, not just the final one.
    options.flush_every = 300;
    options
}

/// Checks what a run left in the table: `expected` payments, each aggregate equal to a recount
/// of the payments per (card type, day) and per country, and no card number anywhere.
fn check_table(items: &[Item], expected: u64) -> TestResult {
    let with_prefix = |prefix: &str| -> Vec<&Item> {
        items
            .iter()
            .filter(|item| {
                item.get("pk")
                    .and_then(|pk| pk.as_s().ok())
                    .is_some_and(|pk| pk.starts_with(prefix))
            })
            .collect()
    };
    let (payments, aggregates) = (with_prefix("PAY#"), with_prefix("AGG#"));
    assert_eq!(payments.len() as u64, expected, "payment items");
    assert_eq!(
        payments.len() + aggregates.len(),
        items.len(),
        "nothing but payments and aggregates"
    );

    let mut recount: BTreeMap<(String, Day), (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for item in &payments {
        let stored: PaymentItem = serde_dynamo::from_item((*item).clone())?;
        let payment = stored.payment;
        assert!(payment.status.is_completed());
        assert!(
            stored.report.is_some(),
            "completed payments carry the report index keys"
        );
        let entry = recount
            .entry((payment.card_type.to_string(), payment.created_at.day()))
            .or_default();
        entry.0 += 1;
        *entry.1.entry(payment.country.to_string()).or_default() += 1;
    }

    let mut counted: BTreeMap<(String, Day), (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for item in &aggregates {
        let card_type = item
            .get("pk")
            .and_then(|pk| pk.as_s().ok())
            .and_then(|pk| pk.strip_prefix("AGG#"))
            .ok_or("aggregate without card type")?
            .to_owned();
        let count = AggregateCount::from_item(item).ok_or("aggregate item does not parse")?;
        // The shards of a day add up to its count.
        let entry = counted.entry((card_type, count.day)).or_default();
        entry.0 += count.total;
        for (country, n) in count.by_country {
            *entry.1.entry(country).or_default() += n;
        }
    }
    assert_eq!(
        counted, recount,
        "aggregates equal a recount of the payment items"
    );
    assert_eq!(counted.values().map(|(n, _)| n).sum::<u64>(), expected);

    for item in items {
        assert_no_card_number(&AttributeValue::M(item.clone()), "item")?;
    }
    Ok(())
}

/// No string anywhere holds a digit run that parses as a card number. The fingerprint is a
/// keyed hash in hex: its digit runs are random and are checked for shape instead.
fn assert_no_card_number(value: &AttributeValue, name: &str) -> TestResult {
    match value {
        AttributeValue::S(text) if name == "fingerprint" => {
            assert!(
                text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()),
                "fingerprint {text}"
            );
        }
        AttributeValue::S(text) | AttributeValue::N(text) => {
            for run in text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|run| run.len() >= 12)
            {
                assert!(
                    CardNumber::parse(run).is_err(),
                    "attribute `{name}` holds a card number"
                );
            }
        }
        AttributeValue::M(map) => {
            for (key, inner) in map {
                assert_no_card_number(inner, key)?;
            }
        }
        AttributeValue::L(list) => {
            for inner in list {
                assert_no_card_number(inner, name)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[tokio::test]
async fn writes_the_requested_items_with_exact_counters_and_no_card_numbers() -> TestResult {
    let Some(client) = local_client().await? else {
        return Ok(());
    };
    with_table(&client, |table| {
        let client = client.clone();
        async move {
            let report = generate(&client, &table, &options(2_000, 7), ()).await?;
            assert_eq!(report.items_written, 2_000);
            assert!(!report.interrupted);
            assert!(report.aggregate_updates > 0);
            check_table(&scan(&client, &table).await?, 2_000)?;

            // A second run with the same seed adds new items (fresh ids) and keeps counting right.
            generate(&client, &table, &options(500, 7), ()).await?;
            check_table(&scan(&client, &table).await?, 2_500)
        }
    })
    .await
}

/// Sets the stop flag once `after` items are written, as Ctrl-C does.
struct StopAfter {
    after: u64,
    stop: Arc<AtomicBool>,
}

impl Progress for StopAfter {
    fn written(&self, items_written: u64) {
        if items_written >= self.after {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
async fn a_stopped_run_leaves_counters_equal_to_the_items_written() -> TestResult {
    let Some(client) = local_client().await? else {
        return Ok(());
    };
    with_table(&client, |table| {
        let client = client.clone();
        async move {
            let stop = Arc::new(AtomicBool::new(false));
            let mut options = options(5_000, 8);
            options.stop = Some(stop.clone());
            let report: GenerateReport =
                generate(&client, &table, &options, StopAfter { after: 700, stop }).await?;
            assert!(report.interrupted);
            assert!(
                report.items_written >= 700 && report.items_written < 5_000,
                "{report:?}"
            );
            check_table(&scan(&client, &table).await?, report.items_written)
        }
    })
    .await
}

#[tokio::test]
async fn dates_stay_inside_the_window() -> TestResult {
    let Some(client) = local_client().await? else {
        return Ok(());
    };
    with_table(&client, |table| {
        let client = client.clone();
        async move {
            let options = options(300, 9);
            generate(&client, &table, &options, ()).await?;
            let window_start = options.now.millis() - 30 * payrail_shared::domain::MS_PER_DAY;
            for item in scan(&client, &table).await? {
                if let Some(created) = item.get("created_at").and_then(|v| v.as_n().ok()) {
                    let created = Timestamp::from_millis(created.parse()?);
                    assert!(created.millis() >= window_start && created <= options.now);
                }
            }
            Ok(())
        }
    })
    .await
}
