//! GET /payments with a filter, for a merchant with many more non-matching payments than one
//! request may read (`MAX_ITEMS_READ`): each request reads a bounded number of items (measured
//! with the capacity meter's ScannedCount, not with timing), a page may end short or empty with
//! `has_more`, and following the cursors returns every match exactly once.

mod support;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::domain::{AccountId, MerchantId, PaymentStatus, Timestamp};
use payrail_shared::store::PaymentItem;
use payrail_shared::store::payments::{DynamoPayments, ListScope, MAX_ITEMS_READ, PaymentQuery};
use payrail_tools::bench::capacity::CapacityMeter;
use serde_json::Value;
use support::TestResult;
use support::api::{Api, Error};
use support::payments::{Session, encode, fresh_account};

/// The merchant's payments: more than two requests' worth of reads.
const SEEDED: usize = 2 * MAX_ITEMS_READ + 300;

/// The positions (newest first) of the `failed` payments; all others are `declined`. None in
/// the first request's reach, two in the second's, two in the third's.
fn matches() -> [usize; 4] {
    [
        MAX_ITEMS_READ + 500,
        MAX_ITEMS_READ + 501,
        2 * MAX_ITEMS_READ + 250,
        SEEDED - 1,
    ]
}

/// A merchant user of the test's own (so no other test's listing sees its payments), with the
/// demo password; returns (username, merchant id).
async fn fresh_merchant() -> Result<(&'static str, MerchantId), Error> {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    support::add_merchant_user("listing", &format!("Listing {tag}"), None).await
}

/// Seeds the merchant's payments on `account` (neither completed nor pending: in no report) as
/// a bulk loader does, and returns the matches' ids, newest first.
async fn seed(merchant: &MerchantId, account: u64) -> Result<Vec<String>, Error> {
    let client = support::dynamodb().await.ok_or("no DynamoDB")?;
    let table = std::env::var("TRANSACTIONS_TABLE")?;
    let mut rng = support::rng(account);
    // A fixed clock: position i (newest first) is `base - i` seconds.
    let base = 1_700_000_000_000i64;
    let mut payments = Vec::with_capacity(SEEDED);
    for i in 0..SEEDED {
        let status = if matches().contains(&i) {
            PaymentStatus::Failed
        } else {
            PaymentStatus::Declined
        };
        let at = Timestamp::from_millis(base - i64::try_from(i)? * 1000);
        let mut p = support::payment(&mut rng, at, status);
        p.account_id = AccountId::new(account);
        p.merchant = Some(merchant.to_string());
        payments.push(p);
    }
    for chunk in payments.chunks(25) {
        let mut requests = chunk
            .iter()
            .map(|p| {
                let item = serde_dynamo::to_item(PaymentItem::of(p.clone()))?;
                Ok(WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                    .build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        while !requests.is_empty() {
            let output = client
                .batch_write_item()
                .request_items(&table, requests)
                .send()
                .await?;
            requests = output
                .unprocessed_items
                .and_then(|mut u| u.remove(&table))
                .unwrap_or_default();
        }
    }
    Ok(matches()
        .iter()
        .map(|&i| payments[i].id.to_string())
        .collect())
}

/// Every page of GET /payments?<query>&limit=2 as `session`: the ids in order and each page's
/// (length, has_more).
async fn pages(
    session: &Session<'_>,
    query: &str,
) -> Result<(Vec<String>, Vec<(usize, bool)>), Error> {
    let mut seen: Vec<String> = Vec::new();
    let mut pages: Vec<(usize, bool)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/payments?{query}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let page = session.get(&path).await?;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        let data = page.body["data"].as_array().cloned().unwrap_or_default();
        assert!(data.len() <= 2, "{path}: page too long");
        seen.extend(
            data.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned)),
        );
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        let has_more = page.body["has_more"] == Value::Bool(true);
        assert_eq!(has_more, cursor.is_some(), "{path}: {}", page.text);
        pages.push((data.len(), has_more));
        assert!(pages.len() <= SEEDED, "the cursors never end");
        if !has_more {
            return Ok((seen, pages));
        }
    }
}

#[tokio::test]
async fn a_filtered_listing_reads_a_bounded_number_of_items_and_its_cursors_return_every_match_once()
-> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (username, merchant) = fresh_merchant().await?;
    let session = Session::new(&api, username);
    let account = fresh_account().await?;
    let expected = seed(&merchant, account).await?;

    // Through the API, the merchant's listing and its listing of the account: the first
    // request's reach holds no match, so its page is empty but has more; the pages together
    // hold every match once, newest first.
    for query in [
        "status=failed".to_owned(),
        format!("account_id={account}&status=failed"),
    ] {
        let (seen, pages) = pages(&session, &query).await?;
        assert_eq!(seen, expected, "{query}: every match once, newest first");
        assert_eq!(
            pages[0],
            (0, true),
            "{query}: the first request stops at its read bound"
        );
        assert!(
            pages.len() >= SEEDED.div_ceil(MAX_ITEMS_READ),
            "{query}: fewer requests than the read bound allows: {pages:?}"
        );
    }

    // In process, metered: no request reads more than the bound, and resuming from each
    // returned position returns the same matches.
    let sdk = support::dynamodb_config().await.ok_or("no DynamoDB")?;
    let meter = CapacityMeter::new();
    let table = std::env::var("TRANSACTIONS_TABLE")?;
    let accounts = DynamoAccounts::new(meter.client(&sdk), std::env::var("ACCOUNTS_TABLE")?);
    let store = DynamoPayments::new(meter.client(&sdk), table, accounts);
    let mut query = PaymentQuery {
        scope: ListScope::Merchant {
            merchant,
            account_id: None,
        },
        status: Some(PaymentStatus::Failed),
        limit: 2,
        after: None,
    };
    let mut listed = Vec::new();
    let mut requests = 0;
    loop {
        meter.take();
        let (found, next) = store.list(&query).await?;
        let tally = meter.take();
        requests += 1;
        assert!(
            tally.scanned <= u64::try_from(MAX_ITEMS_READ)?,
            "request {requests} read {} items",
            tally.scanned
        );
        assert!(tally.scanned > 0, "the meter saw no Query: {tally:?}");
        listed.extend(found.iter().map(|p| p.id.to_string()));
        match next {
            Some(position) => query.after = Some(position),
            None => break,
        }
        assert!(requests <= SEEDED, "the positions never end");
    }
    assert_eq!(listed, expected);

    // Unfiltered, a page reads what it returns and one more.
    query.status = None;
    query.after = None;
    query.limit = 1000;
    meter.take();
    let (found, next) = store.list(&query).await?;
    assert_eq!(found.len(), 1000);
    assert!(next.is_some());
    assert_eq!(meter.take().scanned, 1001);
    Ok(())
}
