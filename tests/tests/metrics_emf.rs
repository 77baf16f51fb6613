//! The business metrics leave the functions as CloudWatch Embedded Metric Format lines on
//! stdout, through the real path: each function's binary, started here as Lambda starts it
//! (`AWS_LAMBDA_RUNTIME_API` pointing at the Runtime API of `payrail_tools::runtime_api`),
//! invoked with its `events/` sample, its stdout read whole. Every invocation's request id is ours, so each EMF
//! line is matched to the invocation that flushed it.

mod support;

use serde_json::{Value, json};
use std::collections::HashMap;
use support::TestResult;
use support::function::Function;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stage the functions run as here: every metric line must carry it.
const STAGE: &str = "metrics-test";
/// The sample card of events/payments-create.json; no output line may hold it.
const CARD: &str = "4111111111111111";

fn emf_documents(output: &str) -> Result<Vec<Value>, Error> {
    let mut documents = Vec::new();
    for line in output.lines().filter(|line| line.contains("\"_aws\"")) {
        let document: Value = serde_json::from_str(line)?;
        let directives = document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .ok_or_else(|| format!("no CloudWatchMetrics: {line}"))?;
        assert!(document["_aws"]["Timestamp"].is_u64(), "{line}");
        for directive in directives {
            assert_eq!(directive["Namespace"], "payrail", "{line}");
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                for name in set.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    assert!(document[name].is_string(), "dimension {name} unset: {line}");
                }
            }
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let name = metric["Name"].as_str().unwrap_or_default();
                assert!(
                    document[name].is_number() || document[name].is_array(),
                    "metric {name} has no value: {line}"
                );
            }
        }
        assert_eq!(document["Stage"], STAGE, "{line}");
        documents.push(document);
    }
    Ok(documents)
}

/// The documents flushed by invocation `id` that carry `metric`.
fn flushed<'a>(documents: &'a [Value], id: &str, metric: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| d["RequestId"] == id && !d[metric].is_null())
        .collect()
}

fn dimensions(document: &Value) -> Value {
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()
}

fn unit(document: &Value, metric: &str) -> Value {
    document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .and_then(|metrics| metrics.iter().find(|m| m["Name"] == metric))
        .map(|m| m["Unit"].clone())
        .unwrap_or(Value::Null)
}

fn event(file: &str) -> Result<Value, Error> {
    let path = support::repo_root().join("events").join(file);
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// events/payments-create.json with its own idempotency key and, if `online`, as an online
/// payment.
fn create_event(key: &str, online: bool) -> Result<Value, Error> {
    let mut event = event("payments-create.json")?;
    event["headers"]["idempotency-key"] = json!(key);
    if online {
        let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap_or_default())?;
        body["payment_type"] = json!("online");
        event["body"] = json!(body.to_string());
    }
    Ok(event)
}

#[tokio::test]
async fn payments_create_emits_its_cold_start_and_each_status_it_reaches_once() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    let function = Function::start(STAGE, "payments-create", &[]).await?;
    let key = format!("metrics-{}", uuid::Uuid::new_v4());
    let (offline, replay, online) = ("req-offline", "req-replay", "req-online");

    let created = function.invoke(offline, create_event(&key, false)?).await?;
    let replayed = function.invoke(replay, create_event(&key, false)?).await?;
    let online_key = format!("metrics-{}", uuid::Uuid::new_v4());
    let pending = function
        .invoke(online, create_event(&online_key, true)?)
        .await?;
    let output = function.stop().await?;

    assert_eq!(created["statusCode"], 201, "{created}");
    assert_eq!(replayed["statusCode"], 201, "{replayed}");
    assert_eq!(
        replayed["body"], created["body"],
        "the replay answers the first response"
    );
    assert_eq!(pending["statusCode"], 202, "{pending}");
    assert!(!output.contains(CARD), "a card number reached stdout");
    let documents = emf_documents(&output)?;

    // One cold start, flushed with the first invocation, per function.
    let cold: Vec<_> = documents
        .iter()
        .filter(|d| !d["ColdStart"].is_null())
        .collect();
    assert_eq!(cold.len(), 1, "{documents:#?}");
    assert_eq!(cold[0]["ColdStart"], 1);
    assert_eq!(cold[0]["Function"], "payments-create");
    assert_eq!(cold[0]["RequestId"], offline);
    assert_eq!(dimensions(cold[0]), json!([["Stage", "Function"]]));
    assert_eq!(unit(cold[0], "ColdStart"), "Count");

    // The offline payment reached `succeeded`; the replay wrote nothing, so counted nothing.
    let succeeded = flushed(&documents, offline, "Payments");
    assert_eq!(succeeded.len(), 1, "{documents:#?}");
    assert_eq!(succeeded[0]["Payments"], 1);
    assert_eq!(succeeded[0]["Status"], "succeeded");
    assert_eq!(dimensions(succeeded[0]), json!([["Stage", "Status"]]));
    assert_eq!(unit(succeeded[0], "Payments"), "Count");
    assert!(
        flushed(&documents, replay, "Payments").is_empty(),
        "a replayed request counted a payment: {documents:#?}"
    );

    // The online payment reached `pending` (its charge is the validator's).
    let queued = flushed(&documents, online, "Payments");
    assert_eq!(queued.len(), 1, "{documents:#?}");
    assert_eq!(
        (&queued[0]["Status"], &queued[0]["Payments"]),
        (&json!("pending"), &json!(1))
    );
    Ok(())
}

#[tokio::test]
async fn the_validator_emits_the_gateway_call_and_the_statuses_it_wrote() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    // The sample upstream message under a new payment id: a payment never seen before.
    let mut batch = event("validator.json")?;
    let mut body: Value =
        serde_json::from_str(batch["Records"][0]["body"].as_str().unwrap_or_default())?;
    body["payment_id"] = json!(uuid::Uuid::new_v4().to_string());
    batch["Records"][0]["body"] = json!(body.to_string());
    let upstream_card = body["credit_card"].as_str().unwrap_or_default().to_owned();

    let function = Function::start(STAGE, "validator", &[]).await?;
    let answer = function.invoke("req-batch", batch).await?;
    let output = function.stop().await?;
    assert!(
        !output.contains(&upstream_card),
        "a card number reached stdout"
    );
    let documents = emf_documents(&output)?;

    let calls = flushed(&documents, "req-batch", "GatewayCalls");
    assert_eq!(calls.len(), 1, "{documents:#?}");
    assert_eq!(calls[0]["GatewayCalls"], 1);
    assert_eq!(calls[0]["Operation"], "charge");
    assert_eq!(
        dimensions(calls[0]),
        json!([["Stage", "Operation", "Outcome"]])
    );
    let latency = flushed(&documents, "req-batch", "GatewayLatency");
    assert_eq!(latency.len(), 1, "{documents:#?}");
    assert_eq!(unit(latency[0], "GatewayLatency"), "Milliseconds");
    assert_eq!(dimensions(latency[0]), json!([["Stage", "Operation"]]));
    let samples = latency[0]["GatewayLatency"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(samples.len(), 1, "one sample per call: {}", latency[0]);
    assert!(samples[0].as_f64().is_some_and(|ms| ms >= 0.0));

    // Stored `pending` from the upstream message, then final as the gateway said (the
    // simulator's failure rate is whatever the last test set: every outcome is checked).
    let statuses: HashMap<String, Value> = flushed(&documents, "req-batch", "Payments")
        .iter()
        .map(|d| {
            (
                d["Status"].as_str().unwrap_or_default().to_owned(),
                d["Payments"].clone(),
            )
        })
        .collect();
    let retried = answer["batchItemFailures"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    let expected: HashMap<String, Value> = match calls[0]["Outcome"].as_str() {
        Some("approved") => [("pending", 1), ("succeeded", 1)].as_slice(),
        Some("declined") => [("pending", 1), ("declined", 1)].as_slice(),
        // Transient, first delivery: stays pending, the message goes back to the queue.
        Some(_) => {
            assert!(retried, "a transient failure must be retried: {answer}");
            [("pending", 1)].as_slice()
        }
        None => return Err(format!("no Outcome: {}", calls[0]).into()),
    }
    .iter()
    .map(|(status, n)| ((*status).to_owned(), json!(n)))
    .collect();
    assert_eq!(statuses, expected, "{documents:#?}");
    Ok(())
}
