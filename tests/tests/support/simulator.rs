//! The gateway and log service simulator as tests drive it: its behaviour (changed for a test
//! and restored afterwards, even when the test fails), what it charged and what it logged.

use super::api::Error;
use serde::Deserialize;
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// Tests of one binary run in parallel threads; those that change the simulator's behaviour
/// take turns through this lock.
static BEHAVIOUR_LOCK: Mutex<()> = Mutex::const_new(());

/// What the gateway saw for one payment (GET /charges).
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub payment_id: String,
    pub amount: u64,
    pub last4: String,
    /// Calls that reached the gateway for this payment (transient failures, the deciding
    /// call, and duplicates).
    pub attempts: u32,
    /// `pending` (only transient failures so far), `succeeded` or `declined`.
    pub outcome: String,
    /// Calls after the decision, answered from the record (never charged again).
    pub duplicates: u32,
    #[serde(default)]
    pub refunded: u64,
}

impl Charge {
    /// Calls answered with a transient failure: every call that neither decided the payment
    /// nor was answered from the record.
    pub fn transient_failures(&self) -> u32 {
        let decided = u32::from(self.outcome != "pending");
        self.attempts.saturating_sub(decided + self.duplicates)
    }
}

/// One entry the log service received (GET /logs).
#[derive(Debug, Clone, Deserialize)]
pub struct LogLine {
    pub payment_id: String,
    pub error_type: String,
    pub error_description: String,
}

#[derive(Debug, Clone)]
pub struct Simulator {
    pub url: String,
    http: reqwest::Client,
}

impl Simulator {
    pub fn new(url: impl Into<String>) -> Self {
        Simulator {
            url: url.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    pub async fn behaviour(&self) -> Result<Value, Error> {
        let response = self
            .http
            .get(format!("{}/behaviour", self.url))
            .send()
            .await?;
        Ok(response.error_for_status()?.json().await?)
    }

    pub async fn put_behaviour(&self, behaviour: &Value) -> Result<(), Error> {
        let response = self
            .http
            .put(format!("{}/behaviour", self.url))
            .json(behaviour)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("PUT /behaviour: {status} {}", response.text().await?).into());
        }
        Ok(())
    }

    /// Changes the fields of `changes` in the current behaviour until the guard is restored
    /// or dropped; holds this binary's behaviour lock meanwhile.
    pub async fn with_behaviour(&self, changes: &Value) -> Result<BehaviourGuard, Error> {
        let lock = BEHAVIOUR_LOCK.lock().await;
        let original = self.behaviour().await?;
        let mut changed = original.clone();
        if let (Some(target), Some(fields)) = (changed.as_object_mut(), changes.as_object()) {
            for (key, value) in fields {
                target.insert(key.clone(), value.clone());
            }
        }
        self.put_behaviour(&changed).await?;
        Ok(BehaviourGuard {
            simulator: self.clone(),
            original,
            restored: false,
            _lock: lock,
        })
    }

    pub async fn charges(&self) -> Result<Vec<Charge>, Error> {
        let response = self
            .http
            .get(format!("{}/charges", self.url))
            .send()
            .await?;
        Ok(response.error_for_status()?.json().await?)
    }

    pub async fn logs(&self) -> Result<Vec<LogLine>, Error> {
        let response = self.http.get(format!("{}/logs", self.url)).send().await?;
        Ok(response.error_for_status()?.json().await?)
    }

    /// The raw text of GET `path`, for the card-data scan.
    pub async fn text(&self, path: &str) -> Result<String, Error> {
        let response = self.http.get(format!("{}{path}", self.url)).send().await?;
        Ok(response.error_for_status()?.text().await?)
    }
}

/// The simulator's behaviour as it was before a test changed it; put back by [`Self::restore`],
/// or by `Drop` when the test ends early (a panic, a `?`).
pub struct BehaviourGuard {
    simulator: Simulator,
    original: Value,
    restored: bool,
    _lock: MutexGuard<'static, ()>,
}

impl BehaviourGuard {
    /// The behaviour to go back to.
    pub fn original(&self) -> &Value {
        &self.original
    }

    /// Changes more fields (the original stays what is restored).
    pub async fn change(&self, changes: &Value) -> Result<(), Error> {
        let mut changed = self.simulator.behaviour().await?;
        if let (Some(target), Some(fields)) = (changed.as_object_mut(), changes.as_object()) {
            for (key, value) in fields {
                target.insert(key.clone(), value.clone());
            }
        }
        self.simulator.put_behaviour(&changed).await
    }

    pub async fn restore(mut self) -> Result<(), Error> {
        self.simulator.put_behaviour(&self.original).await?;
        self.restored = true;
        Ok(())
    }
}

impl Drop for BehaviourGuard {
    fn drop(&mut self) {
        if self.restored {
            return;
        }
        // No async in drop: a plain blocking HTTP/1.1 PUT, which works inside or outside a
        // runtime, panicking or not.
        if let Err(err) = put_blocking(&self.simulator.url, "/behaviour", &self.original) {
            eprintln!("could not restore the simulator's behaviour: {err}");
        }
    }
}

fn put_blocking(base: &str, path: &str, body: &Value) -> Result<(), Error> {
    let authority = base
        .strip_prefix("http://")
        .ok_or("the simulator URL is not http://")?
        .trim_end_matches('/');
    let body = serde_json::to_string(body)?;
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    match answer.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        other => Err(format!("PUT {path} answered {other:?}").into()),
    }
}
