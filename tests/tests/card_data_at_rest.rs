//! Card data at rest: payments through the local API with and without Idempotency-Key (cards
//! online and offline, wallets), then every item of every table and every message waiting in
//! every queue, read raw: no value equals or contains the card number or the wallet token, none
//! equals the CVC, and none equals or contains an unkeyed SHA-256, SHA-1 or MD5 (hex or base64)
//! of the number, the CVC, the token or the request body. Security review finding 1: the
//! idempotency records kept a SHA-256 of the whole body, from which ~10^8 guesses recover the
//! number and the CVC.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use md5::Md5;
use payrail_shared::domain::CardType;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::{Api, Error};

/// What a payment sent that must never be kept in any derivable form.
struct Sent {
    secrets: Vec<String>,
    cvcs: Vec<String>,
    bodies: Vec<String>,
}

/// Every unkeyed digest of `text` an attacker would try: SHA-256, SHA-1, MD5, hex and base64.
fn digests(text: &str) -> Vec<String> {
    fn forms(bytes: &[u8]) -> [String; 3] {
        [
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ]
    }
    let mut out = Vec::new();
    out.extend(forms(&Sha256::digest(text.as_bytes())));
    out.extend(forms(&Sha1::digest(text.as_bytes())));
    out.extend(forms(&Md5::digest(text.as_bytes())));
    out
}

/// Every string in an item, attribute names included, with where it was.
fn strings(value: &AttributeValue, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        AttributeValue::S(s) => out.push((path.to_owned(), s.clone())),
        // Numbers (amounts, counts, times) are read for digests and numbers, not CVCs: a
        // three-digit amount equal to a CVC is no leak.
        AttributeValue::N(n) => out.push((format!("{path} (number)"), n.clone())),
        AttributeValue::Ns(list) => {
            out.extend(list.iter().map(|s| (format!("{path} (number)"), s.clone())));
        }
        AttributeValue::Ss(list) => {
            out.extend(list.iter().map(|s| (path.to_owned(), s.clone())));
        }
        AttributeValue::B(blob) => out.push((
            path.to_owned(),
            String::from_utf8_lossy(blob.as_ref()).into_owned(),
        )),
        AttributeValue::M(map) => {
            for (k, v) in map {
                out.push((format!("{path}.{k} (name)"), k.clone()));
                strings(v, &format!("{path}.{k}"), out);
            }
        }
        AttributeValue::L(list) => {
            for (i, v) in list.iter().enumerate() {
                strings(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn check(sent: &Sent, source: &str, text: &str, leaks: &mut Vec<String>) {
    for secret in &sent.secrets {
        if text.contains(secret.as_str()) {
            leaks.push(format!("{source}: holds a card number or token in clear"));
        }
    }
    for cvc in &sent.cvcs {
        if text == cvc && !source.ends_with("(number)") {
            leaks.push(format!("{source}: is the CVC"));
        }
    }
    for plain in sent.secrets.iter().chain(&sent.cvcs).chain(&sent.bodies) {
        for digest in digests(plain) {
            if text.contains(&digest) {
                leaks.push(format!("{source}: holds an unkeyed digest of card data"));
            }
        }
    }
}

async fn authorization(api: &Api) -> Result<String, Error> {
    Ok(format!("Bearer {}", api.login("alice").await?))
}

/// A Luhn-valid Visa number no other test uses.
fn card_number(seed: u64) -> Result<String, Error> {
    let number =
        support::card_number(&mut support::rng(seed), CardType::Visa).ok_or("no visa number")?;
    Ok(number.expose().to_owned())
}

#[tokio::test]
async fn no_table_item_or_queue_message_holds_card_data_in_any_derivable_form() -> TestResult {
    let (Some(api), Some(dynamodb), Some(sqs_endpoint)) = (
        Api::new(),
        support::dynamodb().await,
        support::service("PAYRAIL_SQS_ENDPOINT"),
    ) else {
        return Ok(());
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut sent = Sent {
        secrets: Vec::new(),
        cvcs: Vec::new(),
        bodies: Vec::new(),
    };
    let mut online = Vec::new();
    for (i, (payment_type, wallet, key)) in [
        ("offline", false, false),
        ("offline", false, true),
        ("online", false, false),
        ("online", false, true),
        ("online", true, true),
        ("offline", true, false),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 9_100 + i as u64;
        let mut body = json!({
            "account_id": 7, "amount": 1200 + i, "currency": "GBP",
            "payment_type": payment_type,
            "address": "1 Test Street, London", "country": "GB",
        });
        if wallet {
            let token = format!("wtk_{run}{i}");
            body["method"] = json!("wallet");
            body["wallet"] = json!({"provider": "paypal", "token": token});
            sent.secrets.push(token);
        } else {
            let number = card_number(seed)?;
            let cvc = format!("{}", 700 + i);
            body["method"] = json!("credit_card");
            body["card"] = json!({"number": number, "exp_month": 12, "exp_year": 2035, "cvc": cvc});
            sent.secrets.push(number);
            sent.cvcs.push(cvc);
        }
        let text = body.to_string();
        sent.bodies.push(text.clone());
        let mut request = api
            .http
            .post(format!("{}/payments", api.base))
            .header("authorization", authorization(&api).await?)
            .header("content-type", "application/json")
            .body(text);
        if key {
            request = request.header("idempotency-key", format!("card-data-{run}-{i}"));
        }
        let reply = api.send_raw(request).await?;
        assert!(
            matches!(reply.status, 201 | 202),
            "{}: {:?}",
            reply.status,
            reply.body
        );
        let reply_text = reply.body.to_string();
        for secret in &sent.secrets {
            assert!(
                !reply_text.contains(secret.as_str()),
                "a response holds card data"
            );
        }
        if payment_type == "online" {
            online.push(reply.body["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    // The online ones through the validator, so that their final writes are read too.
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in &online {
        loop {
            let reply = api
                .get_with(
                    &format!("/payments/{id}"),
                    Some(&authorization(&api).await?),
                )
                .await?;
            if reply.body["status"] != "pending" {
                break;
            }
            assert!(Instant::now() < deadline, "payment {id} stayed pending");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    let mut leaks = Vec::new();
    let tables = dynamodb
        .list_tables()
        .send()
        .await?
        .table_names
        .unwrap_or_default();
    let mut items_read = 0;
    for table in &tables {
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                items_read += 1;
                let mut found = Vec::new();
                strings(&AttributeValue::M(item), table, &mut found);
                for (path, text) in found {
                    check(&sent, &path, &text, &mut leaks);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }

    let sdk = support::dynamodb_config()
        .await
        .ok_or("no SDK configuration")?;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(sqs_endpoint)
            .build(),
    );
    let queues = sqs
        .list_queues()
        .send()
        .await?
        .queue_urls
        .unwrap_or_default();
    let mut messages_read = 0;
    for queue in &queues {
        // Visibility 0: the messages stay where they are for the stack's consumers.
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await?;
        for message in received.messages.unwrap_or_default() {
            messages_read += 1;
            let source = format!("message in {queue}");
            check(
                &sent,
                &source,
                message.body().unwrap_or_default(),
                &mut leaks,
            );
        }
    }
    // Every message the event sources delivered during the run, as it was on the queue.
    if let Ok(path) = std::env::var("PAYRAIL_SQS_RECORD")
        && let Ok(record) = std::fs::read_to_string(&path)
    {
        for line in record.lines() {
            messages_read += 1;
            check(&sent, "a delivered message", line, &mut leaks);
        }
    }

    eprintln!(
        "card data at rest: {items_read} items in {} tables, {messages_read} messages read",
        tables.len()
    );
    assert!(items_read > 0 && messages_read > 0, "the scan read nothing");
    assert!(leaks.is_empty(), "{} leaks: {leaks:#?}", leaks.len());
    Ok(())
}

/// The scan itself: it finds what an old idempotency record held.
#[test]
fn the_check_finds_an_unkeyed_digest_of_the_body_a_number_and_a_cvc() {
    let body = json!({"card": {"number": "4111111111111111", "cvc": "123"}}).to_string();
    let sent = Sent {
        secrets: vec!["4111111111111111".to_owned()],
        cvcs: vec!["123".to_owned()],
        bodies: vec![body.clone()],
    };
    let json_body: Value = serde_json::from_str(&body).unwrap_or_default();
    let canonical = serde_json::to_vec(&json_body).unwrap_or_default();
    let legacy: String = Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut leaks = Vec::new();
    check(&sent, "digest", &legacy, &mut leaks);
    check(&sent, "cvc", "123", &mut leaks);
    check(&sent, "number", "card 4111111111111111", &mut leaks);
    check(&sent, "masked", "411111******1111", &mut leaks);
    assert_eq!(leaks.len(), 3, "{leaks:?}");
}
