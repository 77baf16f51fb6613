//! Bad input to POST /payments through the local stack: every field's bad values are a 422
//! problem naming exactly that field, a body that is not JSON a 400, a body not declared JSON a
//! 415, and nothing a client can send yields a 5xx (Session checks every answer for that, for
//! problem+json on every 4xx and for card data echoed back).

mod support;

use serde_json::{Value, json};
use support::TestResult;
use support::api::Api;
use support::payments::{Session, card_body, fresh_account, with};

const AMEX: &str = "378282246310005";

fn wallet_body(account: u64) -> Value {
    let mut body = with(
        &card_body(account),
        &[("/method", json!("wallet")), ("/card", Value::Null)],
    );
    body["wallet"] = json!({"provider": "paypal", "token": "tok_input_test"});
    body
}

/// (what, body, the fields its 422 names).
fn bad_bodies(account: u64) -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let card = card_body(account);
    let wallet = wallet_body(account);
    let set = |pointer: &str, value: Value| with(&card, &[(pointer, value)]);
    let drop = |pointer: &str| with(&card, &[(pointer, Value::Null)]);
    let set_wallet = |pointer: &str, value: Value| with(&wallet, &[(pointer, value)]);
    let mut explicit_null = card.clone();
    explicit_null["account_id"] = Value::Null;
    let mut both = card.clone();
    both["wallet"] = wallet["wallet"].clone();
    let mut wallet_and_card = wallet.clone();
    wallet_and_card["card"] = card["card"].clone();
    let extra = |key: &str, value: Value| {
        let mut body = card.clone();
        body[key] = value;
        body
    };
    vec![
        (
            "account_id 0",
            set("/account_id", json!(0)),
            vec!["account_id"],
        ),
        (
            "account_id negative",
            set("/account_id", json!(-1)),
            vec!["account_id"],
        ),
        (
            "account_id string",
            set("/account_id", json!("1")),
            vec!["account_id"],
        ),
        (
            "account_id float",
            set("/account_id", json!(1.5)),
            vec!["account_id"],
        ),
        (
            "account_id bool",
            set("/account_id", json!(true)),
            vec!["account_id"],
        ),
        (
            "account_id 2^63",
            set("/account_id", json!(9_223_372_036_854_775_808_u64)),
            vec!["account_id"],
        ),
        (
            "account_id missing",
            drop("/account_id"),
            vec!["account_id"],
        ),
        ("account_id null", explicit_null, vec!["account_id"]),
        ("amount 0", set("/amount", json!(0)), vec!["amount"]),
        (
            "amount negative",
            set("/amount", json!(-13370)),
            vec!["amount"],
        ),
        (
            "amount float",
            set("/amount", json!(133.70)),
            vec!["amount"],
        ),
        (
            "amount string",
            set("/amount", json!("13370")),
            vec!["amount"],
        ),
        (
            "amount 10^15",
            set("/amount", json!(1_000_000_000_000_000_u64)),
            vec!["amount"],
        ),
        (
            "amount u64::MAX",
            set("/amount", json!(u64::MAX)),
            vec!["amount"],
        ),
        ("amount missing", drop("/amount"), vec!["amount"]),
        (
            "currency lowercase",
            set("/currency", json!("gbp")),
            vec!["currency"],
        ),
        (
            "currency unknown",
            set("/currency", json!("XXX")),
            vec!["currency"],
        ),
        (
            "currency 4 letters",
            set("/currency", json!("GBPS")),
            vec!["currency"],
        ),
        (
            "currency empty",
            set("/currency", json!("")),
            vec!["currency"],
        ),
        (
            "currency numeric",
            set("/currency", json!(826)),
            vec!["currency"],
        ),
        ("currency missing", drop("/currency"), vec!["currency"]),
        (
            "payment_type unknown",
            set("/payment_type", json!("cash")),
            vec!["payment_type"],
        ),
        (
            "payment_type case",
            set("/payment_type", json!("Online")),
            vec!["payment_type"],
        ),
        (
            "payment_type missing",
            drop("/payment_type"),
            vec!["payment_type"],
        ),
        (
            "method unknown",
            set("/method", json!("cheque")),
            vec!["method"],
        ),
        ("method missing", drop("/method"), vec!["method"]),
        (
            "card.number Luhn",
            set("/card/number", json!("4111111111111112")),
            vec!["card.number"],
        ),
        (
            "card.number letters",
            set("/card/number", json!("4111abcd11111111")),
            vec!["card.number"],
        ),
        (
            "card.number short",
            set("/card/number", json!("4242")),
            vec!["card.number"],
        ),
        (
            "card.number empty",
            set("/card/number", json!("")),
            vec!["card.number"],
        ),
        (
            "card.number no brand",
            set("/card/number", json!("0000000000000000")),
            vec!["card.number"],
        ),
        (
            "card.number as a number",
            set("/card/number", json!(4_111_111_111_111_111_u64)),
            vec!["card.number"],
        ),
        (
            "card.number missing",
            drop("/card/number"),
            vec!["card.number"],
        ),
        (
            "card.exp_month 0",
            set("/card/exp_month", json!(0)),
            vec!["card.exp_month"],
        ),
        (
            "card.exp_month 13",
            set("/card/exp_month", json!(13)),
            vec!["card.exp_month"],
        ),
        (
            "card.exp_month string",
            set("/card/exp_month", json!("12")),
            vec!["card.exp_month"],
        ),
        (
            "card.exp_year past",
            set("/card/exp_year", json!(2020)),
            vec!["card.exp_year"],
        ),
        (
            "card.exp_year 1999",
            set("/card/exp_year", json!(1999)),
            vec!["card.exp_year"],
        ),
        (
            "card.exp_year 2101",
            set("/card/exp_year", json!(2101)),
            vec!["card.exp_year"],
        ),
        (
            "card.exp_year missing",
            drop("/card/exp_year"),
            vec!["card.exp_year"],
        ),
        (
            "card.cvc 2 digits",
            set("/card/cvc", json!("12")),
            vec!["card.cvc"],
        ),
        (
            "card.cvc 4 digits on visa",
            set("/card/cvc", json!("1234")),
            vec!["card.cvc"],
        ),
        (
            "card.cvc 3 digits on amex",
            with(
                &card,
                &[("/card/number", json!(AMEX)), ("/card/cvc", json!("737"))],
            ),
            vec!["card.cvc"],
        ),
        (
            "card.cvc letters",
            set("/card/cvc", json!("12a")),
            vec!["card.cvc"],
        ),
        (
            "card.cvc integer",
            set("/card/cvc", json!(123)),
            vec!["card.cvc"],
        ),
        (
            "card.cvc empty",
            set("/card/cvc", json!("")),
            vec!["card.cvc"],
        ),
        ("card.cvc missing", drop("/card/cvc"), vec!["card.cvc"]),
        (
            "card not an object",
            set("/card", json!("4111111111111111")),
            vec!["card"],
        ),
        (
            "card unknown field",
            set("/card/name", json!("A Smith")),
            vec!["card.name"],
        ),
        (
            "card empty",
            set("/card", json!({})),
            vec!["card.number", "card.exp_month", "card.exp_year", "card.cvc"],
        ),
        ("card missing", drop("/card"), vec!["card"]),
        ("card and wallet", both, vec!["wallet"]),
        ("wallet and card", wallet_and_card, vec!["card"]),
        (
            "wallet missing",
            with(&wallet, &[("/wallet", Value::Null)]),
            vec!["wallet"],
        ),
        (
            "wallet.provider unknown",
            set_wallet("/wallet/provider", json!("venmo")),
            vec!["wallet.provider"],
        ),
        (
            "wallet.provider case",
            set_wallet("/wallet/provider", json!("PayPal")),
            vec!["wallet.provider"],
        ),
        (
            "wallet.provider a card brand",
            set_wallet("/wallet/provider", json!("visa")),
            vec!["wallet.provider"],
        ),
        (
            "wallet.provider missing",
            set_wallet("/wallet/provider", Value::Null),
            vec!["wallet.provider"],
        ),
        (
            "wallet.token empty",
            set_wallet("/wallet/token", json!("")),
            vec!["wallet.token"],
        ),
        (
            "wallet.token too long",
            set_wallet("/wallet/token", json!("t".repeat(2049))),
            vec!["wallet.token"],
        ),
        (
            "wallet.token number",
            set_wallet("/wallet/token", json!(42)),
            vec!["wallet.token"],
        ),
        (
            "wallet.token missing",
            set_wallet("/wallet/token", Value::Null),
            vec!["wallet.token"],
        ),
        (
            "wallet unknown field",
            set_wallet("/wallet/email", json!("a@b.c")),
            vec!["wallet.email"],
        ),
        (
            "country unknown",
            set("/country", json!("XX")),
            vec!["country"],
        ),
        (
            "country lowercase",
            set("/country", json!("gb")),
            vec!["country"],
        ),
        (
            "country alpha-3",
            set("/country", json!("GBR")),
            vec!["country"],
        ),
        (
            "country full width",
            set("/country", json!("ＧＢ")),
            vec!["country"],
        ),
        ("country empty", set("/country", json!("")), vec!["country"]),
        ("country missing", drop("/country"), vec!["country"]),
        ("address empty", set("/address", json!("")), vec!["address"]),
        (
            "address too long",
            set("/address", json!("a".repeat(513))),
            vec!["address"],
        ),
        (
            "address control",
            set("/address", json!("1 Street\u{0}London")),
            vec!["address"],
        ),
        ("address number", set("/address", json!(1)), vec!["address"]),
        ("address missing", drop("/address"), vec!["address"]),
        ("vendor empty", set("/vendor", json!("")), vec!["vendor"]),
        (
            "vendor too long",
            set("/vendor", json!("v".repeat(129))),
            vec!["vendor"],
        ),
        ("vendor number", set("/vendor", json!(5)), vec!["vendor"]),
        (
            "vendor control",
            set("/vendor", json!("Shop\u{7}")),
            vec!["vendor"],
        ),
        (
            "vendor right-to-left override",
            set("/vendor", json!("\u{202e}pohS s'ecilA")),
            vec!["vendor"],
        ),
        (
            "process string",
            set("/process", json!("false")),
            vec!["process"],
        ),
        ("process number", set("/process", json!(0)), vec!["process"]),
        ("unknown field", extra("tip", json!(100)), vec!["tip"]),
        (
            "card_type from input",
            extra("card_type", json!("amex")),
            vec!["card_type"],
        ),
        (
            "merchant from input",
            extra("merchant", json!("Bob's Bikes")),
            vec!["merchant"],
        ),
        (
            "status from input",
            extra("status", json!("succeeded")),
            vec!["status"],
        ),
        (
            "id from input",
            extra("id", json!("6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40")),
            vec!["id"],
        ),
        (
            "created_at from input",
            extra("created_at", json!(0)),
            vec!["created_at"],
        ),
        ("body an array", json!([card]), vec!["body"]),
        ("body a string", json!("payment"), vec!["body"]),
        ("body null", Value::Null, vec!["body"]),
        ("body a number", json!(42), vec!["body"]),
    ]
}

#[tokio::test]
async fn every_bad_field_is_a_422_naming_it() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let table = bad_bodies(account);
    let mut failures = Vec::new();
    for (what, body, fields) in &table {
        let reply = alice.create(body).await?;
        let named = reply.fields();
        if reply.status != 422 || named != *fields {
            failures.push(format!(
                "{what}: {} {named:?}, wanted 422 {fields:?}",
                reply.status
            ));
            continue;
        }
        assert_eq!(reply.body["code"], "validation_failed", "{what}");
        assert!(
            reply.body["errors"].as_array().is_some_and(|e| e
                .iter()
                .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))),
            "{what}: every error says what is wrong"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
    // Every field at once is named at once, in one answer.
    let all_wrong = json!({
        "account_id": 0, "amount": -1, "currency": "gbp", "payment_type": "cash",
        "method": "credit_card",
        "card": {"number": "4111111111111112", "exp_month": 13, "exp_year": 2020, "cvc": "1"},
        "address": "", "country": "gb", "vendor": "", "process": "no", "card_type": "visa"
    });
    let reply = alice.create(&all_wrong).await?;
    assert_eq!(reply.status, 422);
    let mut named = reply.fields();
    named.sort();
    assert_eq!(
        named,
        [
            "account_id",
            "address",
            "amount",
            "card.cvc",
            "card.exp_month",
            "card.number",
            "card_type",
            "country",
            "currency",
            "payment_type",
            "process",
            "vendor"
        ]
    );
    assert!(
        alice
            .list_all(&format!("account_id={account}"), 100)
            .await?
            .is_empty(),
        "no bad request created a payment"
    );
    Ok(())
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_and_one_not_declared_json_a_415() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let valid = card_body(account).to_string();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let not_json: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", valid.as_bytes()[..valid.len() - 1].to_vec()),
        ("text", b"account_id=1&amount=100".to_vec()),
        ("trailing garbage", format!("{valid} x").into_bytes()),
        ("two objects", format!("{valid}{valid}").into_bytes()),
        ("nested 100 000 deep", deep.into_bytes()),
        ("not UTF-8", b"{\"vendor\": \"\xff\xfe\"}".to_vec()),
        ("a lone surrogate", br#"{"vendor": "\ud800"}"#.to_vec()),
        ("a number out of range", br#"{"amount": 1e400}"#.to_vec()),
        ("single quotes", b"{'amount': 1}".to_vec()),
    ];
    for (what, body) in not_json {
        let reply = alice.create_raw(body, Some("application/json")).await?;
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        assert_eq!(reply.body["code"], "malformed_request", "{what}");
        assert_eq!(reply.fields(), ["body"], "{what}");
    }

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        None,
    ] {
        let reply = alice.create_raw(valid.clone(), content_type).await?;
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.text);
        assert_eq!(reply.fields(), ["Content-Type"], "{content_type:?}");
    }
    let charset = alice
        .create_raw(valid.clone(), Some("application/json; charset=utf-8"))
        .await?;
    assert_eq!(charset.status, 201, "{}", charset.text);
    Ok(())
}

#[tokio::test]
async fn nothing_a_client_sends_yields_a_5xx() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let alice = Session::new(&api, "alice");
    let account = fresh_account().await?;
    let card = card_body(account);
    let set = |pointer: &str, value: Value| with(&card, &[(pointer, value)]);
    let nested = |depth: usize| {
        let mut value = json!("leaf");
        for _ in 0..depth {
            value = json!({ "a": value });
        }
        value
    };
    let raw_huge = |field: &str, literal: &str| {
        let mut text = card.to_string();
        let needle = format!("\"{field}\":");
        if let Some(at) = text.find(&needle) {
            let start = at + needle.len();
            let end = start + text[start..].find([',', '}']).unwrap_or(0);
            text.replace_range(start..end, literal);
        }
        text
    };
    let mut bodies: Vec<(&str, String)> = vec![
        ("amount 1e400", raw_huge("amount", "1e400")),
        ("amount -1e400", raw_huge("amount", "-1e400")),
        ("amount 1000 digits", raw_huge("amount", &"9".repeat(1000))),
        ("account_id 1e308", raw_huge("account_id", "1e308")),
        ("account_id 1e-400", raw_huge("account_id", "1e-400")),
        (
            "exp_year 10^30",
            raw_huge("exp_year", &format!("1{}", "0".repeat(30))),
        ),
        ("amount 0.0", raw_huge("amount", "0.0")),
        ("amount -0", raw_huge("amount", "-0")),
        ("empty object", "{}".to_owned()),
        ("empty body", String::new()),
        ("whitespace", " \n\t ".to_owned()),
        ("NUL", "\0".to_owned()),
    ];
    for (what, value) in [
        ("vendor nested 120", set("/vendor", nested(120))),
        ("unknown field nested 120", {
            let mut body = card.clone();
            body["a"] = nested(120);
            body
        }),
        ("vendor 1 MB", set("/vendor", json!("v".repeat(1 << 20)))),
        (
            "vendor full of emoji",
            set("/vendor", json!("💳".repeat(200))),
        ),
        (
            "address of zero-width joiners",
            set("/address", json!("\u{200d}".repeat(600))),
        ),
        (
            "card.number full-width digits",
            set("/card/number", json!("４１１１１１１１１１１１１１１１")),
        ),
        (
            "card.number with spaces",
            set("/card/number", json!("4111 1111 1111 111")),
        ),
        (
            "card.number 1000 digits",
            set("/card/number", json!("4".repeat(1000))),
        ),
        ("currency full-width", set("/currency", json!("ＧＢＰ"))),
        (
            "payment_type unicode",
            set("/payment_type", json!("ｏｆｆｌｉｎｅ")),
        ),
        ("field names in unicode", json!({"amöunt": 1, "🙂": true})),
        (
            "card.exp_month huge",
            set("/card/exp_month", json!(u64::MAX)),
        ),
        ("card an array", set("/card", json!([1, 2, 3]))),
        (
            "wallet on a card payment, nested",
            set("/wallet", nested(100)),
        ),
        ("a thousand unknown fields", {
            let mut body = card.clone();
            for i in 0..1000 {
                body[format!("f{i}")] = json!(i);
            }
            body
        }),
    ] {
        bodies.push((what, value.to_string()));
    }
    for (what, body) in bodies {
        let reply = alice.create_raw(body, Some("application/json")).await?;
        assert!(
            (400..500).contains(&reply.status),
            "{what}: {} {}",
            reply.status,
            reply.text.chars().take(300).collect::<String>()
        );
    }
    assert!(
        alice
            .list_all(&format!("account_id={account}"), 100)
            .await?
            .is_empty(),
        "none was taken as a payment"
    );

    // The read routes and process, with paths and queries no client should send.
    let long = "9".repeat(5000);
    for path in [
        "/payments/%00".to_owned(),
        format!("/payments/{long}"),
        "/payments/%F0%9F%92%B3".to_owned(),
        format!("/payments/{long}/process"),
        "/payments/..%2F..%2Fetc%2Fpasswd/process".to_owned(),
        "/payments?account_id=99999999999999999999999".to_owned(),
        "/payments?account_id=-1&limit=-1".to_owned(),
        "/payments?limit=1e3".to_owned(),
        format!("/payments?cursor={long}"),
        "/payments?cursor=%FF%FE".to_owned(),
        "/payments?status=%F0%9F%92%B3".to_owned(),
        "/payments?status=created&status=pending".to_owned(),
    ] {
        let method = if path.ends_with("/process") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let reply = alice.request(method, &path, |r| r).await?;
        assert!(
            (400..500).contains(&reply.status),
            "{path}: {} {}",
            reply.status,
            reply.text
        );
    }
    Ok(())
}
