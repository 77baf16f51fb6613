//! The `Idempotency-Key` header at the edge, the same for every route that creates something
//! (POST /payments, POST /payments/{id}/refunds): parse the key, take it or answer from its
//! record (replay, 409 in flight, 422 other body), run the request under the reserved id, keep
//! its answer for replay. See `payments::idempotency` for the records themselves.

use super::problem::ApiError;
use crate::domain::{MerchantId, Timestamp};
use crate::payments::idempotency::{
    Begin, DynamoIdempotency, IdempotencyKey, RequestDigest, Reserved, Scope, StoredResponse,
};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use std::future::Future;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The request's Idempotency-Key, if it sent one; 422 naming the header when it is invalid.
pub fn key_of(request: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|raw| {
            raw.to_str()
                .map_err(|_| "must be printable ASCII")
                .and_then(IdempotencyKey::parse)
                .map_err(|e| ApiError::invalid(IDEMPOTENCY_KEY, e))
        })
        .transpose()
}

/// One idempotent request: what it is, and whose key.
pub struct Once<'a> {
    pub records: &'a DynamoIdempotency,
    pub scope: Scope,
    /// The merchant whose key it is (its id: keys are per merchant).
    pub merchant: &'a MerchantId,
    /// The merchant's name, whose records the code before owner ids kept: a fresh key under
    /// the id is looked up under it (`DynamoIdempotency::begin_as`).
    pub legacy_name: Option<&'a str>,
    pub key: &'a IdempotencyKey,
    pub digest: &'a RequestDigest,
    pub now: Timestamp,
}

impl Once<'_> {
    /// Runs `create` under the key's reservation unless the key's record answers instead. A
    /// failure on our side (500) unlocks the key, keeping the reservation, so that the client's
    /// retry runs again as the same creation; any other answer is kept for replay.
    pub async fn run<F, Fut>(self, create: F) -> Result<Response<Body>, ApiError>
    where
        F: FnOnce(Reserved) -> Fut,
        Fut: Future<Output = Result<Response<Body>, ApiError>>,
    {
        let Once {
            records,
            scope,
            merchant,
            legacy_name,
            key,
            digest,
            now,
        } = self;
        let begin = records
            .begin_as(scope, merchant, legacy_name, key, digest, now)
            .await?;
        let reserved = match begin {
            Begin::Run(reserved) => reserved,
            Begin::Replay(stored) => return Ok(replay(stored)),
            Begin::InFlight => {
                return Err(ApiError::Conflict(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                ));
            }
            Begin::Mismatch => {
                return Err(ApiError::invalid(
                    IDEMPOTENCY_KEY,
                    "was already used with a different request body",
                ));
            }
        };
        let response = match create(reserved).await {
            Ok(response) => response,
            Err(ApiError::Internal(cause)) => {
                if let Err(err) = records.release(scope, merchant, key).await {
                    tracing::error!(error = %err, "could not release an idempotency key");
                }
                return Err(ApiError::Internal(cause));
            }
            Err(err) => err.into_response(),
        };
        let stored = StoredResponse {
            status: response.status().as_u16(),
            body: body_text(&response),
            location: response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned),
        };
        if let Err(err) = records.complete(scope, merchant, key, &stored).await {
            // What was created exists; the key stays locked until it expires, then a retry
            // takes it over and gets the same resource back.
            tracing::error!(error = %err, "could not store an idempotent response");
        }
        Ok(response)
    }
}

fn body_text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

fn replay(stored: StoredResponse) -> Response<Body> {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    // A replayed creation points where the first answer did. Records kept before the header
    // was stored are payments': their Location is the payment's.
    let location = stored
        .location
        .clone()
        .or_else(|| {
            status
                .is_success()
                .then(|| serde_json::from_str::<serde_json::Value>(&stored.body).ok())
                .flatten()
                .and_then(|body| body["id"].as_str().map(|id| format!("/payments/{id}")))
        })
        .and_then(|path| HeaderValue::from_str(&path).ok());
    let mut response = Response::new(Body::Text(stored.body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    response
}
