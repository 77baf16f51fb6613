//! Everything a check reads back from the stack once it has settled.

use super::Stack;
use crate::support::api::Error;
use crate::support::simulator::{Charge, LogLine};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub type Item = HashMap<String, AttributeValue>;

/// Every item of a table.
pub async fn scan(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = dynamodb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Every message a queue holds, read (and left there: they come back after a minute).
pub async fn read_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<Vec<String>, Error> {
    let mut bodies = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(bodies);
        }
        bodies.extend(messages.into_iter().filter_map(|m| m.body));
    }
}

/// An attribute value as JSON-like text for the scan (binary as lossy UTF-8, so that clear
/// text hidden in bytes is found too).
pub fn item_text(item: &Item) -> String {
    fn value(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => Value::String(s.clone()),
            AttributeValue::B(b) => Value::String(String::from_utf8_lossy(b.as_ref()).into()),
            AttributeValue::Bool(b) => Value::Bool(*b),
            AttributeValue::L(l) => Value::Array(l.iter().map(value).collect()),
            AttributeValue::M(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), value(v))).collect())
            }
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => {
                Value::Array(l.iter().cloned().map(Value::String).collect())
            }
            AttributeValue::Bs(l) => Value::Array(
                l.iter()
                    .map(|b| Value::String(String::from_utf8_lossy(b.as_ref()).into()))
                    .collect(),
            ),
            _ => Value::Null,
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect()).to_string()
}

pub fn attr_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn attr_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

/// One line of the SQS event sources' record.
pub struct Delivery {
    pub queue: String,
    pub receive_count: u64,
    pub body: String,
    pub payment_id: Option<String>,
}

pub fn deliveries(path: &Path) -> Result<Vec<Delivery>, Error> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)?;
            let body = v["body"].as_str().unwrap_or_default().to_owned();
            let payment_id = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|b| b["payment_id"].as_str().map(str::to_owned));
            Ok(Delivery {
                queue: v["queue"].as_str().unwrap_or_default().to_owned(),
                receive_count: v["receive_count"].as_u64().unwrap_or(0),
                body,
                payment_id,
            })
        })
        .collect()
}

/// `(payment_id, error_type)` of every "payment error" event the functions logged, and the
/// reports that could not be queued.
pub fn logged_errors(lambda_log: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut errors = Vec::new();
    let mut unqueued = Vec::new();
    for line in lambda_log.lines() {
        let Some(json) = line.find('{').map(|i| &line[i..]) else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        let fields = &event["fields"];
        match fields["message"].as_str() {
            Some("payment error") => errors.push((
                fields["payment_id"].as_str().unwrap_or_default().to_owned(),
                fields["error_type"].as_str().unwrap_or_default().to_owned(),
            )),
            Some("error report could not be queued for the log service") => {
                unqueued.push(fields["payment_id"].as_str().unwrap_or_default().to_owned());
            }
            _ => {}
        }
    }
    (errors, unqueued)
}

pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Everything read back from the stack once it settled.
pub struct Observed {
    pub items: Vec<Item>,
    pub accounts: Vec<Item>,
    pub charges: HashMap<String, Charge>,
    pub logs: Vec<LogLine>,
    pub online_dlq: Vec<String>,
    pub offline_dlq: Vec<String>,
    pub log_dlq: Vec<String>,
    pub deliveries: Vec<Delivery>,
    pub raw_logs: String,
    pub raw_charges: String,
}

pub async fn observe(stack: &Stack) -> Result<Observed, Error> {
    let sim = &stack.simulator;
    Ok(Observed {
        items: scan(&stack.dynamodb, &stack.transactions_table).await?,
        accounts: scan(&stack.dynamodb, &stack.accounts_table).await?,
        charges: sim
            .charges()
            .await?
            .into_iter()
            .map(|c| (c.payment_id.clone(), c))
            .collect(),
        logs: sim.logs().await?,
        online_dlq: read_queue(&stack.sqs, &stack.queues.online_dlq).await?,
        offline_dlq: read_queue(&stack.sqs, &stack.queues.offline_dlq).await?,
        log_dlq: read_queue(&stack.sqs, &stack.queues.log_dlq).await?,
        deliveries: deliveries(&stack.record)?,
        raw_logs: sim.text("/logs").await?,
        raw_charges: sim.text("/charges").await?,
    })
}

pub fn payment_ids_of(bodies: &[String]) -> HashSet<String> {
    bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter_map(|b| b["payment_id"].as_str().map(str::to_owned))
        .collect()
}
