//! DynamoDB's transaction conflicts, injected: neither the local DynamoDB nor a load test on it
//! reproduces a `TransactionConflict` cancellation, so the test's SDK configuration carries an
//! HTTP client that answers chosen TransactWriteItems calls itself, as DynamoDB does when
//! another transaction holds one of the items: 400 `TransactionCanceledException` with the
//! reason `TransactionConflict`, nothing written. Every other call goes to the emulator.
//! The fault lives in the test's client only; no production binary can carry it.

use aws_sdk_dynamodb::config::http::{HttpRequest, HttpResponse};
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError};

/// Which TransactWriteItems calls are cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// None: every call reaches the emulator.
    Pass,
    /// The next `n` calls.
    Next(u32),
    /// Every call (conflicts that outlast any retry).
    Always,
}

#[derive(Debug)]
struct State {
    plan: Plan,
    injected: u32,
    passed: u32,
}

/// The injector; clones share one plan and one count.
#[derive(Debug, Clone)]
pub struct Conflicts {
    state: Arc<Mutex<State>>,
    inner: SharedHttpClient,
}

impl Conflicts {
    /// Wraps the HTTP client `sdk` would use.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Conflicts {
            state: Arc::new(Mutex::new(State {
                plan: Plan::Pass,
                injected: 0,
                passed: 0,
            })),
            inner: sdk
                .http_client()
                .unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http()),
        }
    }

    /// A DynamoDB client configured as `sdk` says, whose transactions meet the plan.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .http_client(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    pub fn set(&self, plan: Plan) {
        self.lock().plan = plan;
    }

    /// Cancellations injected, and TransactWriteItems calls let through, since the last take.
    pub fn take(&self) -> (u32, u32) {
        let mut state = self.lock();
        let counts = (state.injected, state.passed);
        state.injected = 0;
        state.passed = 0;
        counts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this TransactWriteItems call is to be cancelled (and counts it).
    fn cancel_next(&self) -> bool {
        let mut state = self.lock();
        let cancel = match state.plan {
            Plan::Pass => false,
            Plan::Always => true,
            Plan::Next(0) => false,
            Plan::Next(n) => {
                state.plan = Plan::Next(n - 1);
                true
            }
        };
        if cancel {
            state.injected += 1;
        } else {
            state.passed += 1;
        }
        cancel
    }
}

impl HttpClient for Conflicts {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            conflicts: self.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct Connector {
    conflicts: Conflicts,
    inner: SharedHttpConnector,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".TransactWriteItems"));
        if is_transaction && self.conflicts.cancel_next() {
            let actions: Value = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            return HttpConnectorFuture::ready(Ok(cancelled(&actions)));
        }
        self.inner.call(request)
    }
}

/// DynamoDB's answer to a transaction that met another on one of its items: the conflict is
/// reported on the item most likely to be shared (a day counter, else an account, else the
/// last action), `None` on the others.
fn cancelled(request: &Value) -> HttpResponse {
    let actions = request["TransactItems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shared = |action: &Value| {
        let text = action.to_string();
        if text.contains("AGG#") {
            2
        } else if text.contains("account_id") && !text.contains("PAY#") {
            1
        } else {
            0
        }
    };
    let conflicting = actions
        .iter()
        .enumerate()
        .max_by_key(|(i, a)| (shared(a), *i))
        .map_or(0, |(i, _)| i);
    let reasons: Vec<Value> = (0..actions.len().max(1))
        .map(|i| {
            if i == conflicting {
                json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r["Code"].as_str().unwrap_or("None"))
        .collect();
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
        "CancellationReasons": reasons,
    });
    let mut response = HttpResponse::new(
        400u16
            .try_into()
            .unwrap_or_else(|_| unreachable!("400 is a status")),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}
