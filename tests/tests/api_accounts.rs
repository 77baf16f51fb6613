//! GET /accounts/{id} through the local stack: a merchant sees only an account that holds a
//! payment to it (any status), without the payer's personal data and with the date of its own
//! completed payments; any other account is the 404 of a missing one. Admins see everything.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::TestResult;
use support::api::Api;
use support::payments::{Answer, Session, card_body, fresh_account, with};

/// An account id the seeding never creates (accounts are 1..=500; the tests' own are 10^9+).
const UNKNOWN_ACCOUNT: u64 = 999_998;

/// How long the validator may take to settle an online payment (batch window 1 s, a cold start).
const SETTLE: Duration = Duration::from_secs(60);

async fn account(session: &Session<'_>, id: u64) -> Result<Answer, support::api::Error> {
    session.get(&format!("/accounts/{id}")).await
}

/// A 404 body with what varies per request (none today) left out.
fn not_found_body(answer: &Answer) -> Value {
    assert_eq!(answer.status, 404, "{}", answer.text);
    answer.body.clone()
}

/// What a merchant may see: no personal data, whatever else.
fn assert_no_personal_data(answer: &Answer, who: &str) {
    assert_eq!(answer.status, 200, "{who}: {}", answer.text);
    for field in ["email", "birthdate"] {
        assert!(
            answer.body.get(field).is_none(),
            "{who} sees {field}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn a_merchant_without_a_payment_of_the_account_gets_the_404_of_a_missing_account()
-> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let admin = Session::new(&api, "admin");
    let existing = fresh_account().await?;
    assert_eq!(account(&admin, existing).await?.status, 200);

    let unpaid = not_found_body(&account(&alice, existing).await?);
    let missing = not_found_body(&account(&alice, UNKNOWN_ACCOUNT).await?);

    assert_eq!(unpaid, missing, "an unpaid account must look missing");
    // A seeded account (sequential ids) no demo merchant has been paid by.
    let seeded = account(&alice, 2).await?;
    assert!(
        seeded.status == 404 || seeded.body.get("email").is_none(),
        "alice reads a seeded payer's personal data: {}",
        seeded.text
    );
    Ok(())
}

#[tokio::test]
async fn each_merchant_sees_a_paying_account_without_personal_data_and_with_its_own_date()
-> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let bob = Session::new(&api, "bob");
    let admin = Session::new(&api, "admin");
    let id = fresh_account().await?;

    // A payment not yet processed is enough to see the account, with no date yet.
    let unprocessed = alice
        .create(&with(&card_body(id), &[("/process", json!(false))]))
        .await?;
    assert_eq!(
        unprocessed.body["status"], "created",
        "{}",
        unprocessed.text
    );
    let seen = account(&alice, id).await?;
    assert_no_personal_data(&seen, "alice");
    assert_eq!(seen.body["account_id"], id);
    assert!(seen.body["last_payment_date"].is_null(), "{}", seen.text);
    assert_eq!(
        account(&bob, id).await?.status,
        404,
        "bob has no payment yet"
    );

    // Alice's completed payment, then Bob's (later): each sees the date of its own.
    let alices = alice.create(&card_body(id)).await?;
    assert_eq!(alices.status, 201, "{}", alices.text);
    let bobs = bob.create(&card_body(id)).await?;
    assert_eq!(bobs.status, 201, "{}", bobs.text);
    let for_alice = account(&alice, id).await?;
    let for_bob = account(&bob, id).await?;
    assert_no_personal_data(&for_alice, "alice");
    assert_no_personal_data(&for_bob, "bob");
    assert_eq!(
        for_alice.body["last_payment_date"], alices.body["created_at"],
        "alice's date is her own payment's: {}",
        for_alice.text
    );
    assert_eq!(
        for_bob.body["last_payment_date"], bobs.body["created_at"],
        "{}",
        for_bob.text
    );

    // The admin sees the whole account, with the newest payment of anyone.
    let full = account(&admin, id).await?;
    assert_eq!(full.status, 200, "{}", full.text);
    assert_eq!(full.body["email"], format!("test{id}@example.com"));
    assert_eq!(full.body["birthdate"], "1990-04-01");
    let newest = alices.body["created_at"]
        .as_i64()
        .max(bobs.body["created_at"].as_i64());
    assert_eq!(full.body["last_payment_date"].as_i64(), newest);
    Ok(())
}

#[tokio::test]
async fn an_online_payment_dates_the_merchants_view_once_the_validator_completes_it() -> TestResult
{
    let Some(api) = Api::new() else { return Ok(()) };
    let bob = Session::new(&api, "bob");
    let id = fresh_account().await?;

    let online = bob
        .create(&with(&card_body(id), &[("/payment_type", json!("online"))]))
        .await?;
    assert_eq!(online.status, 202, "{}", online.text);
    // Visible while pending (the API's write linked it), undated until completed.
    let pending = account(&bob, id).await?;
    assert_no_personal_data(&pending, "bob");
    bob.await_status(&online.id(), &["succeeded"], SETTLE)
        .await?;

    let settled = account(&bob, id).await?;
    assert_no_personal_data(&settled, "bob");
    assert_eq!(
        settled.body["last_payment_date"], online.body["created_at"],
        "{}",
        settled.text
    );
    Ok(())
}
