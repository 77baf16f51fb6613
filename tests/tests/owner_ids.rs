//! Ownership by merchant id (issue 13 item 9) through the local stack: a merchant's display
//! name owns nothing (another merchant user of the same name sees none of its payments, a
//! renamed merchant keeps them), and stream payments are owned by the merchant the registry
//! resolves from the message (its merchant id, else its vendor) or else by the reserved
//! upstream merchant, which only admins act for.
//!
//! Needs the stack of `infra/local/test-env.sh`.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::domain::{MerchantId, PaymentId};
use payrail_shared::users::{DynamoUsers, Username};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::{Api, Error};
use support::payments::{Answer, Session, card_body, fresh_account};
use support::stream::Stack;

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn refund(session: &Session<'_>, id: &str, amount: u64) -> Result<Answer, Error> {
    session
        .request(Method::POST, &format!("/payments/{id}/refunds"), |r| {
            r.json(&json!({"amount": amount}))
        })
        .await
}

fn ids(page: &[Value]) -> Vec<String> {
    page.iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_merchant_user_with_another_merchants_name_sees_none_of_its_payments() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let account = fresh_account().await?;
    let alice = Session::new(&api, "alice");
    let paid = alice.create(&card_body(account)).await?;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let id = paid.id();

    // Another merchant (its own id) going by alice's display name, as a rename or a mistake
    // could make it: the name is what tokens and payments carried before owner ids.
    let (impostor, _) = support::add_merchant_user("impostor", "Alice's Shop", None).await?;
    let impostor = Session::new(&api, impostor);
    let seen = impostor.get(&format!("/payments/{id}")).await?;
    assert_eq!(seen.status, 404, "{}", seen.text);
    let listed = impostor
        .list_all(&format!("account_id={account}"), 100)
        .await?;
    assert!(listed.is_empty(), "{listed:?}");
    assert!(!ids(&impostor.list_all("status=succeeded", 1000).await?).contains(&id));
    assert_eq!(refund(&impostor, &id, 1).await?.status, 404);
    let account_view = impostor.get(&format!("/accounts/{account}")).await?;
    assert_eq!(account_view.status, 404, "{}", account_view.text);

    // alice still sees and refunds it.
    assert_eq!(alice.get(&format!("/payments/{id}")).await?.status, 200);
    assert_eq!(refund(&alice, &id, 1).await?.status, 201);
    Ok(())
}

#[tokio::test]
async fn a_renamed_merchant_keeps_what_it_owns() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let Some(client) = support::dynamodb().await else {
        return Ok(());
    };
    let account = fresh_account().await?;
    let (user, id) =
        support::add_merchant_user("rename", &format!("Before {}", tag()), None).await?;
    let before = Session::new(&api, user);
    let paid = before.create(&card_body(account)).await?;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(
        paid.body["vendor"]
            .as_str()
            .map(|v| v.starts_with("Before")),
        Some(true)
    );

    // What `users rename-merchant` does to each of the merchant's users.
    let renamed = format!("After {}", tag());
    DynamoUsers::new(client, std::env::var("USERS_TABLE")?)
        .set_merchant_name(&Username::parse(user)?, &id, &renamed)
        .await?;
    // Under the new name (a new token): the same payments.
    let after = Session::new(&api, user);
    let seen = after.get(&format!("/payments/{}", paid.id())).await?;
    assert_eq!(seen.status, 200, "{}", seen.text);
    let listed = after
        .list_all(&format!("account_id={account}"), 100)
        .await?;
    assert_eq!(ids(&listed), vec![paid.id()]);
    // A new payment's vendor defaults to the new name; the owner is the same merchant.
    let next = after.create(&card_body(account)).await?;
    assert_eq!(next.body["vendor"], renamed.as_str());
    assert_eq!(
        after
            .list_all(&format!("account_id={account}"), 100)
            .await?
            .len(),
        2
    );
    Ok(())
}

/// An offline message straight onto the queue, as an upstream shop sends it; returns its id.
async fn send_offline(
    stack: &Stack,
    account: u64,
    extra: &[(&str, &str)],
) -> Result<String, Error> {
    let id = PaymentId::new().to_string();
    let mut message = json!({
        "payment_id": id, "account_id": account, "payment_type": "offline",
        "credit_card": "4111111111111111", "amount": 2500, "currency": "EUR",
        "country": "DE", "address": "1 Upstream Way",
    });
    for (field, value) in extra {
        message[*field] = json!(value);
    }
    stack
        .sqs
        .send_message()
        .queue_url(&stack.queues.offline)
        .message_body(message.to_string())
        .send()
        .await?;
    Ok(id)
}

/// The admin's view of a payment, once the recorder has stored it.
async fn stored(api: &Api, id: &str) -> Result<Value, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = api.get(&format!("/payments/{id}")).await?;
        if reply.status == 200 && reply.body["status"] == "succeeded" {
            return Ok(reply.body);
        }
        if Instant::now() > deadline {
            return Err(format!("{id} not stored: {} {}", reply.status, reply.body).into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The payment's stored owner (the API shows no `merchant`).
async fn owner(stack: &Stack, id: &str) -> Result<Option<String>, Error> {
    let item = stack
        .dynamodb
        .get_item()
        .table_name(&stack.transactions_table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("PAY#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("PAYMENT".to_owned()),
        )
        .consistent_read(true)
        .send()
        .await?
        .item
        .unwrap_or_default();
    Ok(item.get("merchant").and_then(|v| v.as_s().ok()).cloned())
}

#[tokio::test]
async fn a_stream_payment_whose_vendor_is_a_registered_merchant_is_that_merchants() -> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let api = &stack.api;
    let account = fresh_account().await?;
    let name = format!("Stream Shop {}", tag());
    let (user, merchant_id) = support::add_merchant_user("vendor", &name, None).await?;
    let merchant = Session::new(api, user);
    let by_vendor = send_offline(&stack, account, &[("vendor", &name)]).await?;
    stored(api, &by_vendor).await?;
    assert_eq!(
        owner(&stack, &by_vendor).await?.as_deref(),
        Some(merchant_id.as_str())
    );

    // By merchant id (payrail's own producers), whatever the vendor says.
    let by_id = send_offline(
        &stack,
        account,
        &[
            ("merchant_id", merchant_id.as_str()),
            ("vendor", "Somebody Else"),
        ],
    )
    .await?;
    stored(api, &by_id).await?;
    assert_eq!(
        owner(&stack, &by_id).await?.as_deref(),
        Some(merchant_id.as_str())
    );

    for id in [&by_vendor, &by_id] {
        assert_eq!(merchant.get(&format!("/payments/{id}")).await?.status, 200);
        assert_eq!(
            Session::new(api, "bob")
                .get(&format!("/payments/{id}"))
                .await?
                .status,
            404
        );
    }
    assert_eq!(refund(&merchant, &by_vendor, 500).await?.status, 201);
    let by_admin = Session::new(api, "admin");
    assert_eq!(
        refund(&by_admin, &by_id, 1).await?.status,
        403,
        "an admin refunds only the upstream merchant's payments"
    );
    let listed = by_admin
        .list_all(&format!("merchant={merchant_id}&account_id={account}"), 100)
        .await?;
    let mut listed = ids(&listed);
    listed.sort();
    let mut expected = vec![by_vendor.clone(), by_id.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    Ok(())
}

#[tokio::test]
async fn a_stream_payment_of_no_registered_merchant_is_the_upstream_merchants() -> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let api = &stack.api;
    let account = fresh_account().await?;
    let unknown_vendor = format!("Nobody {}", tag());
    let by_vendor = send_offline(&stack, account, &[("vendor", &unknown_vendor)]).await?;
    let no_vendor = send_offline(&stack, account, &[]).await?;
    let unknown_id = MerchantId::new();
    let by_unknown_id =
        send_offline(&stack, account, &[("merchant_id", unknown_id.as_str())]).await?;
    let sent = [by_vendor, no_vendor, by_unknown_id];
    for id in &sent {
        stored(api, id).await?;
        assert_eq!(
            owner(&stack, id).await?.as_deref(),
            Some(MerchantId::UPSTREAM)
        );
    }

    // No merchant sees them: not the demo merchants, not one registered afterwards under the
    // vendor's name.
    let (late, _) = support::add_merchant_user("late", &unknown_vendor, None).await?;
    for user in ["alice", "bob", late] {
        let session = Session::new(api, user);
        for id in &sent {
            assert_eq!(
                session.get(&format!("/payments/{id}")).await?.status,
                404,
                "{user}"
            );
        }
        assert_eq!(refund(&session, &sent[0], 1).await?.status, 404, "{user}");
    }

    // The admin lists and refunds them, acting for the upstream merchant.
    let admin = Session::new(api, "admin");
    let listed = admin
        .list_all(
            &format!("merchant={}&account_id={account}", MerchantId::UPSTREAM),
            100,
        )
        .await?;
    let mut listed = ids(&listed);
    listed.sort();
    let mut expected = sent.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    let refunded = refund(&admin, &sent[0], 2500).await?;
    assert_eq!(refunded.status, 201, "{}", refunded.text);
    assert_eq!(
        admin.get(&format!("/payments/{}", sent[0])).await?.body["status"],
        "refunded"
    );
    Ok(())
}

/// Moves the Idempotency-Key record of `key` (sort key `sk`) from the merchant's id to its
/// name: what the code before owner ids left for a request begun before the deploy (the same
/// digest and response; only the scope differs). `edit` changes the moved record.
async fn as_before_owner_ids(
    client: &aws_sdk_dynamodb::Client,
    id: &MerchantId,
    name: &str,
    key: &str,
    sk: &str,
    edit: impl FnOnce(&mut std::collections::HashMap<String, AttributeValue>),
) -> TestResult {
    let table = std::env::var("TRANSACTIONS_TABLE")?;
    let by_id = format!("IDEM#{}:{id}#{key}", id.as_str().len());
    let mut item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(by_id.clone()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .ok_or("no record under the id")?;
    client
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(by_id))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .send()
        .await?;
    let by_name = format!("IDEM#{}:{name}#{key}", name.len());
    item.insert("pk".to_owned(), AttributeValue::S(by_name));
    edit(&mut item);
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_retry_across_the_deploy_is_answered_from_the_record_kept_under_the_name() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let Some(client) = support::dynamodb().await else {
        return Ok(());
    };
    let name = format!("Legacy {}", tag());
    let (user, id) = support::add_merchant_user("legacy", &name, None).await?;
    let merchant = Session::new(&api, user);
    let account = fresh_account().await?;
    let body = card_body(account);
    let key = |what: &str| format!("{what}-{}", tag());
    let listed = |account: u64| {
        let merchant = &merchant;
        async move {
            merchant
                .list_all(&format!("account_id={account}"), 100)
                .await
                .map(|page| ids(&page))
        }
    };

    // A payment made before the deploy: its record is under the merchant's name.
    let done = key("done");
    let first = merchant.create_with_key(&body, &done).await?;
    assert_eq!(first.status, 201, "{}", first.text);
    as_before_owner_ids(&client, &id, &name, &done, "IDEM", |_| {}).await?;
    let retry = merchant.create_with_key(&body, &done).await?;
    assert_eq!((retry.status, &retry.text), (first.status, &first.text));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(
        listed(account).await?,
        vec![first.id()],
        "no second payment"
    );
    // The record now answers under the id too; another body is still refused.
    let again = merchant.create_with_key(&body, &done).await?;
    assert_eq!((again.status, &again.text), (first.status, &first.text));
    let other = support::payments::with(&body, &[("/amount", json!(999))]);
    let mismatch = merchant.create_with_key(&other, &done).await?;
    assert_eq!(mismatch.status, 422, "{}", mismatch.text);
    assert_eq!(mismatch.fields(), ["Idempotency-Key"]);

    // Still running under the old code: 409, and nothing is made.
    let running_account = fresh_account().await?;
    let running_body = card_body(running_account);
    let running = key("running");
    let made = merchant.create_with_key(&running_body, &running).await?;
    assert_eq!(made.status, 201, "{}", made.text);
    let until = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )? + 60_000;
    as_before_owner_ids(&client, &id, &name, &running, "IDEM", |item| {
        item.remove("response");
        item.insert(
            "locked_until".to_owned(),
            AttributeValue::N(until.to_string()),
        );
    })
    .await?;
    let in_flight = merchant.create_with_key(&running_body, &running).await?;
    assert_eq!(in_flight.status, 409, "{}", in_flight.text);
    assert_eq!(listed(running_account).await?, vec![made.id()]);

    // Failed on the old code's side (unlocked, no answer kept): continued under its id.
    let failed_account = fresh_account().await?;
    let failed_body = card_body(failed_account);
    let failed = key("failed");
    let made = merchant.create_with_key(&failed_body, &failed).await?;
    assert_eq!(made.status, 201, "{}", made.text);
    as_before_owner_ids(&client, &id, &name, &failed, "IDEM", |item| {
        item.remove("response");
        item.insert("locked_until".to_owned(), AttributeValue::N("0".to_owned()));
    })
    .await?;
    let resumed = merchant.create_with_key(&failed_body, &failed).await?;
    assert!(resumed.status < 300, "{}", resumed.text);
    assert_eq!(resumed.id(), made.id(), "the same payment, not a second");
    assert_eq!(listed(failed_account).await?, vec![made.id()]);

    // A refund made before the deploy, retried after it: one refund.
    let refund_key = key("refund");
    let refunds_path = format!("/payments/{}/refunds", first.id());
    let refund_with_key = || {
        merchant.request(Method::POST, &refunds_path, |r| {
            r.header("Idempotency-Key", refund_key.as_str())
                .json(&json!({"amount": 100}))
        })
    };
    let refunded = refund_with_key().await?;
    assert_eq!(refunded.status, 201, "{}", refunded.text);
    as_before_owner_ids(&client, &id, &name, &refund_key, "IDEM#refund", |_| {}).await?;
    let retried = refund_with_key().await?;
    assert_eq!(
        (retried.status, &retried.text),
        (refunded.status, &refunded.text)
    );
    let refunds = merchant.get(&refunds_path).await?;
    assert_eq!(
        refunds.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        refunds.text
    );
    Ok(())
}
