//! Idempotency-Key on POST /payments (SPEC §3) through the local stack: replays, a key reused with
//! another body, twenty concurrent duplicates, keys per merchant, and keys that are not keys.

mod support;

use reqwest::header::HeaderValue;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use support::TestResult;
use support::api::Api;
use support::payments::{Answer, Session, card_body, fresh_account, with};

fn key() -> String {
    format!("test-{}", uuid::Uuid::new_v4())
}

/// The account's payments as `session` lists them.
async fn payments_of(
    session: &Session<'_>,
    account: u64,
) -> Result<Vec<String>, support::api::Error> {
    let list = session
        .list_all(&format!("account_id={account}"), 100)
        .await?;
    Ok(list
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect())
}

fn assert_replay_of(replay: &Answer, first: &Answer, what: &str) {
    assert_eq!(replay.status, first.status, "{what}: {}", replay.text);
    assert_eq!(
        replay.text, first.text,
        "{what}: the first body, byte for byte"
    );
    assert_eq!(replay.content_type(), first.content_type(), "{what}");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"), "{what}");
    assert_eq!(
        replay.header("location"),
        first.header("location"),
        "{what}"
    );
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_response() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let body = card_body(account);
    let key = key();

    let first = alice.create_with_key(&body, &key).await?;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let replay = alice.create_with_key(&body, &key).await?;
    assert_replay_of(&replay, &first, "same body");

    // The same JSON written differently is the same request.
    let reordered = r#"{"country":"GB","address":"1 Test Street, London",
        "card":{"cvc":"123","exp_year":2035,"exp_month":12,"number":"4111111111111111"},
        "method":"credit_card","payment_type":"offline","currency":"GBP","amount":13370,
        "account_id":ACCOUNT}"#
        .replace("ACCOUNT", &account.to_string());
    let replay = alice
        .request(reqwest::Method::POST, "/payments", |r| {
            r.header("Idempotency-Key", key.as_str())
                .header("content-type", "application/json")
                .body(reordered)
        })
        .await?;
    assert_replay_of(&replay, &first, "reformatted body");

    // Another body under the key: refused, naming the header; nothing else is created.
    let other = with(&body, &[("/amount", json!(13371))]);
    let mismatch = alice.create_with_key(&other, &key).await?;
    assert_eq!(mismatch.status, 422, "{}", mismatch.text);
    assert_eq!(mismatch.fields(), ["Idempotency-Key"]);
    assert_eq!(payments_of(&alice, account).await?, [first.id()]);
    Ok(())
}

#[tokio::test]
async fn an_online_payment_replays_its_202_even_after_it_settled() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let body = with(&card_body(account), &[("/payment_type", json!("online"))]);
    let key = key();
    let first = alice.create_with_key(&body, &key).await?;
    assert_eq!(first.status, 202, "{}", first.text);
    alice
        .await_status(&first.id(), &["succeeded"], Duration::from_secs(60))
        .await?;
    let replay = alice.create_with_key(&body, &key).await?;
    assert_replay_of(&replay, &first, "online");
    assert_eq!(
        replay.body["status"], "pending",
        "the first answer, not the current state"
    );
    assert_eq!(payments_of(&alice, account).await?, [first.id()]);
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_create_one_payment() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    alice.authorization().await?;
    let account = fresh_account().await?;
    let body = card_body(account);
    let key = key();

    let answers =
        futures::future::try_join_all((0..20).map(|_| alice.create_with_key(&body, &key))).await?;
    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    let in_flight = answers.iter().filter(|a| a.status == 409).count();
    assert!(!created.is_empty(), "at least one succeeds");
    assert_eq!(
        created.len() + in_flight,
        answers.len(),
        "only 201 or 409: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let bodies: HashSet<&str> = created.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(bodies.len(), 1, "every success is the same response");
    for conflict in answers.iter().filter(|a| a.status == 409) {
        assert_eq!(conflict.body["code"], "conflict", "{}", conflict.text);
        assert!(
            conflict.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Idempotency-Key")),
            "{}",
            conflict.text
        );
    }
    assert_eq!(payments_of(&alice, account).await?, [created[0].id()]);

    // Once done, the key only replays.
    let after = alice.create_with_key(&body, &key).await?;
    assert_replay_of(&after, created[0], "after the race");
    Ok(())
}

#[tokio::test]
async fn keys_belong_to_their_merchant() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let account = fresh_account().await?;
    let body = card_body(account);
    let key = key();

    let alices = alice.create_with_key(&body, &key).await?;
    let bobs = bob.create_with_key(&body, &key).await?;
    assert_eq!(alices.status, 201, "{}", alices.text);
    assert_eq!(bobs.status, 201, "bob's own payment: {}", bobs.text);
    assert_eq!(bobs.header("idempotent-replayed"), None);
    assert_ne!(alices.id(), bobs.id());
    assert_eq!(bobs.body["vendor"], "Bob's Bikes");
    assert_replay_of(&bob.create_with_key(&body, &key).await?, &bobs, "bob again");
    assert_replay_of(
        &alice.create_with_key(&body, &key).await?,
        &alices,
        "alice again",
    );
    assert_eq!(payments_of(&bob, account).await?, [bobs.id()]);
    assert_eq!(payments_of(&alice, account).await?, [alices.id()]);
    Ok(())
}

#[tokio::test]
async fn a_refused_request_does_not_take_its_key() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let key = key();
    let invalid = with(&card_body(account), &[("/amount", json!(0))]);
    let refused = alice.create_with_key(&invalid, &key).await?;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.fields(), ["amount"]);
    let fixed = alice.create_with_key(&card_body(account), &key).await?;
    assert_eq!(
        fixed.status, 201,
        "the corrected request runs: {}",
        fixed.text
    );
    assert_eq!(fixed.header("idempotent-replayed"), None);
    Ok(())
}

#[tokio::test]
async fn a_key_that_is_not_printable_ascii_up_to_255_is_refused_naming_the_header() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let body = card_body(account);
    let mut bad: Vec<(&str, HeaderValue)> = vec![
        ("empty", HeaderValue::from_static("")),
        ("256 characters", HeaderValue::from_str(&"k".repeat(256))?),
        ("a space", HeaderValue::from_static("order 42")),
        ("a tab", HeaderValue::from_static("order\t42")),
        ("non-ASCII", HeaderValue::from_bytes("clé-42".as_bytes())?),
        ("a raw 0xff byte", HeaderValue::from_bytes(b"key\xff42")?),
    ];
    for (what, value) in bad.drain(..) {
        let reply = alice
            .request(reqwest::Method::POST, "/payments", |r| {
                r.header("Idempotency-Key", value).json(&body)
            })
            .await?;
        assert!(
            (400..500).contains(&reply.status),
            "{what}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(reply.fields(), ["Idempotency-Key"], "{what}");
    }
    assert!(
        payments_of(&alice, account).await?.is_empty(),
        "no refused request created a payment"
    );
    let mut longest = key();
    longest.push_str(&"k".repeat(255 - longest.len()));
    let longest = alice.create_with_key(&body, &longest).await?;
    assert_eq!(
        longest.status, 201,
        "255 characters is a key: {}",
        longest.text
    );
    Ok(())
}
