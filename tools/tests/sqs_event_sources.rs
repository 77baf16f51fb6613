//! The SQS event-source emulation against the real moto server, with a fake Lambda invoke API
//! served over TCP that records each event and answers per message (the fixture template
//! tools/tests/fixtures/sqs-event-source.yaml maps WorkQueue to the `consumer` function):
//! bodies starting `fail` are reported as batch item failures, a body starting `crash` fails
//! the whole invocation, the rest succeed.
//!
//! ```text
//! .tools/venv/bin/moto_server -p 9324 &
//! PAYRAIL_SQS_ENDPOINT=http://127.0.0.1:9324 cargo test -p payrail-tools --test sqs_event_sources
//! ```

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use payrail_tools::local::queues::{QueueOutcome, create_queues, queues_from_template};
use payrail_tools::local::sqs::{self, DeliveryRecord, PollerContext, event_sources_from_template};
use payrail_tools::local::template::{Resolver, Template};
use support::sqs::{TestResult, client, depth, endpoint, eventually, fresh_prefix};
use tokio::time::Instant;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sqs-event-source.yaml"
);

/// One invocation the fake Lambda received.
#[derive(Debug, Clone)]
struct Invocation {
    at: Instant,
    /// Wall-clock time of the invocation, to compare with SQS's receive timestamps.
    at_unix_ms: u128,
    function: String,
    event: SqsEvent,
}

#[derive(Default)]
struct Recorder {
    invocations: Mutex<Vec<Invocation>>,
}

impl Recorder {
    fn all(&self) -> Vec<Invocation> {
        self.invocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// (body, ApproximateReceiveCount, time) of every record delivered, in order.
    fn deliveries(&self) -> Vec<(String, String, Instant)> {
        self.all()
            .iter()
            .flat_map(|i| {
                i.event.records.iter().map(move |r| {
                    (
                        r.body.clone().unwrap_or_default(),
                        r.attributes
                            .get("ApproximateReceiveCount")
                            .cloned()
                            .unwrap_or_default(),
                        i.at,
                    )
                })
            })
            .collect()
    }

    fn times_delivered(&self, body: &str) -> usize {
        self.deliveries()
            .iter()
            .filter(|(b, _, _)| b == body)
            .count()
    }
}

/// For a body delivered twice: its first receive (SQS's ApproximateFirstReceiveTimestamp, unix
/// ms) and the wall-clock time of its second invocation.
fn redelivery_times(invocations: &[Invocation], body: &str) -> (u128, u128) {
    let mut first_receive = 0;
    let mut redelivered = 0;
    for invocation in invocations {
        for record in &invocation.event.records {
            if record.body.as_deref() != Some(body) {
                continue;
            }
            match record
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str)
            {
                Some("1") => {
                    first_receive = record
                        .attributes
                        .get("ApproximateFirstReceiveTimestamp")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                }
                Some("2") => redelivered = invocation.at_unix_ms,
                _ => {}
            }
        }
    }
    (first_receive, redelivered)
}

async fn invoked(
    State(recorder): State<Arc<Recorder>>,
    Path(function): Path<String>,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let Ok(event) = serde_json::from_str::<SqsEvent>(&body) else {
        return (
            StatusCode::OK,
            [("x-amz-function-error", "Unhandled")],
            "not an SqsEvent".into(),
        );
    };
    let bodies: Vec<(String, String)> = event
        .records
        .iter()
        .map(|r| {
            (
                r.message_id.clone().unwrap_or_default(),
                r.body.clone().unwrap_or_default(),
            )
        })
        .collect();
    recorder
        .invocations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Invocation {
            at: Instant::now(),
            at_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            function,
            event,
        });
    if bodies.iter().any(|(_, b)| b.starts_with("crash")) {
        return (
            StatusCode::OK,
            [("x-amz-function-error", "Unhandled")],
            r#"{"errorType":"Crash","errorMessage":"boom"}"#.into(),
        );
    }
    let failures: Vec<serde_json::Value> = bodies
        .iter()
        .filter(|(_, b)| b.starts_with("fail"))
        .map(|(id, _)| serde_json::json!({ "itemIdentifier": id }))
        .collect();
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        serde_json::json!({ "batchItemFailures": failures }).to_string(),
    )
}

/// The fake invoke API on a free port: its URL and what it records.
async fn fake_lambda() -> anyhow::Result<(String, Arc<Recorder>)> {
    let recorder = Arc::new(Recorder::default());
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoked))
        .with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, recorder))
}

/// The fixture's queues under a fresh prefix, the emulation running against the fake Lambda.
struct Harness {
    client: Client,
    queue: QueueOutcome,
    dead_letter_queue: QueueOutcome,
    recorder: Arc<Recorder>,
    /// The emulation's own record of what it delivered (`--record`).
    record_path: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(endpoint: &str) -> anyhow::Result<Self> {
        let template = Template::load(FIXTURE)?;
        let client = client(endpoint);
        let prefix = fresh_prefix("es");
        let created = create_queues(&client, &queues_from_template(&template)?, &prefix).await?;
        let find = |id: &str| {
            created
                .iter()
                .find(|q| q.logical_id == id)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{id} was not created"))
        };
        let (queue, dead_letter_queue) = (find("WorkQueue")?, find("WorkDeadLetterQueue")?);
        let (lambda_url, recorder) = fake_lambda().await?;
        let record_path = std::env::temp_dir().join(format!("{prefix}deliveries.jsonl"));
        let context = PollerContext {
            sqs: client.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            lambda_url,
            prefix,
            record: Some(Arc::new(DeliveryRecord::open(&record_path)?)),
        };
        let sources = event_sources_from_template(&template)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(sqs::run(context, sources, 2, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            client,
            queue,
            dead_letter_queue,
            recorder,
            record_path,
            stop: Some(stop),
            running,
        })
    }

    async fn send(&self, body: &str) -> anyhow::Result<String> {
        let sent = self
            .client
            .send_message()
            .queue_url(&self.queue.url)
            .message_body(body)
            .message_attributes(
                "origin",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("test")
                    .build()?,
            )
            .send()
            .await?;
        Ok(sent.md5_of_message_body.unwrap_or_default())
    }

    /// Stops the emulation and awaits its graceful end.
    async fn stop(mut self) -> TestResult {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.running).await??;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successes_are_deleted_and_reported_failures_return_after_the_visibility_timeout_then_rest_in_the_dlq()
-> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let harness = Harness::start(&endpoint).await?;
    let oks: Vec<String> = (0..6).map(|i| format!("ok-{i}")).collect();
    let fails = ["fail-a", "fail-b"];
    for body in oks.iter().map(String::as_str).chain(fails) {
        harness.send(body).await?;
    }

    // maxReceiveCount 2: each failure is delivered twice, then moto moves it at the third receive.
    let (client, dlq) = (
        harness.client.clone(),
        harness.dead_letter_queue.url.clone(),
    );
    eventually(Duration::from_secs(30), "both failures in the DLQ", || {
        let (client, dlq) = (client.clone(), dlq.clone());
        async move { Ok(depth(&client, &dlq).await?.0 == 2) }
    })
    .await?;
    let recorder = harness.recorder.clone();
    let (main_queue, dlq_copy) = (harness.queue.url.clone(), harness.dead_letter_queue.clone());
    let record_path = harness.record_path.clone();
    harness.stop().await?;

    // The --record file lists every delivery the fake Lambda saw, with its receive count.
    let recorded: Vec<serde_json::Value> = std::fs::read_to_string(&record_path)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    std::fs::remove_file(&record_path)?;
    let mut recorded: Vec<(String, String, u64)> = recorded
        .iter()
        .map(|line| {
            (
                line["queue"].as_str().unwrap_or_default().to_owned(),
                line["body"].as_str().unwrap_or_default().to_owned(),
                line["receive_count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    recorded.sort();
    let mut delivered: Vec<(String, String, u64)> = recorder
        .deliveries()
        .into_iter()
        .map(|(body, count, _)| ("WorkQueue".to_owned(), body, count.parse().unwrap_or(0)))
        .collect();
    delivered.sort();
    assert_eq!(recorded, delivered);
    assert_eq!(recorded.len(), oks.len() + 2 * fails.len());

    for body in &oks {
        assert_eq!(
            recorder.times_delivered(body),
            1,
            "{body}: deleted after one delivery"
        );
    }
    let deliveries = recorder.deliveries();
    for body in fails {
        let times: Vec<(&str, Instant)> = deliveries
            .iter()
            .filter(|(b, _, _)| b == body)
            .map(|(_, count, at)| (count.as_str(), *at))
            .collect();
        assert_eq!(
            times.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            ["1", "2"],
            "{body}: delivered again, not deleted"
        );
        // The visibility timeout runs from the first receive, which the batching window (1 s)
        // may precede the first invocation by: the redelivery is compared with the receive.
        let (first_receive, redelivered) = redelivery_times(&recorder.all(), body);
        assert!(
            first_receive > 0 && redelivered > 0,
            "{body}: no receive timestamps"
        );
        assert!(
            redelivered >= first_receive + 1_900,
            "{body} came back {} ms after its first receive, before its 2 s visibility timeout",
            redelivered.saturating_sub(first_receive)
        );
    }
    assert_eq!(
        depth(&client, &main_queue).await?,
        (0, 0),
        "the queue is empty"
    );
    let rest = client
        .receive_message()
        .queue_url(&dlq_copy.url)
        .max_number_of_messages(10)
        .send()
        .await?;
    let mut in_dlq: Vec<String> = rest
        .messages()
        .iter()
        .filter_map(|m| m.body.clone())
        .collect();
    in_dlq.sort();
    assert_eq!(in_dlq, fails);
    for invocation in recorder.all() {
        assert_eq!(invocation.function, "consumer");
        assert!(
            (1..=4).contains(&invocation.event.records.len()),
            "BatchSize 4"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invocation_deletes_nothing_and_its_whole_batch_comes_back() -> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let harness = Harness::start(&endpoint).await?;
    harness.send("crash-1").await?;
    let recorder = harness.recorder.clone();
    eventually(Duration::from_secs(20), "the crash delivered twice", || {
        let recorder = recorder.clone();
        async move { Ok(recorder.times_delivered("crash-1") >= 2) }
    })
    .await?;
    let (client, dlq) = (
        harness.client.clone(),
        harness.dead_letter_queue.url.clone(),
    );
    eventually(Duration::from_secs(20), "the crash in the DLQ", || {
        let (client, dlq) = (client.clone(), dlq.clone());
        async move { Ok(depth(&client, &dlq).await?.0 == 1) }
    })
    .await?;
    harness.stop().await?;
    assert_eq!(recorder.times_delivered("crash-1"), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_hold_at_most_batch_size_and_a_lone_message_waits_for_the_window() -> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let harness = Harness::start(&endpoint).await?;
    let sent = Instant::now();
    let md5 = harness.send("ok-alone").await?;
    let recorder = harness.recorder.clone();
    eventually(Duration::from_secs(20), "the lone message", || {
        let recorder = recorder.clone();
        async move { Ok(recorder.times_delivered("ok-alone") == 1) }
    })
    .await?;
    let first = recorder.all().remove(0);
    let waited = first.at - sent;
    assert!(
        waited >= Duration::from_millis(900),
        "a lone message is delivered when the 1 s window ends, not after {waited:?}"
    );

    // The record as Lambda sends it.
    let queue_arn = harness.queue.arn.clone();
    let record = &first.event.records[0];
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    assert_eq!(record.event_source_arn.as_deref(), Some(queue_arn.as_str()));
    assert_eq!(record.aws_region.as_deref(), Some(support::sqs::REGION));
    assert_eq!(record.md5_of_body.as_deref(), Some(md5.as_str()));
    assert!(
        record
            .receipt_handle
            .as_deref()
            .is_some_and(|h| !h.is_empty())
    );
    assert!(record.message_id.as_deref().is_some_and(|h| !h.is_empty()));
    for key in [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "ApproximateFirstReceiveTimestamp",
        "SenderId",
    ] {
        assert!(record.attributes.contains_key(key), "{key}: {record:?}");
    }
    let origin = record.message_attributes.get("origin");
    assert_eq!(origin.and_then(|a| a.string_value.as_deref()), Some("test"));
    assert_eq!(origin.and_then(|a| a.data_type.as_deref()), Some("String"));

    for i in 0..10 {
        harness.send(&format!("ok-many-{i}")).await?;
    }
    eventually(Duration::from_secs(20), "ten more messages", || {
        let recorder = recorder.clone();
        async move { Ok(recorder.deliveries().len() == 11) }
    })
    .await?;
    let (client, queue) = (harness.client.clone(), harness.queue.url.clone());
    eventually(Duration::from_secs(10), "an empty queue", || {
        let (client, queue) = (client.clone(), queue.clone());
        async move { Ok(depth(&client, &queue).await? == (0, 0)) }
    })
    .await?;
    harness.stop().await?;
    let sizes: Vec<usize> = recorder
        .all()
        .iter()
        .map(|i| i.event.records.len())
        .collect();
    assert!(sizes.iter().all(|n| (1..=4).contains(n)), "{sizes:?}");
    assert!(
        sizes.len() >= 4,
        "the lone message, then ten in at least three batches of 4: {sizes:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sqs_or_lambda_is_retried_and_a_stop_still_ends_the_pollers() -> TestResult {
    let template = Template::load(FIXTURE)?;
    let context = PollerContext {
        sqs: client("http://127.0.0.1:9"),
        http: reqwest::Client::new(),
        lambda_url: "http://127.0.0.1:9".into(),
        prefix: fresh_prefix("down"),
        record: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(sqs::run(
        context,
        event_sources_from_template(&template)?,
        2,
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!running.is_finished(), "the pollers keep trying");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), running).await??;
    Ok(())
}

#[tokio::test]
async fn queues_created_from_the_template_have_the_urls_and_arns_the_environment_resolves()
-> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))?;
    let client = client(&endpoint);
    let prefix = fresh_prefix("tpl");
    let queues = queues_from_template(&template)?;
    let created = create_queues(&client, &queues, &prefix).await?;
    assert!(created.iter().all(|q| q.created));
    assert_eq!(created.len(), 6);

    let resolver =
        Resolver::new(&template, &prefix, support::sqs::REGION).with_sqs_endpoint(Some(endpoint));
    for queue in &created {
        let local = resolver
            .local_queue(&queue.logical_id)
            .ok_or_else(|| anyhow::anyhow!("{} is not a queue", queue.logical_id))?;
        assert_eq!(local.url.as_deref(), Some(queue.url.as_str()));
        assert_eq!(local.arn, queue.arn);
        assert_eq!(local.name, queue.queue_name);
    }

    let online = created
        .iter()
        .find(|q| q.logical_id == "OnlineQueue")
        .ok_or_else(|| anyhow::anyhow!("OnlineQueue"))?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&online.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await?;
    let attributes: HashMap<String, String> = attributes
        .attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    assert_eq!(
        attributes.get("VisibilityTimeout").map(String::as_str),
        Some("180")
    );
    let policy: serde_json::Value = serde_json::from_str(
        attributes
            .get("RedrivePolicy")
            .ok_or_else(|| anyhow::anyhow!("no RedrivePolicy: {attributes:?}"))?,
    )?;
    let dlq_arn = resolver
        .local_queue("OnlineDeadLetterQueue")
        .map(|q| q.arn)
        .unwrap_or_default();
    assert_eq!(policy["deadLetterTargetArn"], dlq_arn.as_str());
    assert_eq!(policy["maxReceiveCount"].as_i64(), Some(5));

    let again = create_queues(&client, &queues, &prefix).await?;
    assert!(
        again.iter().all(|q| !q.created),
        "existing queues are left alone"
    );
    Ok(())
}
