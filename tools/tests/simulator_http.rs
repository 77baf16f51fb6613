//! The gateway and log service simulator over real TCP, as the validator will meet it.

use payrail_tools::simulator::{Behaviour, FailureKind, Simulator, router};
use serde_json::{Value, json};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn start(behaviour: Behaviour) -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = router(Simulator::new(behaviour));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn payment(id: &str) -> Value {
    json!({"payment_id": id, "account_id": 7, "payment_type": "online",
           "credit_card": "4111111111111111", "amount": 1250})
}

async fn post(url: &str, path: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .timeout(Duration::from_secs(5))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn charges_once_whatever_the_redeliveries_and_keeps_no_card_number() -> TestResult {
    let url = start(Behaviour::default()).await?;
    for _ in 0..3 {
        let (status, body) = post(&url, "/payment", &payment("p-1")).await?;
        assert_eq!((status, body["status"].as_str()), (200, Some("succeeded")));
    }
    let charges: Value = reqwest::get(format!("{url}/charges")).await?.json().await?;
    assert_eq!(charges.as_array().map(Vec::len), Some(1));
    assert_eq!(charges[0]["attempts"], 3);
    assert_eq!(charges[0]["duplicates"], 2);
    assert_eq!(charges[0]["last4"], "1111");
    assert!(!charges.to_string().contains("4111111111111111"));
    let (status, _) = post(&url, "/payment", &json!({"amount": 5})).await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test]
async fn declines_are_final_4xx_and_the_same_on_every_attempt() -> TestResult {
    let url = start(Behaviour {
        decline_rate: 1.0,
        ..Behaviour::default()
    })
    .await?;
    for _ in 0..2 {
        let (status, body) = post(&url, "/payment", &payment("p-2")).await?;
        assert_eq!((status, body["status"].as_str()), (402, Some("declined")));
    }
    Ok(())
}

#[tokio::test]
async fn each_transient_failure_kind_looks_as_it_should_to_a_client() -> TestResult {
    let only = |kind| Behaviour {
        failure_rate: 1.0,
        failures: vec![kind],
        hang_ms: 2_000,
        ..Behaviour::default()
    };
    let url = start(only(FailureKind::ServerError)).await?;
    assert_eq!(post(&url, "/payment", &payment("p-3")).await?.0, 503);
    let url = start(only(FailureKind::Throttle)).await?;
    assert_eq!(post(&url, "/payment", &payment("p-3")).await?.0, 429);

    let url = start(only(FailureKind::Reset)).await?;
    let reset = post(&url, "/payment", &payment("p-3")).await;
    assert!(
        reset.is_err(),
        "a reset connection gives no response: {reset:?}"
    );

    let url = start(only(FailureKind::Timeout)).await?;
    let timed_out = reqwest::Client::new()
        .post(format!("{url}/payment"))
        .timeout(Duration::from_millis(200))
        .json(&payment("p-3"))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));

    // None of these charged anything.
    let charges: Value = reqwest::get(format!("{url}/charges")).await?.json().await?;
    assert_eq!(charges[0]["outcome"], "pending");
    Ok(())
}

#[tokio::test]
async fn refunds_are_deduplicated_and_never_exceed_the_charge() -> TestResult {
    let url = start(Behaviour::default()).await?;
    post(&url, "/payment", &payment("p-4")).await?;
    let refund =
        |id: &str, amount: u64| json!({"payment_id": "p-4", "refund_id": id, "amount": amount});
    assert_eq!(post(&url, "/refund", &refund("r-1", 1000)).await?.0, 200);
    let (status, body) = post(&url, "/refund", &refund("r-1", 1000)).await?;
    assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(post(&url, "/refund", &refund("r-2", 251)).await?.0, 409);
    assert_eq!(post(&url, "/refund", &refund("r-3", 250)).await?.0, 200);
    let unknown = json!({"payment_id": "nope", "refund_id": "r-9", "amount": 1});
    assert_eq!(post(&url, "/refund", &unknown).await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn the_log_service_takes_both_field_names_and_can_be_down() -> TestResult {
    let url = start(Behaviour::default()).await?;
    let entry =
        json!({"payment_id": "p-5", "error_type": "network", "error_description": "gateway 503"});
    let upstream = json!({"payment_id": "p-6", "error": "other", "error_description": "declined"});
    assert_eq!(post(&url, "/log", &entry).await?.0, 204);
    assert_eq!(post(&url, "/log", &upstream).await?.0, 204);
    let logs: Value = reqwest::get(format!("{url}/logs")).await?.json().await?;
    assert_eq!(logs[0]["error_type"], "network");
    assert_eq!(logs[1]["error_type"], "other");

    let down = Behaviour {
        log_failure_rate: 1.0,
        ..Behaviour::default()
    };
    let response = reqwest::Client::new()
        .put(format!("{url}/behaviour"))
        .json(&down)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(post(&url, "/log", &entry).await?.0, 503);
    let logs: Value = reqwest::get(format!("{url}/logs")).await?.json().await?;
    assert_eq!(
        logs.as_array().map(Vec::len),
        Some(2),
        "a refused entry is not kept"
    );

    let bad = json!({"failure_rate": 2.0});
    let response = reqwest::Client::new()
        .put(format!("{url}/behaviour"))
        .json(&bad)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    Ok(())
}
