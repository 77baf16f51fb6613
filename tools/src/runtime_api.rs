//! The Lambda Runtime API for one function process, as much of it as a runtime uses: `next`
//! (the queued invocations, one at a time; a `next` with nothing queued waits), an invocation's
//! `response` or `error`, and `init/error`. What `bench cold-start` and the tests that run a
//! function's binary as Lambda runs it (`AWS_LAMBDA_RUNTIME_API` pointing here) serve.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, mpsc, oneshot};

/// How a function answered an invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The body it posted: the response, or the error document.
    pub body: Bytes,
    /// Whether it posted to `/error` instead of `/response`.
    pub error: bool,
    /// When the answer arrived.
    pub at: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeApiError {
    #[error("the function failed its init: {0}")]
    Init(String),
    #[error("the Runtime API endpoint is gone")]
    Gone,
}

type Queued = (String, Bytes, oneshot::Sender<Answer>);

#[derive(Clone)]
struct Shared {
    function_arn: String,
    queued: Arc<tokio::sync::Mutex<mpsc::Receiver<Queued>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
    first_next: Arc<Mutex<Option<Instant>>>,
    init_error: Arc<Mutex<Option<String>>>,
    init_failed: Arc<Notify>,
}

/// A Runtime API endpoint on a free local port; dropping it stops serving.
pub struct RuntimeApi {
    address: SocketAddr,
    queue: mpsc::Sender<Queued>,
    shared: Shared,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RuntimeApi {
    /// Serves the Runtime API of a function whose ARN the invocations will carry.
    pub async fn serve(function_arn: impl Into<String>) -> std::io::Result<Self> {
        let (queue, queued) = mpsc::channel(16);
        let shared = Shared {
            function_arn: function_arn.into(),
            queued: Arc::new(tokio::sync::Mutex::new(queued)),
            waiting: Arc::default(),
            first_next: Arc::default(),
            init_error: Arc::default(),
            init_failed: Arc::default(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            address,
            queue,
            shared,
            server,
        })
    }

    /// The value for the function's `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// When the function first asked for an invocation: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        *lock(&self.shared.first_next)
    }

    /// Queues the event as invocation `id` and waits for the function's answer (or its init
    /// error). Bound the wait with a timeout: a function that died never answers.
    pub async fn invoke(&self, id: &str, event: Bytes) -> Result<Answer, RuntimeApiError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((id.to_owned(), event, answer))
            .await
            .map_err(|_| RuntimeApiError::Gone)?;
        let init_failed = self.shared.init_failed.notified();
        tokio::pin!(init_failed);
        // Registered before looking, so that an init error between the two is not missed.
        init_failed.as_mut().enable();
        let failed =
            || RuntimeApiError::Init(lock(&self.shared.init_error).clone().unwrap_or_default());
        if lock(&self.shared.init_error).is_some() {
            return Err(failed());
        }
        tokio::select! {
            answer = answered => answer.map_err(|_| RuntimeApiError::Gone),
            () = init_failed => Err(failed()),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn next(State(shared): State<Shared>) -> Response {
    lock(&shared.first_next).get_or_insert_with(Instant::now);
    let Some((id, event, answer)) = shared.queued.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    lock(&shared.waiting).insert(id.clone(), answer);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(60);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    set("lambda-runtime-invoked-function-arn", shared.function_arn);
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (headers, event).into_response()
}

fn answer(shared: &Shared, id: &str, body: Bytes, error: bool) -> StatusCode {
    let at = Instant::now();
    match lock(&shared.waiting).remove(id) {
        Some(waiting) => {
            let _ = waiting.send(Answer { body, error, at });
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, body, false)
}

async fn invocation_error(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, body, true)
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    shared.init_failed.notify_waiters();
    StatusCode::ACCEPTED
}
