//! The gateway and log service simulator, in-process on a free TCP port, with one typed method
//! per thing a client test needs from it.

#![allow(dead_code, reason = "each test file uses part of the helper")]

pub mod sqs;

use payrail_tools::simulator::{Behaviour, Charge, FailureKind, LogEntry, Simulator, router};
use std::sync::Arc;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub struct Sim {
    pub url: String,
    state: Arc<Simulator>,
}

impl Sim {
    pub async fn start(behaviour: Behaviour) -> Result<Sim, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Simulator::new(behaviour);
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Sim { url, state })
    }

    /// Changes the behaviour over HTTP, as an operator or a fault test would.
    pub async fn set(&self, behaviour: &Behaviour) -> TestResult {
        let response = reqwest::Client::new()
            .put(format!("{}/behaviour", self.url))
            .json(behaviour)
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), 200);
        Ok(())
    }

    /// What the log service received, read over HTTP (`GET /logs`).
    pub async fn logs(&self) -> Result<Vec<serde_json::Value>, reqwest::Error> {
        reqwest::get(format!("{}/logs", self.url))
            .await?
            .json()
            .await
    }

    pub fn charges(&self) -> Vec<Charge> {
        self.state.charges()
    }

    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.state.logs()
    }
}

/// Every gateway call fails with `kind`; a timeout hangs for `hang_ms`.
pub fn always(kind: FailureKind, hang_ms: u64) -> Behaviour {
    Behaviour {
        failure_rate: 1.0,
        failures: vec![kind],
        hang_ms,
        ..Behaviour::default()
    }
}
