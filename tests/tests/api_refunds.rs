//! Refunds through the local stack: POST and GET /payments/{id}/refunds with real tokens, the
//! gateway simulator for online payments, and the validator finishing refunds the gateway could
//! not take at once.

mod support;

use payrail_shared::domain::{PaymentStatus, PaymentType, Timestamp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::{Api, Error, Reply};
use tokio::sync::Mutex;

/// When the payments these tests write straight into the table were made: 2001, outside every
/// report window (the report tests compare the whole table with the report routes).
const IMPORTED: Timestamp = Timestamp::from_millis(1_000_000_000_000);

/// Tests that depend on the gateway's behaviour (one of them changes it) run one at a time.
static GATEWAY: Mutex<()> = Mutex::const_new(());

/// A demo user's token, renewed before its 30 s run out.
struct Session<'a> {
    api: &'a Api,
    user: &'static str,
    token: Mutex<Option<(String, Instant)>>,
}

impl<'a> Session<'a> {
    fn new(api: &'a Api, user: &'static str) -> Self {
        Session {
            api,
            user,
            token: Mutex::new(None),
        }
    }

    async fn authorization(&self) -> Result<String, Error> {
        let mut token = self.token.lock().await;
        if let Some((value, at)) = token.as_ref()
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(format!("Bearer {value}"));
        }
        let value = self.api.login(self.user).await?;
        *token = Some((value.clone(), Instant::now()));
        Ok(format!("Bearer {value}"))
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Reply, Error> {
        let auth = self.authorization().await?;
        self.api
            .send_with(reqwest::Method::POST, path, Some(&auth), Some(body))
            .await
    }

    async fn get(&self, path: &str) -> Result<Reply, Error> {
        let auth = self.authorization().await?;
        self.api.get_with(path, Some(&auth)).await
    }

    async fn refund(&self, payment: &str, body: Value) -> Result<Reply, Error> {
        self.post(&format!("/payments/{payment}/refunds"), &body)
            .await
    }

    /// POST a refund with an Idempotency-Key.
    async fn refund_once(&self, payment: &str, key: &str, body: Value) -> Result<Reply, Error> {
        let auth = self.authorization().await?;
        let request = self
            .api
            .http
            .post(format!("{}/payments/{payment}/refunds", self.api.base))
            .header("authorization", auth)
            .header("idempotency-key", key)
            .json(&body);
        self.api.send_raw(request).await
    }

    async fn refunds(&self, payment: &str) -> Result<Vec<Value>, Error> {
        let reply = self.get(&format!("/payments/{payment}/refunds")).await?;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        Ok(reply.body["data"].as_array().cloned().unwrap_or_default())
    }

    async fn payment(&self, id: &str) -> Result<Value, Error> {
        let reply = self.get(&format!("/payments/{id}")).await?;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        Ok(reply.body)
    }

    /// A new payment of `amount` minor units (GBP) by this merchant; its id.
    async fn pay(&self, amount: u64, payment_type: &str, process: bool) -> Result<String, Error> {
        let body = json!({
            "account_id": 7, "amount": amount, "currency": "GBP", "payment_type": payment_type,
            "method": "credit_card",
            "card": {"number": "4111111111111111", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
            "address": "1 Test Street, London", "country": "GB", "process": process,
        });
        let reply = self.post("/payments", &body).await?;
        assert!(
            matches!(reply.status, 201 | 202),
            "create: {} {:?}",
            reply.status,
            reply.body
        );
        Ok(reply.body["id"].as_str().unwrap_or_default().to_owned())
    }

    /// An online payment, once the validator has charged it.
    async fn charged(&self, amount: u64) -> Result<String, Error> {
        let id = self.pay(amount, "online", true).await?;
        wait_for("the online payment to succeed", || async {
            Ok(self.payment(&id).await?["status"] == "succeeded")
        })
        .await?;
        Ok(id)
    }
}

/// Polls `check` until it holds; fails after a minute and a half.
async fn wait_for<F, Fut>(what: &str, check: F) -> TestResult
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await? {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

fn assert_conflict(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 409, "{what}: {:?}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json", "{what}");
    assert_eq!(reply.body["code"], "conflict", "{what}");
}

fn amounts(refunds: &[Value]) -> Vec<u64> {
    refunds
        .iter()
        .filter_map(|r| r["amount"].as_u64())
        .collect()
}

#[tokio::test]
async fn a_refund_retried_with_its_idempotency_key_is_made_once() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(10_000, "offline", true).await?;
    let key = format!("refund-{}", uuid::Uuid::new_v4());

    let first = alice
        .refund_once(&id, &key, json!({"amount": 3000}))
        .await?;
    let retry = alice
        .refund_once(&id, &key, json!({"amount": 3000}))
        .await?;

    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(
        (retry.status, &retry.body),
        (201, &first.body),
        "the first answer replayed"
    );
    assert_eq!(
        amounts(&alice.refunds(&id).await?),
        vec![3000],
        "one refund made"
    );
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["refunded_amount"], 3000);

    // The key with another body is refused, naming the header; nothing more is refunded.
    let other = alice
        .refund_once(&id, &key, json!({"amount": 1000}))
        .await?;
    assert_eq!(other.status, 422, "{:?}", other.body);
    assert_eq!(other.body["errors"][0]["field"], "Idempotency-Key");
    // The same key on another payment is another request: a payment's refunds are its own.
    let second = alice.pay(5_000, "offline", true).await?;
    let elsewhere = alice
        .refund_once(&second, &key, json!({"amount": 3000}))
        .await?;
    assert_eq!(
        elsewhere.status, 422,
        "the key was used for another payment's refund"
    );
    // A key already used for a payment is free for a refund: each operation has its own.
    let payment_key = format!("pay-{}", uuid::Uuid::new_v4());
    let auth = alice.authorization().await?;
    let paid = api
        .send_raw(
            api.http
                .post(format!("{}/payments", api.base))
                .header("authorization", auth)
                .header("idempotency-key", &payment_key)
                .json(&json!({
                    "account_id": 7, "amount": 4000, "currency": "GBP", "payment_type": "offline",
                    "method": "credit_card",
                    "card": {"number": "4111111111111111", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
                    "address": "1 Test Street, London", "country": "GB",
                })),
        )
        .await?;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let paid_id = paid.body["id"].as_str().unwrap_or_default().to_owned();
    let refunded = alice.refund_once(&paid_id, &payment_key, json!({})).await?;
    assert_eq!(refunded.status, 201, "{:?}", refunded.body);
    assert_eq!(alice.payment(&id).await?["refunded_amount"], 3000);
    Ok(())
}

#[tokio::test]
async fn offline_refunds_go_partially_then_fully_refunded_then_refuse_more() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(10_000, "offline", true).await?;

    let first = alice
        .refund(&id, json!({"amount": 3000, "reason": "one item returned"}))
        .await?;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["status"], "succeeded");
    assert_eq!(first.body["amount"], 3000);
    assert_eq!(first.body["currency"], "GBP");
    assert_eq!(first.body["payment_id"], id.as_str());
    assert_eq!(first.body["reason"], "one item returned");
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["status"], "partially_refunded");
    assert_eq!(payment["refunded_amount"], 3000);

    let rest = alice.refund(&id, json!({})).await?;
    assert_eq!(rest.status, 201, "{:?}", rest.body);
    assert_eq!(rest.body["amount"], 7000, "no amount refunds the rest");
    assert_eq!(rest.body["reason"], Value::Null);
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refunded_amount"], 10_000);

    assert_conflict(&alice.refund(&id, json!({"amount": 1})).await?, "one more");
    assert_conflict(&alice.refund(&id, json!({})).await?, "the rest of nothing");
    let listed = alice.refunds(&id).await?;
    assert_eq!(amounts(&listed), vec![7000, 3000], "newest first");
    assert!(listed.iter().all(|r| r["status"] == "succeeded"));
    Ok(())
}

#[tokio::test]
async fn a_refund_above_what_is_left_is_409_and_changes_nothing() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(5000, "offline", true).await?;
    assert_eq!(
        alice.refund(&id, json!({"amount": 2000})).await?.status,
        201
    );
    let before = alice.payment(&id).await?;

    assert_conflict(
        &alice.refund(&id, json!({"amount": 3001})).await?,
        "3001 of 3000 left",
    );
    assert_conflict(
        &alice.refund(&id, json!({"amount": 999_999})).await?,
        "more than the payment",
    );
    assert_eq!(
        alice.payment(&id).await?,
        before,
        "the payment is unchanged"
    );
    assert_eq!(amounts(&alice.refunds(&id).await?), vec![2000]);
    Ok(())
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_amount() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(10_000, "offline", true).await?;
    alice.authorization().await?;

    // Fifteen refunds of 10 % at once: at most ten can fit.
    let replies =
        futures::future::join_all((0..15).map(|_| alice.refund(&id, json!({"amount": 1000}))))
            .await;
    let mut created = 0u64;
    for reply in replies {
        let reply = reply?;
        match reply.status {
            201 => created += 1,
            409 => assert_conflict(&reply, "a refund that did not fit"),
            other => unreachable!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert!(
        (1..=10).contains(&created),
        "{created} refunds of 1000 made"
    );
    let payment = alice.payment(&id).await?;
    let listed = alice.refunds(&id).await?;
    let sum: u64 = amounts(&listed).iter().sum();
    assert_eq!(listed.len() as u64, created, "one stored refund per 201");
    assert_eq!(
        payment["refunded_amount"], sum,
        "refunded_amount = sum of refunds"
    );
    assert!(sum <= 10_000);

    // Whatever is left can still be refunded, and then exactly the amount is.
    if sum < 10_000 {
        assert_eq!(alice.refund(&id, json!({})).await?.status, 201);
    }
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["refunded_amount"], 10_000);
    assert_eq!(payment["status"], "refunded");
    assert_conflict(&alice.refund(&id, json!({"amount": 1})).await?, "all used");
    Ok(())
}

#[tokio::test]
async fn only_the_owner_refunds_and_an_admin_reads() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (alice, bob, admin) = (
        Session::new(&api, "alice"),
        Session::new(&api, "bob"),
        Session::new(&api, "admin"),
    );
    let id = alice.pay(4000, "offline", true).await?;
    assert_eq!(
        alice.refund(&id, json!({"amount": 1500})).await?.status,
        201
    );

    let stolen = bob.refund(&id, json!({"amount": 100})).await?;
    assert_eq!(stolen.status, 404, "{:?}", stolen.body);
    assert_eq!(
        bob.get(&format!("/payments/{id}/refunds")).await?.status,
        404
    );
    let by_admin = admin.refund(&id, json!({"amount": 100})).await?;
    assert_eq!(by_admin.status, 403, "{:?}", by_admin.body);
    assert_eq!(by_admin.body["code"], "forbidden");

    assert_eq!(amounts(&admin.refunds(&id).await?), vec![1500]);
    assert_eq!(alice.payment(&id).await?["refunded_amount"], 1500);
    let unknown = admin
        .get("/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40/refunds")
        .await?;
    assert_eq!(unknown.status, 404);
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(1000, "offline", true).await?;
    let long = "x".repeat(501);
    for (body, field) in [
        (json!({"amount": 0}), "amount"),
        (json!({"amount": -5}), "amount"),
        (json!({"amount": 2.5}), "amount"),
        (json!({"amount": "100"}), "amount"),
        (json!({"reason": long}), "reason"),
        (json!({"reason": ""}), "reason"),
        (json!({"amount": 100, "currency": "EUR"}), "currency"),
    ] {
        let reply = alice.refund(&id, body.clone()).await?;
        assert_eq!(reply.status, 422, "{body}: {:?}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json");
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
    }
    let not_a_uuid = alice.refund("not-a-uuid", json!({})).await?;
    assert_eq!(not_a_uuid.status, 422);
    assert_eq!(not_a_uuid.body["errors"][0]["field"], "id");

    let auth = alice.authorization().await?;
    let malformed = api
        .send_raw(
            api.http
                .post(format!("{}/payments/{id}/refunds", api.base))
                .header("authorization", &auth)
                .body("{\"amount\": "),
        )
        .await?;
    assert_eq!(malformed.status, 400, "{:?}", malformed.body);

    let limit = alice
        .get(&format!("/payments/{id}/refunds?limit=0"))
        .await?;
    assert_eq!(limit.status, 422);
    assert_eq!(limit.body["errors"][0]["field"], "limit");
    let cursor = alice
        .get(&format!("/payments/{id}/refunds?cursor=forged"))
        .await?;
    assert_eq!(cursor.status, 400);
    assert_eq!(cursor.body["errors"][0]["field"], "cursor");

    assert_eq!(
        alice.payment(&id).await?["refunded_amount"],
        0,
        "nothing refunded"
    );
    Ok(())
}

#[tokio::test]
async fn refunds_list_in_pages_newest_first() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let id = alice.pay(1000, "offline", true).await?;
    for amount in [10, 20, 30, 40, 50] {
        let reply = alice.refund(&id, json!({"amount": amount})).await?;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    let mut seen = Vec::new();
    let mut path = format!("/payments/{id}/refunds?limit=2");
    let mut pages = 0;
    loop {
        let reply = alice.get(&path).await?;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        pages += 1;
        seen.extend(amounts(
            reply.body["data"].as_array().map_or(&[][..], |v| v),
        ));
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(reply.body["has_more"], true);
                path = format!("/payments/{id}/refunds?limit=2&cursor={cursor}");
            }
            None => {
                assert_eq!(reply.body["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        vec![50, 40, 30, 20, 10],
        "every refund once, newest first"
    );

    // A cursor belongs to its payment.
    let first = alice
        .get(&format!("/payments/{id}/refunds?limit=1"))
        .await?;
    let cursor = first.body["next_cursor"].as_str().unwrap_or_default();
    let other = alice.pay(500, "offline", true).await?;
    let reused = alice
        .get(&format!("/payments/{other}/refunds?cursor={cursor}"))
        .await?;
    assert_eq!(reused.status, 400, "{:?}", reused.body);
    Ok(())
}

#[tokio::test]
async fn only_completed_payments_can_be_refunded() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (Some(dynamodb), Some(table)) = (
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
    ) else {
        return Ok(());
    };
    let alice = Session::new(&api, "alice");
    let created_offline = alice.pay(1000, "offline", false).await?;
    let created_online = alice.pay(1000, "online", false).await?;
    for id in [&created_offline, &created_online] {
        assert_eq!(alice.payment(id).await?["status"], "created");
        assert_conflict(&alice.refund(id, json!({})).await?, "created");
    }
    // Payments in the other states, stored as the validator would leave them.
    let mut rng = support::rng(7);
    let mut stored = Vec::new();
    for status in [
        PaymentStatus::Pending,
        PaymentStatus::Declined,
        PaymentStatus::Failed,
    ] {
        let mut payment = support::payment(&mut rng, IMPORTED, status);
        payment.payment_type = PaymentType::Online;
        let alices = support::merchant_id_of(&dynamodb, "alice").await?;
        payment.merchant = Some(alices.to_string());
        stored.push(payment);
    }
    support::write_all(&dynamodb, &table, &stored).await?;
    for payment in &stored {
        let id = payment.id.to_string();
        assert_conflict(
            &alice.refund(&id, json!({"amount": 1})).await?,
            &format!("{:?}", payment.status),
        );
        assert!(alice.refunds(&id).await?.is_empty());
    }
    Ok(())
}

/// The simulator's record of a payment's charge (what it refunded so far).
async fn charge(api: &Api, simulator: &str, payment: &str) -> Result<Value, Error> {
    let charges: Value = api
        .http
        .get(format!("{simulator}/charges"))
        .send()
        .await?
        .json()
        .await?;
    Ok(charges
        .as_array()
        .and_then(|all| all.iter().find(|c| c["payment_id"] == payment).cloned())
        .unwrap_or(Value::Null))
}

/// The log entries the log service received about a payment.
async fn logs(api: &Api, simulator: &str, payment: &str) -> Result<Vec<Value>, Error> {
    let logs: Value = api
        .http
        .get(format!("{simulator}/logs"))
        .send()
        .await?
        .json()
        .await?;
    Ok(logs
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|l| l["payment_id"] == payment)
                .cloned()
                .collect()
        })
        .unwrap_or_default())
}

async fn set_behaviour(api: &Api, simulator: &str, behaviour: &Value) -> TestResult {
    let response = api
        .http
        .put(format!("{simulator}/behaviour"))
        .json(behaviour)
        .send()
        .await?;
    assert!(response.status().is_success(), "PUT /behaviour");
    Ok(())
}

#[tokio::test]
async fn online_refunds_go_through_the_gateway_and_finish_after_an_outage() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let Some(simulator) = support::service("PAYRAIL_SIMULATOR_URL") else {
        return Ok(());
    };
    let _gateway = GATEWAY.lock().await;
    let alice = Session::new(&api, "alice");
    let id = alice.charged(8000).await?;

    let refunded = alice
        .refund(&id, json!({"amount": 3000, "reason": "late delivery"}))
        .await?;
    assert_eq!(refunded.status, 201, "{:?}", refunded.body);
    assert_eq!(refunded.body["status"], "succeeded");
    assert_eq!(charge(&api, &simulator, &id).await?["refunded"], 3000);
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["status"], "partially_refunded");
    assert_eq!(payment["refunded_amount"], 3000);

    // The gateway fails every call for a while: the refund is accepted, pending.
    let normal: Value = api
        .http
        .get(format!("{simulator}/behaviour"))
        .send()
        .await?
        .json()
        .await?;
    let mut failing = normal.clone();
    failing["failure_rate"] = json!(1.0);
    failing["failures"] = json!(["server-error"]);
    set_behaviour(&api, &simulator, &failing).await?;
    let outage = async {
        let pending = alice.refund(&id, json!({"amount": 2000})).await?;
        assert_eq!(pending.status, 202, "{:?}", pending.body);
        assert_eq!(pending.body["status"], "pending");
        let payment = alice.payment(&id).await?;
        assert_eq!(payment["refunded_amount"], 3000, "not refunded yet");
        // Its amount is reserved: 3000 is left, not 5000.
        assert_conflict(
            &alice.refund(&id, json!({"amount": 3001})).await?,
            "the pending refund's amount is taken",
        );
        Ok::<_, Error>(pending.body["id"].as_str().unwrap_or_default().to_owned())
    };
    let outcome = outage.await;
    set_behaviour(&api, &simulator, &normal).await?;
    let pending_id = outcome?;
    wait_for("the network error in the log service", || async {
        Ok(logs(&api, &simulator, &id)
            .await?
            .iter()
            .any(|l| l["error_type"] == "network"))
    })
    .await?;

    // The validator finishes it from the refund message once the gateway is back.
    wait_for("the pending refund to succeed", || async {
        let refunds = alice.refunds(&id).await?;
        Ok(refunds
            .iter()
            .any(|r| r["id"] == pending_id.as_str() && r["status"] == "succeeded"))
    })
    .await?;
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["refunded_amount"], 5000);
    assert_eq!(payment["status"], "partially_refunded");
    assert_eq!(charge(&api, &simulator, &id).await?["refunded"], 5000);

    // The rest, through the gateway: fully refunded, and the gateway agrees.
    let rest = alice.refund(&id, json!({})).await?;
    assert_eq!(rest.status, 201, "{:?}", rest.body);
    assert_eq!(rest.body["amount"], 3000);
    let payment = alice.payment(&id).await?;
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refunded_amount"], 8000);
    assert_eq!(charge(&api, &simulator, &id).await?["refunded"], 8000);
    Ok(())
}

#[tokio::test]
async fn a_refund_the_gateway_refuses_fails_and_gives_its_amount_back() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (Some(dynamodb), Some(table), Some(simulator)) = (
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
        support::service("PAYRAIL_SIMULATOR_URL"),
    ) else {
        return Ok(());
    };
    let _gateway = GATEWAY.lock().await;
    // An online payment the gateway never charged (imported history): it answers 404.
    let mut payment = support::payment(&mut support::rng(11), IMPORTED, PaymentStatus::Succeeded);
    payment.payment_type = PaymentType::Online;
    let alices = support::merchant_id_of(&dynamodb, "alice").await?;
    payment.merchant = Some(alices.to_string());
    support::write_all(&dynamodb, &table, std::slice::from_ref(&payment)).await?;
    let id = payment.id.to_string();
    let alice = Session::new(&api, "alice");

    let refused = alice.refund(&id, json!({"amount": 1})).await?;
    assert_eq!(refused.status, 201, "{:?}", refused.body);
    assert_eq!(refused.body["status"], "failed");
    assert_eq!(refused.body["failure"]["error_type"], "declined");
    let after = alice.payment(&id).await?;
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["refunded_amount"], 0);
    // The reservation was released: the whole amount can still be asked for (and is refused
    // by the gateway again).
    let whole = alice.refund(&id, json!({})).await?;
    assert_eq!(whole.status, 201, "{:?}", whole.body);
    assert_eq!(whole.body["amount"], payment.amount.get());
    let listed = alice.refunds(&id).await?;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r["status"] == "failed"));
    wait_for("the refusal in the log service", || async {
        Ok(logs(&api, &simulator, &id)
            .await?
            .iter()
            .any(|l| l["error_type"] == "other"))
    })
    .await?;
    Ok(())
}

/// An online queue for offline refunds, which send nothing.
struct NoQueue;

impl payrail_shared::queue::SendDelayed for NoQueue {
    async fn send_delayed(
        &self,
        _body: String,
        _delay: Duration,
    ) -> Result<(), payrail_shared::queue::SendError> {
        Err(payrail_shared::queue::SendError(
            "an offline refund sends no message".to_owned(),
        ))
    }
}

/// The API emulation runs two instances per function; this drives the service itself with 20
/// refunds at once against the local DynamoDB, so the transactions really collide.
#[tokio::test]
async fn twenty_refunds_at_once_in_process_commit_at_most_the_amount() -> TestResult {
    use payrail_shared::auth::{Identity, Role};
    use payrail_shared::domain::{MinorUnits, SystemClock};
    use payrail_shared::gateway::{GatewayClient, Timeouts};
    use payrail_shared::logservice::MemoryReporter;
    use payrail_shared::refunds::{CreateRefund, DynamoRefunds, RefundError, Refunds};
    use std::sync::Arc;

    let (Some(dynamodb), Some(table)) = (
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
    ) else {
        return Ok(());
    };
    let mut payment = support::payment(&mut support::rng(23), IMPORTED, PaymentStatus::Succeeded);
    payment.payment_type = PaymentType::Offline;
    payment.amount = MinorUnits::new(10_000)?;
    let alices = support::merchant_id_of(&dynamodb, "alice").await?;
    payment.merchant = Some(alices.to_string());
    support::write_all(&dynamodb, &table, std::slice::from_ref(&payment)).await?;
    let refunds = Refunds {
        store: DynamoRefunds::new(dynamodb, table),
        gateway: GatewayClient::new("http://127.0.0.1:9", Timeouts::DEFAULT)?,
        online: NoQueue,
        reporter: Arc::new(MemoryReporter::new()),
        clock: Arc::new(SystemClock),
        completion_delay: Duration::from_secs(20),
    };
    let alice = Identity {
        sub: "alice".to_owned(),
        role: Role::Merchant,
        merchant: Some("Alice's Shop".to_owned()),
        merchant_id: Some(alices.clone()),
    };

    let results = futures::future::join_all((0..20).map(|_| {
        let request = CreateRefund {
            amount: Some(MinorUnits::new(1000).unwrap_or_else(|_| unreachable!())),
            reason: None,
        };
        refunds.create(&alice, payment.id, request)
    }))
    .await;
    let (mut made, mut refused, mut contended) = (0u64, 0, 0);
    for result in results {
        match result {
            Ok(created) => {
                assert!(!created.accepted);
                made += 1;
            }
            Err(RefundError::Refused(_) | RefundError::NotRefundable) => refused += 1,
            Err(RefundError::Contended) => contended += 1,
            Err(other) => return Err(other.into()),
        }
    }
    eprintln!("{made} made, {refused} refused, {contended} gave up under contention");
    assert!(made <= 10 && made + refused + contended == 20);
    let (listed, _) = refunds.store.list(&payment.id, 100, None).await?;
    let sum: u64 = listed.iter().map(|r| r.amount.get()).sum();
    let stored = refunds
        .store
        .payment(&payment.id)
        .await?
        .ok_or("payment vanished")?;
    assert_eq!(listed.len() as u64, made, "one stored refund per success");
    assert_eq!(stored.payment.refunded_amount, sum);
    assert_eq!(stored.reserved, 0);
    assert!(sum <= 10_000);
    assert_eq!(made, 10, "every refund that fitted was made");
    assert_eq!(stored.payment.status, PaymentStatus::Refunded);
    Ok(())
}

/// A refund request whose Lambda died after storing the refund, before keeping its answer: the
/// client's retry with the same key takes the expired lock over and gets that refund back, not
/// a second one (nor a 409 for "nothing left" after a full refund).
#[tokio::test]
async fn a_retry_taking_over_a_dead_attempt_gets_its_refund_not_another() -> TestResult {
    use payrail_shared::auth::{Identity, Role};
    use payrail_shared::domain::{MinorUnits, SystemClock};
    use payrail_shared::gateway::{GatewayClient, Timeouts};
    use payrail_shared::logservice::MemoryReporter;
    use payrail_shared::payments::idempotency::{
        Begin, DynamoIdempotency, IdempotencyKey, LOCK_MS, RequestDigest, Scope,
    };
    use payrail_shared::refunds::service::NewRefund;
    use payrail_shared::refunds::{CreateRefund, DynamoRefunds, RefundId, Refunds};
    use std::sync::Arc;

    let (Some(dynamodb), Some(table)) = (
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
    ) else {
        return Ok(());
    };
    let mut payment = support::payment(&mut support::rng(29), IMPORTED, PaymentStatus::Succeeded);
    payment.payment_type = PaymentType::Offline;
    payment.amount = MinorUnits::new(10_000)?;
    let alices = support::merchant_id_of(&dynamodb, "alice").await?;
    payment.merchant = Some(alices.to_string());
    support::write_all(&dynamodb, &table, std::slice::from_ref(&payment)).await?;
    let refunds = Refunds {
        store: DynamoRefunds::new(dynamodb.clone(), table.clone()),
        gateway: GatewayClient::new("http://127.0.0.1:9", Timeouts::DEFAULT)?,
        online: NoQueue,
        reporter: Arc::new(MemoryReporter::new()),
        clock: Arc::new(SystemClock),
        completion_delay: Duration::from_secs(20),
    };
    let records = DynamoIdempotency::new(dynamodb, table);
    let alice = Identity {
        sub: "alice".to_owned(),
        role: Role::Merchant,
        merchant: Some("Alice's Shop".to_owned()),
        merchant_id: Some(alices.clone()),
    };
    let key = IdempotencyKey::parse(&format!("dead-{}", uuid::Uuid::new_v4()))?;
    let digest = RequestDigest::of_refund(&payment.id, &json!({}));
    let full = || CreateRefund {
        amount: None,
        reason: None,
    };
    let now = payrail_shared::domain::Clock::now(&SystemClock);
    let new = |begin: Begin| match begin {
        Begin::Run(r) => Ok(NewRefund {
            id: RefundId::from_uuid(r.id),
            created_at: r.created_at,
            resumed: r.resumed,
        }),
        other => Err(format!("expected to run, got {other:?}")),
    };

    let first = new(records
        .begin(Scope::Refund, &alices, &key, &digest, now)
        .await?)?;
    let made = refunds.create_as(&alice, payment.id, full(), first).await?;
    // The Lambda dies here: no answer kept. Its lock expires; the client retries.
    let later = now.plus(LOCK_MS + 1);
    let retry = new(records
        .begin(Scope::Refund, &alices, &key, &digest, later)
        .await?)?;
    let again = refunds.create_as(&alice, payment.id, full(), retry).await?;

    assert!(!first.resumed && retry.resumed);
    assert_eq!((retry.id, retry.created_at), (first.id, first.created_at));
    assert_eq!(again.refund.id, made.refund.id);
    assert_eq!(again.refund.amount.get(), 10_000);
    let (listed, _) = refunds.store.list(&payment.id, 100, None).await?;
    assert_eq!(listed.len(), 1, "one refund: {listed:?}");
    let stored = refunds.store.payment(&payment.id).await?.ok_or("gone")?;
    assert_eq!(stored.payment.refunded_amount, 10_000);
    Ok(())
}
