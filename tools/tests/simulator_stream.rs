//! The simulator's `/start` over TCP, emitting into real queues (moto, `PAYRAIL_SQS_ENDPOINT`):
//! as many messages as planned across the online and offline queues, with valid bodies.

mod support;

use std::time::Duration;

use payrail_shared::domain::CardNumber;
use payrail_tools::simulator::{Behaviour, Simulator, StreamTarget, router};
use serde_json::{Value, json};
use support::sqs::{TestResult, client, endpoint, eventually, fresh_prefix};

async fn serve(target: StreamTarget) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = router(Simulator::with_stream(Behaviour::default(), target));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_emits_the_planned_payments_into_the_online_and_offline_queues() -> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let sqs = client(&endpoint);
    let prefix = fresh_prefix("stream");
    let mut urls = Vec::new();
    for name in ["OnlineQueue", "OfflineQueue"] {
        let created = sqs
            .create_queue()
            .queue_name(format!("{prefix}{name}"))
            .send()
            .await?;
        urls.push(created.queue_url.unwrap_or_default());
    }
    let simulator = serve(StreamTarget {
        sqs: Some(sqs.clone()),
        online_queue_url: Some(urls[0].clone()),
        offline_queue_url: Some(urls[1].clone()),
    })
    .await?;
    let http = reqwest::Client::new();
    let before = now_millis();

    let started = http
        .post(format!("{simulator}/start"))
        .json(&json!({"count": 24, "duration_seconds": 1, "seed": 11}))
        .send()
        .await?;
    assert_eq!(started.status().as_u16(), 202);
    let planned: Value = started.json().await?;
    let (online, offline) = (
        planned["online"].as_u64().unwrap_or_default(),
        planned["offline"].as_u64().unwrap_or_default(),
    );
    assert_eq!(online + offline, 24, "{planned}");

    let again = http.post(format!("{simulator}/start")).send().await?;
    assert_eq!(again.status().as_u16(), 409, "one stream at a time");

    eventually(Duration::from_secs(20), "the stream to end", || {
        let (http, simulator) = (http.clone(), simulator.clone());
        async move {
            let status: Value = http
                .get(format!("{simulator}/start"))
                .send()
                .await?
                .json()
                .await?;
            Ok(status["running"] == false)
        }
    })
    .await?;
    let status: Value = http
        .get(format!("{simulator}/start"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(status["emitted_online"].as_u64(), Some(online), "{status}");
    assert_eq!(
        status["emitted_offline"].as_u64(),
        Some(offline),
        "{status}"
    );
    assert_eq!(status["failed"].as_u64(), Some(0), "{status}");

    for (url, payment_type, expected) in
        [(&urls[0], "online", online), (&urls[1], "offline", offline)]
    {
        let mut bodies: Vec<Value> = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await?;
            if received.messages().is_empty() {
                break;
            }
            for m in received.messages() {
                bodies.push(serde_json::from_str(m.body().unwrap_or_default())?);
            }
        }
        assert_eq!(bodies.len() as u64, expected, "{payment_type}");
        for body in bodies {
            assert_eq!(body["payment_type"], payment_type, "{body}");
            let id = uuid::Uuid::parse_str(body["payment_id"].as_str().unwrap_or_default())?;
            assert_eq!(id.get_version_num(), 4);
            assert!((1..=500).contains(&body["account_id"].as_u64().unwrap_or_default()));
            assert!(body["amount"].as_u64().is_some_and(|a| a > 0));
            let number = body["credit_card"].as_str().unwrap_or_default();
            let card = CardNumber::parse(number).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            assert_eq!(
                card.brand().as_str(),
                body["card_type"],
                "{}",
                body["card_type"]
            );
            for field in ["currency", "vendor", "address", "country"] {
                assert!(
                    body[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{field}"
                );
            }
            let created_at = body["created_at"].as_i64().unwrap_or_default();
            assert!(created_at >= before && created_at <= now_millis());
        }
    }
    Ok(())
}

#[tokio::test]
async fn start_without_queues_is_a_503_problem() -> TestResult {
    let simulator = serve(StreamTarget::default()).await?;
    let response = reqwest::Client::new()
        .post(format!("{simulator}/start"))
        .json(&json!({"count": 1}))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await?;
    assert_eq!(problem["status"], 503);
    Ok(())
}
