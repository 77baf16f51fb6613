//! The capacity meter behind `bench capacity` (docs/performance.md, "Cost per million
//! payments"), over one offline payment created by the real POST /payments handler against
//! the local DynamoDB: the units it sums are those the stored item's size and the indexes it lands
//! in imply, under DynamoDB's published rules (1 write unit per KB, twice for an item written in
//! a transaction, every index written billed; Dynoxide bills an index entry once). It fails if the meter stopped asking for ConsumedCapacity
//! (nothing reported), stopped splitting it by index, or summed it wrongly.

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::accounts::{Account, DynamoAccounts};
use payrail_shared::domain::{AccountId, Clock, SystemClock};
use payrail_shared::secrets::SecretValue;
use payrail_tools::bench::capacity::{CapacityMeter, Kind, Wiring, create_payment};
use payrail_tools::bench::payments_api::payment_body;
use std::collections::HashMap;
use support::{TestResult, rng};

/// The indexes a completed payment is in: the four report indexes and the two listings.
const COMPLETED_PAYMENT_INDEXES: [&str; 6] = [
    "by_day",
    "by_card_type_day",
    "by_country_day",
    "by_day_amount",
    "by_merchant",
    "by_account",
];

/// An attribute value's size as DynamoDB counts it: strings by their UTF-8 bytes, numbers by
/// about one byte per two digits plus one (an upper bound here), maps and lists 3 bytes plus
/// their elements plus one per element.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 0,
    }
}

fn item_kb(item: &HashMap<String, AttributeValue>) -> f64 {
    let bytes: usize = item.iter().map(|(k, v)| k.len() + value_size(v)).sum();
    bytes.div_ceil(1024) as f64
}

#[tokio::test]
async fn an_offline_payment_is_metered_on_its_table_its_indexes_and_its_account() -> TestResult {
    let Some(sdk) = support::dynamodb_config().await else {
        return Ok(());
    };
    let unmetered = Client::new(&sdk);
    let (transactions, accounts) = support::fresh_payment_tables(&unmetered).await?;
    let account_id = AccountId::new(7);
    DynamoAccounts::new(unmetered.clone(), &accounts)
        .add(&Account {
            account_id,
            email: "payer@example.com".to_owned(),
            birthdate: "1990-01-01".to_owned(),
            last_payment_date: None,
            created_at: SystemClock.now(),
        })
        .await?;
    let meter = CapacityMeter::new();
    // An offline payment touches neither SQS nor the gateway: their addresses are never used.
    let wiring = Wiring {
        client: meter.client(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        transactions_table: transactions.clone(),
        accounts_table: accounts.clone(),
        users_table: "unused-users".to_owned(),
        online_queue_url: "http://127.0.0.1:9/unused-online".to_owned(),
        log_queue_url: "http://127.0.0.1:9/unused-log".to_owned(),
        gateway_url: "http://127.0.0.1:9".to_owned(),
        card_secret: SecretValue::new(b"a card data key of the capacity meter test".to_vec()),
    };
    let api = wiring.api()?;
    let body = payment_body(&mut rng(5), "offline", 7)?;

    let id = create_payment(&api, &body, None, 201).await?;
    let tally = meter.take();

    let item = unmetered
        .get_item()
        .table_name(&transactions)
        .key("pk", AttributeValue::S(format!("PAY#{id}")))
        .key("sk", AttributeValue::S("PAYMENT".to_owned()))
        .send()
        .await?
        .item
        .ok_or("the payment was not stored")?;
    let payment_kb = item_kb(&item);
    assert_eq!(tally.calls.get("TransactWriteItems"), Some(&1), "{tally:?}");
    assert_eq!(
        tally.calls.len(),
        1,
        "one transaction, nothing else: {tally:?}"
    );
    assert_eq!((tally.failed, tally.unreported), (0, 0), "{tally:?}");
    // The payment, its day's aggregate counter and its account–merchant link (new, tiny items:
    // 1 KB each), transactional: 2 WRU per KB per item, the published rule.
    assert_eq!(
        tally.on(&transactions, None, Kind::Write),
        2.0 * payment_kb + 2.0 + 2.0,
        "{tally:?}"
    );
    // Each index entry the payment adds: 1 WRU per KB. Dynoxide does not double an index write
    // in a transaction (the emulator before it did; AWS's pricing does not say: docs/performance.md).
    for index in COMPLETED_PAYMENT_INDEXES {
        assert_eq!(
            tally.on(&transactions, Some(index), Kind::Write),
            payment_kb,
            "{index}: {tally:?}"
        );
    }
    assert_eq!(
        tally.on(&transactions, Some("by_pending"), Kind::Write),
        0.0
    );
    // The account's last_payment_date, moved in the same transaction.
    assert_eq!(tally.on(&accounts, None, Kind::Write), 2.0, "{tally:?}");
    assert_eq!(tally.total(Kind::Read), 0.0, "{tally:?}");
    assert_eq!(
        tally.total(Kind::Write),
        2.0 * payment_kb + 2.0 + 2.0 + payment_kb * 6.0 + 2.0,
        "{tally:?}"
    );
    Ok(())
}
