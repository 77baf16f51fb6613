//! The log forwarder against the simulator's log service over real TCP: delivered entries
//! arrive, undelivered ones are reported for redelivery, and nothing is lost.

mod support;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use payrail_shared::domain::ids::PaymentId;
use payrail_shared::gateway::Timeouts;
use payrail_shared::logservice::{ErrorType, LogEntry, LogServiceClient, forward_batch};
use payrail_tools::simulator::Behaviour;
use std::collections::BTreeSet;
use support::{Sim, TestResult};

fn message(id: &str, body: Option<String>) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = body;
    message
}

fn batch(entries: &[LogEntry]) -> Result<SqsEvent, serde_json::Error> {
    let mut event = SqsEvent::default();
    for (i, entry) in entries.iter().enumerate() {
        event.records.push(message(
            &format!("m{i}"),
            Some(serde_json::to_string(entry)?),
        ));
    }
    Ok(event)
}

fn entries(count: usize) -> Vec<LogEntry> {
    let types = [ErrorType::Database, ErrorType::Network, ErrorType::Other];
    (0..count)
        .map(|i| {
            LogEntry::new(
                Some(PaymentId::new()),
                types[i % types.len()],
                &format!("error number {i}"),
            )
        })
        .collect()
}

fn failed(response: &SqsBatchResponse) -> BTreeSet<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn client(sim: &Sim) -> Result<LogServiceClient, Box<dyn std::error::Error>> {
    Ok(LogServiceClient::new(&sim.url, Timeouts::DEFAULT)?)
}

#[tokio::test]
async fn delivered_entries_reach_the_log_service_with_their_type() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let sent = entries(6);
    let response = forward_batch(&client(&sim)?, batch(&sent)?).await;
    assert!(response.batch_item_failures.is_empty());
    let logs = sim.logs().await?;
    assert_eq!(logs.len(), sent.len());
    for entry in &sent {
        let id = entry.payment_id().map(|id| id.to_string());
        let logged = logs
            .iter()
            .find(|l| l["payment_id"].as_str() == id.as_deref());
        assert_eq!(
            logged.map(|l| (l["error_type"].clone(), l["error_description"].clone())),
            Some((
                serde_json::json!(entry.error_type().as_str()),
                serde_json::json!(entry.error_description())
            ))
        );
    }
    Ok(())
}

#[tokio::test]
async fn with_the_log_service_down_every_entry_is_retried_and_none_is_lost() -> TestResult {
    let sim = Sim::start(Behaviour {
        log_failure_rate: 1.0,
        ..Behaviour::default()
    })
    .await?;
    let log = client(&sim)?;
    let sent = entries(5);
    let response = forward_batch(&log, batch(&sent)?).await;
    let all: BTreeSet<String> = (0..5).map(|i| format!("m{i}")).collect();
    assert_eq!(failed(&response), all);
    assert!(sim.logs().await?.is_empty());

    // The service comes back; SQS redelivers the same messages.
    sim.set(&Behaviour::default()).await?;
    let response = forward_batch(&log, batch(&sent)?).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sim.logs().await?.len(), 5);
    Ok(())
}

#[tokio::test]
async fn a_mixed_batch_reports_exactly_the_undelivered_entries() -> TestResult {
    let sim = Sim::start(Behaviour {
        log_failure_rate: 0.5,
        seed: 11,
        ..Behaviour::default()
    })
    .await?;
    let sent = entries(30);
    let response = forward_batch(&client(&sim)?, batch(&sent)?).await;
    let logged: BTreeSet<String> = sim
        .log_entries()
        .into_iter()
        .map(|l| l.payment_id)
        .collect();
    let undelivered: BTreeSet<String> = sent
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            let id = e.payment_id().map(|id| id.to_string()).unwrap_or_default();
            !logged.contains(&id)
        })
        .map(|(i, _)| format!("m{i}"))
        .collect();
    assert!(
        !undelivered.is_empty() && undelivered.len() < sent.len(),
        "{undelivered:?}"
    );
    assert_eq!(failed(&response), undelivered);
    Ok(())
}

#[tokio::test]
async fn an_unparseable_or_empty_message_is_reported_failed_not_dropped() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let mut event = batch(&entries(1))?;
    event
        .records
        .push(message("garbage", Some("{not json".to_owned())));
    event.records.push(message(
        "wrong-type",
        Some(r#"{"payment_id":null,"error_type":"4111111111111111"}"#.to_owned()),
    ));
    event.records.push(message("empty", None));
    let response = forward_batch(&client(&sim)?, event).await;
    let expected: BTreeSet<String> = ["garbage", "wrong-type", "empty"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(failed(&response), expected);
    assert_eq!(sim.logs().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_card_number_in_a_queued_entry_never_reaches_the_log_service() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    // A producer that bypassed LogEntry::new: the forwarder scrubs on the way in.
    let raw = r#"{"payment_id":null,"error_type":"other","error_description":"card 4111-1111-1111-1111 refused"}"#;
    let mut event = SqsEvent::default();
    event.records.push(message("m0", Some(raw.to_owned())));
    let response = forward_batch(&client(&sim)?, event).await;
    assert!(response.batch_item_failures.is_empty());
    let logs = sim.logs().await?;
    assert_eq!(
        logs.first().map(|l| l["error_description"].clone()),
        Some(serde_json::json!("card [redacted] refused"))
    );
    Ok(())
}
