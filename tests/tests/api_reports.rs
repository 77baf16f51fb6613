//! The report routes through the local stack, as a client sees them: the API Gateway
//! emulation, the real function binaries under the Lambda Runtime API, the local DynamoDB.

mod support;

use payrail_shared::domain::{Clock, MS_PER_DAY, Payment, PaymentStatus, SystemClock, Timestamp};
use payrail_shared::store::PaymentItem;
use rand::Rng;
use support::api::{Api, Reply};
use support::{TestResult, payment, rng};

const DAYS: [i64; 3] = [1, 7, 30];

/// Payments spread over 40 days, none within 10 minutes of a tested window's lower edge, so
/// that the moment the function reads its clock cannot change the answer.
fn dataset(now: i64) -> Vec<Payment> {
    let mut rng = rng(11);
    let near_edge = |t: i64| {
        DAYS.iter()
            .any(|d| (t - (now - d * MS_PER_DAY)).abs() < 10 * 60_000)
    };
    let mut payments = Vec::new();
    while payments.len() < 600 {
        let t = now - 60_000 - rng.random_range(0..40 * MS_PER_DAY);
        if near_edge(t) {
            continue;
        }
        let status = if rng.random_range(0..10) == 0 {
            PaymentStatus::Pending
        } else {
            PaymentStatus::Succeeded
        };
        payments.push(payment(&mut rng, Timestamp::from_millis(t), status));
    }
    payments
}

/// Brute force over every payment item in the table, whoever wrote it.
async fn every_payment(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<Payment>, Box<dyn std::error::Error + Send + Sync>> {
    let mut all = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            // A payment's partition also holds its refunds (sk `REFUND#…`).
            if text("pk").is_some_and(|pk| pk.starts_with("PAY#"))
                && text("sk").is_some_and(|sk| sk == "PAYMENT")
            {
                all.push(serde_dynamo::from_item::<_, PaymentItem>(item.clone())?.payment);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(all);
        }
    }
}

fn expected(all: &[Payment], now: i64, days: i64, keep: impl Fn(&Payment) -> bool) -> Vec<String> {
    let mut hits: Vec<&Payment> = all
        .iter()
        .filter(|p| {
            p.status.is_completed() && p.created_at.millis() >= now - days * MS_PER_DAY && keep(p)
        })
        .collect();
    hits.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id.to_string())));
    hits.into_iter().map(|p| p.id.to_string()).collect()
}

async fn all_pages(
    api: &Api,
    query: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let Reply { status, body, .. } = api.get(&format!("/transactions?{query}{cursor}")).await?;
        assert_eq!(status, 200, "{query}: {body}");
        for t in body["data"].as_array().into_iter().flatten() {
            assert!(
                t["card"].is_null()
                    || t["card"]["masked"]
                        .as_str()
                        .is_some_and(|m| m.contains('*')),
                "{t}"
            );
            ids.push(t["id"].as_str().unwrap_or_default().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return Ok(ids),
        }
    }
}

#[tokio::test]
async fn the_report_routes_answer_as_brute_force_does() -> TestResult {
    let (Some(api), Some(client), Some(table)) = (
        Api::new(),
        support::dynamodb().await,
        support::service("TRANSACTIONS_TABLE"),
    ) else {
        return Ok(());
    };
    let now = SystemClock.now().millis();
    support::write_all(&client, &table, &dataset(now)).await?;
    let all = every_payment(&client, &table).await?;
    for days in DAYS {
        let want = expected(&all, now, days, |_| true);
        assert!(!want.is_empty());
        assert_eq!(
            all_pages(&api, &format!("days={days}&limit=100")).await?,
            want,
            "days={days}"
        );
        let visa = expected(&all, now, days, |p| p.card_type.as_str() == "visa");
        assert_eq!(
            all_pages(&api, &format!("days={days}&card_type=visa&limit=1000")).await?,
            visa
        );
        let gb_small = expected(&all, now, days, |p| {
            p.country.code() == "GB" && p.amount.get() <= 50_000
        });
        assert_eq!(
            all_pages(
                &api,
                &format!("days={days}&country=UK&max_amount=50000&limit=7")
            )
            .await?,
            gb_small
        );

        let Reply { status, body, .. } = api
            .get(&format!("/transactions/count?days={days}&card_type=visa"))
            .await?;
        assert_eq!(status, 200);
        assert_eq!(
            body["count"].as_u64(),
            Some(visa.len() as u64),
            "count days={days}"
        );
        assert_eq!(body["days"].as_i64(), Some(days));
    }
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_field() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let cases = [
        ("/transactions?days=0", 422, "days"),
        ("/transactions?days=-1", 422, "days"),
        ("/transactions?days=3651", 422, "days"),
        ("/transactions?days=abc", 422, "days"),
        ("/transactions", 422, "days"),
        ("/transactions?days=7&card_type=bitcoin", 422, "card_type"),
        ("/transactions?days=7&country=XX", 422, "country"),
        ("/transactions?days=7&country=gb", 422, "country"),
        (
            "/transactions?days=7&min_amount=500&max_amount=100",
            422,
            "min_amount",
        ),
        ("/transactions?days=7&min_amount=12.5", 422, "min_amount"),
        ("/transactions?days=7&max_amount=-3", 422, "max_amount"),
        ("/transactions?days=7&currency=XYZ", 422, "currency"),
        ("/transactions?days=7&limit=0", 422, "limit"),
        ("/transactions?days=7&limit=1001", 422, "limit"),
        (
            "/transactions?days=7&cursor=eyJ2IjoxLCJ0IjowfQAAAAAAAAAAAAAAAAAAAAA",
            400,
            "cursor",
        ),
        ("/transactions/count?days=7", 422, "card_type"),
        ("/transactions/count?days=0&card_type=visa", 422, "days"),
        (
            "/transactions/count?days=7&card_type=visa&country=ZZ",
            422,
            "country",
        ),
    ];
    for (path, status, field) in cases {
        let Reply {
            status: got,
            content_type,
            body,
            ..
        } = api.get(path).await?;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(content_type, "application/problem+json", "{path}");
        assert_eq!(body["status"].as_u64(), Some(u64::from(status)), "{path}");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{path}: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn serves_the_openapi_document_and_swagger_ui_offline() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let Reply {
        status, body: doc, ..
    } = api.get("/openapi.json").await?;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/transactions"]["get"].is_object());
    let Reply {
        status,
        content_type,
        body: page,
        ..
    } = api.get("/docs").await?;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    let page = page.as_str().unwrap_or_default();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page must load nothing from elsewhere"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui-standalone-preset.js",
    ] {
        let status = api.get(asset).await?.status;
        assert_eq!(status, 200, "{asset}");
    }
    Ok(())
}
