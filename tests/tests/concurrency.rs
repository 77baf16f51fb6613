//! Bursts through the local API: 200 offline payments of one brand at once, and 50 partial
//! refunds of one payment at once. No answer is a 5xx; refunds never exceed the payment; the
//! day counters equal a recount of the stored payments. (The emulator does not cancel
//! conflicting transactions as DynamoDB does: tests/tests/transaction_conflicts.rs injects
//! them. This test holds the whole stack to its answers under concurrent load.)

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use payrail_shared::domain::{CardType, Clock, SystemClock};
use serde_json::json;
use std::collections::HashMap;
use support::TestResult;
use support::api::{Api, Error, Reply};

const PAYMENTS: usize = 200;
const REFUNDS: usize = 50;
const CONCURRENCY: usize = 50;

async fn post(
    api: &Api,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<Reply, Error> {
    api.send_with(
        reqwest::Method::POST,
        path,
        Some(&format!("Bearer {token}")),
        Some(body),
    )
    .await
}

/// Completed Visa payments stored today, counted one by one, against today's Visa counters.
async fn recount_today(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(u64, u64), Error> {
    let today = SystemClock.now().day().to_string();
    let (mut stored, mut counted) = (0u64, 0u64);
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await?;
        for item in page.items.unwrap_or_default() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let pk = text("pk").unwrap_or_default();
            let sk = text("sk").unwrap_or_default();
            if pk == "AGG#visa" && sk.starts_with(&today) {
                counted += item
                    .get("n")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            let completed = matches!(
                text("status").as_deref(),
                Some("succeeded" | "partially_refunded" | "refunded")
            );
            let created_today = item
                .get("created_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .map(|ms| {
                    payrail_shared::domain::Timestamp::from_millis(ms)
                        .day()
                        .to_string()
                })
                == Some(today.clone());
            if sk == "PAYMENT"
                && completed
                && created_today
                && text("card_type").as_deref() == Some("visa")
            {
                stored += 1;
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok((stored, counted));
        }
    }
}

#[tokio::test]
async fn a_burst_of_same_brand_payments_and_of_refunds_gets_no_5xx_and_keeps_counts_exact()
-> TestResult {
    let (Some(api), Some(dynamodb), Some(table)) = (
        Api::new(),
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
    ) else {
        return Ok(());
    };
    let token = api.login("alice").await?;
    let mut rng = support::rng(4242);
    let bodies: Vec<_> = (0..PAYMENTS)
        .map(|i| {
            let number = support::card_number(&mut rng, CardType::Visa).ok_or("no number")?;
            Ok::<_, Error>(json!({
                "account_id": 1 + (i % 5) as u64, "amount": 1000 + i, "currency": "GBP",
                "payment_type": "offline", "method": "credit_card",
                "card": {"number": number.expose(), "exp_month": 12, "exp_year": 2035, "cvc": "123"},
                "address": "1 Burst Street, London", "country": "GB",
            }))
        })
        .collect::<Result<_, _>>()?;

    let replies: Vec<Result<Reply, Error>> = futures::stream::iter(&bodies)
        .map(|body| post(&api, &token, "/payments", body))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut created = 0;
    for reply in replies {
        let reply = reply?;
        assert!(
            reply.status < 500,
            "a payment got {}: {:?}",
            reply.status,
            reply.body
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        created += 1;
    }
    assert_eq!(created, PAYMENTS);

    // Tokens live 30 s: a fresh one for the refunds.
    let token = api.login("alice").await?;
    let payment = post(
        &api,
        &token,
        "/payments",
        &json!({
            "account_id": 7, "amount": 10_000, "currency": "GBP", "payment_type": "offline",
            "method": "credit_card",
            "card": {"number": "4111111111111111", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
            "address": "1 Burst Street, London", "country": "GB",
        }),
    )
    .await?;
    assert_eq!(payment.status, 201, "{:?}", payment.body);
    let id = payment.body["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/payments/{id}/refunds");
    let refund = json!({"amount": 300});
    let replies: Vec<Result<Reply, Error>> = futures::stream::iter(0..REFUNDS)
        .map(|_| post(&api, &token, &path, &refund))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut refunded = 0u64;
    for reply in replies {
        let reply = reply?;
        assert!(
            reply.status < 500,
            "a refund got {}: {:?}",
            reply.status,
            reply.body
        );
        match reply.status {
            201 => refunded += 300,
            409 => {}
            other => return Err(format!("a refund got {other}: {:?}", reply.body).into()),
        }
    }
    let read = api
        .get_with(&format!("/payments/{id}"), Some(&format!("Bearer {token}")))
        .await?;
    assert_eq!(read.body["refunded_amount"], refunded);
    assert!(
        refunded <= 10_000,
        "refunds exceeded the payment: {refunded}"
    );
    assert_eq!(
        refunded, 9_900,
        "every refund that fitted was made (33 × 300)"
    );

    let (stored, counted) = recount_today(&dynamodb, &table).await?;
    assert_eq!(counted, stored, "today's Visa counters equal a recount");
    assert!(stored > PAYMENTS as u64);
    Ok(())
}
