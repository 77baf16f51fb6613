//! The payment routes through the local stack (API Gateway emulation, the Lambda authorizer with
//! real tokens, the functions, the local DynamoDB, the online queue and the validator against the
//! gateway simulator): creating, processing, reading and listing payments, and the account's
//! `last_payment_date`. Every response is searched for card data (support::payments).

mod support;

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use support::TestResult;
use support::api::Api;
use support::payments::{CARDS, Session, VISA, WALLET_TOKENS, card_body, fresh_account, with};

/// How long the validator may take to settle an online payment (batch window 1 s, a cold start).
const SETTLE: Duration = Duration::from_secs(60);

/// An account id the seeding never creates (accounts are 1..=500; the tests' own are 10^9+).
const UNKNOWN_ACCOUNT: u64 = 999_999;

fn assert_location(answer: &support::payments::Answer) {
    assert_eq!(
        answer.header("location"),
        Some(format!("/payments/{}", answer.id()).as_str()),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn offline_is_stored_succeeded_and_online_is_settled_by_the_validator() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;

    let offline = alice.create(&card_body(account)).await?;
    assert_eq!(offline.status, 201, "{}", offline.text);
    assert_eq!(offline.content_type(), "application/json");
    assert_eq!(offline.body["status"], "succeeded");
    assert_eq!(offline.body["payment_type"], "offline");
    assert_location(&offline);

    let online_body = with(&card_body(account), &[("/payment_type", json!("online"))]);
    let online = alice.create(&online_body).await?;
    assert_eq!(online.status, 202, "{}", online.text);
    assert_eq!(online.body["status"], "pending");
    assert_location(&online);
    let settled = alice
        .await_status(&online.id(), &["succeeded"], SETTLE)
        .await?;
    assert_eq!(settled.body["payment_type"], "online");
    assert_eq!(settled.body["amount"], online.body["amount"]);
    assert_eq!(settled.body["created_at"], online.body["created_at"]);
    assert!(settled.body["failure"].is_null(), "{}", settled.text);

    // Neither was created unprocessed: processing either is a conflict.
    for id in [offline.id(), online.id()] {
        let again = alice.process(&id).await?;
        assert_eq!(again.status, 409, "{id}: {}", again.text);
        assert_eq!(again.body["code"], "conflict");
    }
    Ok(())
}

#[tokio::test]
async fn a_payment_created_unprocessed_is_processed_once_by_its_merchant() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let account = fresh_account().await?;

    for (payment_type, processed, then) in
        [("offline", 200, "succeeded"), ("online", 202, "pending")]
    {
        let body = with(
            &card_body(account),
            &[
                ("/payment_type", json!(payment_type)),
                ("/process", json!(false)),
            ],
        );
        let created = alice.create(&body).await?;
        assert_eq!(created.status, 201, "{payment_type}: {}", created.text);
        assert_eq!(created.body["status"], "created", "{payment_type}");
        let id = created.id();
        let read = alice.get(&format!("/payments/{id}")).await?;
        assert_eq!(read.body["status"], "created", "{payment_type}");

        let foreign = bob.process(&id).await?;
        assert_eq!(
            foreign.status, 404,
            "bob processing alice's: {}",
            foreign.text
        );
        let still = alice.get(&format!("/payments/{id}")).await?;
        assert_eq!(still.body["status"], "created", "bob changed nothing");

        let done = alice.process(&id).await?;
        assert_eq!(done.status, processed, "{payment_type}: {}", done.text);
        assert_eq!(done.body["status"], then, "{payment_type}");
        assert_eq!(done.id(), id);
        assert_eq!(done.body["created_at"], created.body["created_at"]);
        if payment_type == "online" {
            alice.await_status(&id, &["succeeded"], SETTLE).await?;
        }
        let again = alice.process(&id).await?;
        assert_eq!(again.status, 409, "{payment_type} again: {}", again.text);
    }

    let unknown = alice
        .process("6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40")
        .await?;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let malformed = alice.process("not-a-uuid").await?;
    assert_eq!(malformed.status, 422, "{}", malformed.text);
    assert_eq!(malformed.fields(), ["id"]);
    Ok(())
}

#[tokio::test]
async fn responses_show_the_card_masked_and_its_brand_from_the_number() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let mut fingerprints = Vec::new();
    for (brand, number, cvc) in CARDS {
        let body = with(
            &card_body(account),
            &[
                ("/card/number", json!(number)),
                ("/card/cvc", json!(cvc)),
                ("/card/exp_month", json!(3)),
                ("/card/exp_year", json!(2031)),
            ],
        );
        let answer = alice.create(&body).await?;
        assert_eq!(answer.status, 201, "{brand}: {}", answer.text);
        let card = &answer.body["card"];
        let mut keys: Vec<&str> = card
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "bin",
                "brand",
                "exp_month",
                "exp_year",
                "fingerprint",
                "last4",
                "masked"
            ],
            "{brand}"
        );
        let masked = format!(
            "{}{}{}",
            &number[..6],
            "*".repeat(number.len() - 10),
            &number[number.len() - 4..]
        );
        assert_eq!(card["masked"], masked, "{brand}");
        assert_eq!(card["bin"], &number[..6], "{brand}");
        assert_eq!(card["last4"], &number[number.len() - 4..], "{brand}");
        assert_eq!(card["brand"], brand, "{brand}");
        assert_eq!(answer.body["card_type"], brand, "{brand}");
        assert_eq!(
            (card["exp_month"].as_u64(), card["exp_year"].as_u64()),
            (Some(3), Some(2031))
        );
        let fingerprint = card["fingerprint"].as_str().unwrap_or_default().to_owned();
        assert!(fingerprint.len() >= 16, "{brand}: {fingerprint}");
        fingerprints.push((number, fingerprint));
    }
    // The fingerprint tells equal numbers apart from different ones.
    let distinct: HashSet<&String> = fingerprints.iter().map(|(_, f)| f).collect();
    assert_eq!(distinct.len(), CARDS.len(), "one fingerprint per number");
    let again = alice.create(&card_body(account)).await?;
    assert_eq!(
        again.body["card"]["fingerprint"].as_str(),
        fingerprints
            .iter()
            .find(|(n, _)| *n == VISA)
            .map(|(_, f)| f.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn fields_round_trip_with_the_vendor_defaulting_to_the_merchant() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let account = fresh_account().await?;

    for (amount, currency) in [(13370, "GBP"), (500, "JPY"), (1234, "KWD"), (1, "EUR")] {
        let body = with(
            &card_body(account),
            &[("/amount", json!(amount)), ("/currency", json!(currency))],
        );
        let answer = alice.create(&body).await?;
        assert_eq!(answer.status, 201, "{currency}: {}", answer.text);
        assert_eq!(answer.body["amount"], amount, "{currency}");
        assert_eq!(answer.body["currency"], currency);
        let read = alice.get(&format!("/payments/{}", answer.id())).await?;
        assert_eq!(read.body["amount"], amount, "{currency} read back");
        assert_eq!(read.body["currency"], currency);
    }

    let uk = alice
        .create(&with(&card_body(account), &[("/country", json!("UK"))]))
        .await?;
    assert_eq!(uk.status, 201, "{}", uk.text);
    assert_eq!(uk.body["country"], "GB", "UK is GB");
    assert_eq!(
        uk.body["vendor"], "Alice's Shop",
        "vendor defaults to the merchant"
    );
    assert_eq!(uk.body["account_id"], account);
    assert_eq!(uk.body["method"], "credit_card");
    assert_eq!(uk.body["refunded_amount"], 0);
    assert!(uk.body["failure"].is_null());
    assert_eq!(uk.body["created_at"], uk.body["updated_at"]);

    let by_bob = bob.create(&card_body(account)).await?;
    assert_eq!(by_bob.body["vendor"], "Bob's Bikes");

    // A vendor and an address of the client's own, in any script, come back as sent; a debit
    // card is a card like any other.
    let vendor = "Café ☕ 東京 — Alice's pop-up";
    let address = "1 Rue de l'Église, 75001 Paris 🇫🇷";
    let unicode = alice
        .create(&with(
            &card_body(account),
            &[
                ("/vendor", json!(vendor)),
                ("/address", json!(address)),
                ("/country", json!("FR")),
                ("/currency", json!("EUR")),
                ("/method", json!("debit_card")),
            ],
        ))
        .await?;
    assert_eq!(unicode.status, 201, "{}", unicode.text);
    let read = alice.get(&format!("/payments/{}", unicode.id())).await?;
    assert_eq!(read.body["vendor"], vendor);
    assert_eq!(read.body["address"], address);
    assert_eq!(read.body["method"], "debit_card");
    // The payment stays alice's whatever vendor it names.
    assert_eq!(
        bob.get(&format!("/payments/{}", unicode.id()))
            .await?
            .status,
        404
    );
    Ok(())
}

#[tokio::test]
async fn wallet_payments_are_taken_and_their_token_is_never_shown() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let wallet = |provider: &str, token: &str, payment_type: &str, process: bool| {
        let mut body = with(
            &card_body(account),
            &[
                ("/method", json!("wallet")),
                ("/card", Value::Null),
                ("/payment_type", json!(payment_type)),
                ("/process", json!(process)),
            ],
        );
        body["wallet"] = json!({"provider": provider, "token": token});
        body
    };

    let paypal = alice
        .create(&wallet("paypal", WALLET_TOKENS[0], "offline", true))
        .await?;
    assert_eq!(paypal.status, 201, "{}", paypal.text);
    assert_eq!(paypal.body["status"], "succeeded");
    assert_eq!(paypal.body["card_type"], "paypal");
    assert_eq!(paypal.body["method"], "wallet");
    assert!(paypal.body["card"].is_null(), "{}", paypal.text);

    let apple = alice
        .create(&wallet("apple_pay", WALLET_TOKENS[1], "online", true))
        .await?;
    assert_eq!(apple.status, 202, "{}", apple.text);
    assert_eq!(apple.body["card_type"], "apple_pay");
    alice
        .await_status(&apple.id(), &["succeeded"], SETTLE)
        .await?;

    let google = alice
        .create(&wallet("google_pay", WALLET_TOKENS[2], "online", false))
        .await?;
    assert_eq!(google.status, 201, "{}", google.text);
    assert_eq!(google.body["status"], "created");
    let processed = alice.process(&google.id()).await?;
    assert_eq!(processed.status, 202, "{}", processed.text);
    let settled = alice
        .await_status(&google.id(), &["succeeded"], SETTLE)
        .await?;
    assert_eq!(settled.body["card_type"], "google_pay");

    // The list of the account's payments carries none of the tokens either (Session checks).
    let listed = alice
        .list_all(&format!("account_id={account}"), 100)
        .await?;
    assert_eq!(listed.len(), 3);
    Ok(())
}

#[tokio::test]
async fn a_payment_is_read_by_its_merchant_and_the_admin_only() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let admin = Session::new(&api, "admin");
    let account = fresh_account().await?;
    let created = alice.create(&card_body(account)).await?;
    let path = format!("/payments/{}", created.id());

    let own = alice.get(&path).await?;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.body, created.body, "what was created is what is read");
    let by_admin = admin.get(&path).await?;
    assert_eq!(by_admin.status, 200, "{}", by_admin.text);
    assert_eq!(by_admin.body, created.body);

    // Another merchant's payment is exactly as absent as one that does not exist.
    let foreign = bob.get(&path).await?;
    let missing = bob
        .get("/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40")
        .await?;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    assert_eq!(foreign.body, missing.body);

    let malformed = alice.get("/payments/123").await?;
    assert_eq!(malformed.status, 422, "{}", malformed.text);
    assert_eq!(malformed.fields(), ["id"]);
    Ok(())
}

/// (created_at, id) of a listed payment: the order of the indexes, newest first.
fn position(payment: &Value) -> (i64, String) {
    (
        payment["created_at"].as_i64().unwrap_or_default(),
        payment["id"].as_str().unwrap_or_default().to_owned(),
    )
}

fn assert_newest_first_without_duplicates(list: &[Value], what: &str) {
    let positions: Vec<(i64, String)> = list.iter().map(position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "{what}: not strictly newest first: {positions:?}"
    );
}

fn ids(list: &[Value]) -> HashSet<String> {
    list.iter().map(|p| position(p).1).collect()
}

#[tokio::test]
async fn lists_are_newest_first_filtered_paginated_and_per_merchant() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let admin = Session::new(&api, "admin");
    let account = fresh_account().await?;

    let mut alices = Vec::new();
    let mut alices_created = HashSet::new();
    for i in 0..8u64 {
        let unprocessed = i % 3 == 0;
        let body = with(
            &card_body(account),
            &[
                ("/amount", json!(100 + i)),
                ("/process", json!(!unprocessed)),
            ],
        );
        let answer = alice.create(&body).await?;
        assert_eq!(answer.status, 201, "{}", answer.text);
        if unprocessed {
            alices_created.insert(answer.id());
        }
        alices.push(answer.id());
    }
    let mut bobs = HashSet::new();
    for _ in 0..2 {
        bobs.insert(bob.create(&card_body(account)).await?.id());
    }
    let alices: HashSet<String> = alices.into_iter().collect();

    // Every page size gives the same list: no gaps, no duplicates, newest first.
    let whole = alice
        .list_all(&format!("account_id={account}"), 100)
        .await?;
    assert_newest_first_without_duplicates(&whole, "one page");
    assert_eq!(ids(&whole), alices, "alice sees exactly her payments");
    for limit in [1, 3, 7, 8] {
        let paged = alice
            .list_all(&format!("account_id={account}"), limit)
            .await?;
        let order: Vec<(i64, String)> = paged.iter().map(position).collect();
        let expected: Vec<(i64, String)> = whole.iter().map(position).collect();
        assert_eq!(order, expected, "pages of {limit}");
    }

    let created = alice
        .list_all(&format!("account_id={account}&status=created"), 2)
        .await?;
    assert_eq!(ids(&created), alices_created, "status=created");
    let succeeded = alice
        .list_all(&format!("account_id={account}&status=succeeded"), 2)
        .await?;
    assert_eq!(succeeded.len(), alices.len() - alices_created.len());
    assert!(succeeded.iter().all(|p| p["status"] == "succeeded"));
    assert_newest_first_without_duplicates(&succeeded, "status=succeeded");

    let bobs_view = bob.list_all(&format!("account_id={account}"), 1).await?;
    assert_eq!(ids(&bobs_view), bobs, "bob sees only his");
    let everyone = admin.list_all(&format!("account_id={account}"), 4).await?;
    assert_newest_first_without_duplicates(&everyone, "admin");
    assert_eq!(
        ids(&everyone),
        alices.union(&bobs).cloned().collect::<HashSet<_>>(),
        "the admin sees the account's payments of every merchant"
    );

    // Without an account: a merchant's own payments, newest first, none of another merchant's.
    let recent = alice.get("/payments?limit=1000").await?;
    let recent = recent.body["data"].as_array().cloned().unwrap_or_default();
    assert_newest_first_without_duplicates(&recent, "alice, all accounts");
    assert!(ids(&recent).is_superset(&alices));
    assert!(ids(&recent).is_disjoint(&bobs));

    let client = support::dynamodb().await.ok_or("no DynamoDB")?;
    let bobs_id = support::merchant_id_of(&client, "bob").await?;
    let bobs_by_admin = admin
        .list_all(&format!("account_id={account}&merchant={bobs_id}"), 1)
        .await?;
    assert_eq!(
        ids(&bobs_by_admin),
        bobs,
        "the admin names the merchant by its id"
    );
    let by_name = admin
        .get(&format!(
            "/payments?merchant={}",
            support::payments::encode("Bob's Bikes")
        ))
        .await?;
    assert_eq!(
        by_name.status, 422,
        "a merchant is named by its id, never its name"
    );

    let admin_all = admin.get("/payments").await?;
    assert_eq!(admin_all.status, 422, "{}", admin_all.text);
    assert_eq!(admin_all.fields(), ["account_id"]);

    // A cursor is bound to its query and its caller.
    let first = alice
        .get(&format!("/payments?account_id={account}&limit=2"))
        .await?;
    let cursor = first.body["next_cursor"].as_str().unwrap_or_default();
    let cursor = support::payments::encode(cursor);
    for (who, path) in [
        (
            &bob,
            format!("/payments?account_id={account}&limit=2&cursor={cursor}"),
        ),
        (
            &alice,
            format!("/payments?account_id={account}&status=created&cursor={cursor}"),
        ),
        (&alice, "/payments?cursor=bm90LWEtY3Vyc29y".to_owned()),
    ] {
        let reply = who.get(&path).await?;
        assert_eq!(reply.status, 400, "{} {path}: {}", who.user, reply.text);
        assert_eq!(reply.fields(), ["cursor"]);
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("status=paid", "status"),
        ("account_id=0", "account_id"),
        ("account_id=abc", "account_id"),
        ("colour=blue", "colour"),
    ] {
        let reply = alice.get(&format!("/payments?{query}")).await?;
        assert_eq!(reply.status, 422, "{query}: {}", reply.text);
        assert_eq!(reply.fields(), [field], "{query}");
    }
    Ok(())
}

async fn last_payment_date(
    admin: &Session<'_>,
    account: u64,
) -> Result<Value, support::api::Error> {
    let reply = admin.get(&format!("/accounts/{account}")).await?;
    assert_eq!(reply.status, 200, "{}", reply.text);
    Ok(reply.body["last_payment_date"].clone())
}

#[tokio::test]
async fn a_completed_payment_moves_the_accounts_last_payment_date() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let admin = Session::new(&api, "admin");
    let account = fresh_account().await?;
    assert!(last_payment_date(&admin, account).await?.is_null());

    let offline = alice.create(&card_body(account)).await?;
    assert_eq!(offline.status, 201, "{}", offline.text);
    assert_eq!(
        last_payment_date(&admin, account).await?,
        offline.body["created_at"]
    );

    // A payment not yet completed leaves the date alone.
    let unprocessed = alice
        .create(&with(&card_body(account), &[("/process", json!(false))]))
        .await?;
    assert_eq!(unprocessed.body["status"], "created");
    assert_eq!(
        last_payment_date(&admin, account).await?,
        offline.body["created_at"]
    );

    // An online payment moves it once the gateway has approved it.
    let online = alice
        .create(&with(
            &card_body(account),
            &[("/payment_type", json!("online"))],
        ))
        .await?;
    alice
        .await_status(&online.id(), &["succeeded"], SETTLE)
        .await?;
    assert_eq!(
        last_payment_date(&admin, account).await?,
        online.body["created_at"]
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_account_is_a_422_naming_account_id_and_nothing_is_stored() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let admin = Session::new(&api, "admin");
    let unknown = card_body(UNKNOWN_ACCOUNT);
    for (what, body) in [
        ("offline", unknown.clone()),
        (
            "online",
            with(&unknown, &[("/payment_type", json!("online"))]),
        ),
        ("unprocessed", with(&unknown, &[("/process", json!(false))])),
        (
            "online unprocessed",
            with(
                &unknown,
                &[
                    ("/payment_type", json!("online")),
                    ("/process", json!(false)),
                ],
            ),
        ),
    ] {
        let reply = alice.create(&body).await?;
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
        assert_eq!(reply.fields(), ["account_id"], "{what}");
    }
    let listed = admin
        .get(&format!("/payments?account_id={UNKNOWN_ACCOUNT}"))
        .await?;
    assert_eq!(listed.body["data"], json!([]), "{}", listed.text);
    let account = admin.get(&format!("/accounts/{UNKNOWN_ACCOUNT}")).await?;
    assert_eq!(account.status, 404);
    Ok(())
}

#[tokio::test]
async fn no_card_data_reaches_the_stack_logs() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let Some(logs) = support::service("STACK_LOG_DIR") else {
        return Ok(());
    };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    // The paths that handle card data: online (sealed, queued, opened by the validator, sent to
    // the gateway), processed later, and refused with the number in odd places.
    let online = with(&card_body(account), &[("/payment_type", json!("online"))]);
    let queued = alice.create(&online).await?;
    let later = alice
        .create(&with(&online, &[("/process", json!(false))]))
        .await?;
    assert_eq!(alice.process(&later.id()).await?.status, 202);
    for bad in [
        with(&online, &[("/card/number", json!(format!("{VISA}0")))]),
        with(&online, &[("/card/cvc", json!(VISA))]),
        with(&online, &[("/amount", json!(VISA))]),
        with(&online, &[("/card/exp_month", json!(VISA))]),
        with(&online, &[("/card_number", json!(VISA))]),
        with(&online, &[("/currency", json!(VISA))]),
    ] {
        assert_eq!(alice.create(&bad).await?.status, 422);
    }
    for id in [queued.id(), later.id()] {
        alice.await_status(&id, &["succeeded"], SETTLE).await?;
    }
    let mut scanned = 0;
    for entry in std::fs::read_dir(&logs)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
        scanned += text.len();
        for (_, number, _) in CARDS {
            assert!(
                !text.contains(number),
                "a card number in {}",
                path.display()
            );
        }
        for token in WALLET_TOKENS {
            assert!(
                !text.contains(token),
                "a wallet token in {}",
                path.display()
            );
        }
    }
    assert!(scanned > 0, "no stack logs in {logs}");
    Ok(())
}
