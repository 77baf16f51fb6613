//! POST /payments, POST /payments/{id}/process, GET /payments/{id}, GET /payments.

use super::cursor::{self, CursorKey};
use super::idempotent::{Once, key_of};
use super::params::{Params, integer};
use super::problem::{ApiError, FieldError, Problem, json_response};
use super::transactions::TransactionView;
use crate::auth::{ActingFor, Identity, Role};
use crate::domain::{AccountId, MerchantId, PaymentId, PaymentStatus, RequestDigestKey};
use crate::payments::idempotency::{RequestDigest, Scope};
use crate::payments::service::visible;
use crate::payments::{CreatePayment, DynamoIdempotency, Outcome, Payments, SealCards};
use crate::queue::SendMessage;
use crate::store::payments::{DynamoPayments, ListScope, PaymentQuery};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

pub use super::idempotent::IDEMPOTENCY_KEY;

/// What POST /payments needs.
pub struct CreateEndpoint<Q, S> {
    pub payments: Payments<Q, S>,
    pub idempotency: DynamoIdempotency,
    /// Keys the request digests the idempotency records keep (from the card-data key).
    pub digest_key: RequestDigestKey,
}

fn merchant_of(caller: &Identity) -> Result<ActingFor<'_>, ApiError> {
    match caller.own_merchant() {
        Some(id) => Ok(ActingFor {
            id,
            name: caller.merchant.as_deref().unwrap_or_default(),
        }),
        None => Err(ApiError::Forbidden(
            "Only a merchant can do this; admins read.",
        )),
    }
}

fn outcome_response(outcome: &Outcome) -> Response<Body> {
    let status = if outcome.accepted {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    let mut response = json_response(status, &TransactionView::from(outcome.payment.clone()));
    if let Ok(location) = HeaderValue::from_str(&format!("/payments/{}", outcome.payment.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Creates a payment: offline → 201 `succeeded`; online → 202 `pending`, queued for the
/// gateway; `process: false` → 201 `created`. With `Idempotency-Key`, a repeat of the same
/// request gets the first response again (header `Idempotent-Replayed: true`).
#[utoipa::path(
    post,
    path = "/payments",
    tag = "payments",
    security(("bearer" = [])),
    request_body = crate::payments::request::CreatePaymentBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters, kept 24 h."),
    ),
    responses(
        (status = 201, description = "Stored: `succeeded` (offline) or `created` (`process: false`)", body = TransactionView),
        (status = 202, description = "Accepted: `pending`, queued for the gateway", body = TransactionView),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a merchant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named; or an Idempotency-Key used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error; safe to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn create_payment<Q: SendMessage, S: SealCards>(
    endpoint: &CreateEndpoint<Q, S>,
    request: Request,
) -> Response<Body> {
    match create(endpoint, &request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn create<Q: SendMessage, S: SealCards>(
    endpoint: &CreateEndpoint<Q, S>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = Identity::from_request(request)?;
    let merchant = merchant_of(&caller)?;
    super::body::require_json(request.headers())?;
    let now = endpoint.payments.clock.now();
    let parsed = CreatePayment::parse(request.body(), now)?;
    let Some(key) = key_of(request)? else {
        let outcome = endpoint
            .payments
            .create(merchant, parsed, PaymentId::new())
            .await?;
        return Ok(outcome_response(&outcome));
    };
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or_default();
    let fingerprint = parsed
        .instrument
        .card_number()
        .map(|number| number.fingerprint(&endpoint.payments.fingerprint_key));
    let digest = RequestDigest::of_payment(&body, fingerprint.as_deref(), &endpoint.digest_key);
    let once = Once {
        records: &endpoint.idempotency,
        scope: Scope::Payment,
        merchant: merchant.id,
        // Before owner ids a merchant's keys were scoped by its name.
        legacy_name: Some(merchant.name).filter(|name| !name.is_empty()),
        key: &key,
        digest: &digest,
        now,
    };
    once.run(|reserved| async move {
        let outcome = endpoint
            .payments
            .create(merchant, parsed, reserved.payment_id())
            .await?;
        Ok(outcome_response(&outcome))
    })
    .await
}

fn path_id(request: &Request) -> Result<PaymentId, ApiError> {
    let params = request.path_parameters();
    let raw = params.first("id").unwrap_or_default();
    PaymentId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

/// Processes a payment stored with `process: false`: offline → 200 `succeeded`; online → 202
/// `pending`, queued for the gateway. 409 from any status but `created`.
#[utoipa::path(
    post,
    path = "/payments/{id}/process",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The payment's id")),
    responses(
        (status = 200, description = "Processed: `succeeded`", body = TransactionView),
        (status = 202, description = "Accepted: `pending`, queued for the gateway", body = TransactionView),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a merchant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The payment is not in status created", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error; safe to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn process_payment<Q: SendMessage, S: SealCards>(
    payments: &Payments<Q, S>,
    request: Request,
) -> Response<Body> {
    let result = async {
        let caller = Identity::from_request(&request)?;
        merchant_of(&caller)?;
        let id = path_id(&request)?;
        payments.process(&caller, &id).await
    };
    match result.await {
        Ok(outcome) => {
            let mut response = outcome_response(&outcome);
            if !outcome.accepted {
                *response.status_mut() = StatusCode::OK;
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

/// One payment: a merchant's own, or any for an admin (another merchant's is 404).
#[utoipa::path(
    get,
    path = "/payments/{id}",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = TransactionView),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment (of yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn get_payment(store: &DynamoPayments, request: Request) -> Response<Body> {
    let result = async {
        let caller = Identity::from_request(&request)?;
        let id = path_id(&request)?;
        visible(store, &caller, &id).await
    };
    match result.await {
        Ok(stored) => json_response(StatusCode::OK, &TransactionView::from(stored.payment)),
        Err(err) => err.into_response(),
    }
}

/// Query of GET /payments.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentListQuery {
    pub status: Option<PaymentStatus>,
    /// Required for admins unless `merchant` is given.
    #[param(minimum = 1)]
    pub account_id: Option<u64>,
    /// Admins only: one merchant's payments, by its merchant id (`mer_…`; `mer_upstream` for
    /// the stream payments no registered merchant owns).
    #[param(value_type = Option<String>, example = "mer_upstream")]
    pub merchant: Option<MerchantId>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

const LIST_PARAMS: [&str; 5] = ["status", "account_id", "merchant", "limit", "cursor"];

fn status(raw: &str) -> Result<PaymentStatus, String> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        "must be one of created, pending, succeeded, declined, failed, partially_refunded, refunded"
            .to_owned()
    })
}

impl PaymentListQuery {
    pub fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut p = Params::new(pairs, &LIST_PARAMS);
        let status = p.optional("status", status);
        let account_id = p.optional("account_id", |raw| {
            integer(raw, 1, i64::MAX).map(i64::unsigned_abs)
        });
        let merchant = p.optional("merchant", MerchantId::parse);
        let limit = p.optional("limit", |raw| {
            integer(raw, 1, 1000).map(|l| l.unsigned_abs() as u16)
        });
        let cursor = p.raw("cursor").map(str::to_owned);
        p.finish(|| {
            Some(PaymentListQuery {
                status,
                account_id,
                merchant,
                limit,
                cursor,
            })
        })
    }

    fn canonical(&self, scope: &ListScope) -> String {
        format!("payments:{scope:?}:{:?}", self.status)
    }
}

/// A page of payments, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentPage {
    pub data: Vec<TransactionView>,
    /// More payments may follow: request the next page with `next_cursor`. With a `status`
    /// filter (or a merchant's `account_id`) a page may hold fewer than `limit` payments, even
    /// none, while `has_more` is true; only `has_more: false` ends the listing.
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Payments, newest first: a merchant's own (optionally of one account); for an admin, one
/// account's or one merchant's (admins read across merchants through the reports instead of a
/// table scan).
///
/// A filtered listing (`status`, or a merchant's `account_id`) reads at most 1000 payments per
/// request (or `limit` + 1 when that is more), matching or not. When that bound is reached
/// before the page is full, the page ends early, with `has_more: true` and a `next_cursor` that
/// resumes after the last payment read: such a page may hold fewer than `limit` payments, or
/// none. Keep following `next_cursor` until `has_more` is false; every match is returned
/// exactly once.
#[utoipa::path(
    get,
    path = "/payments",
    tag = "payments",
    security(("bearer" = [])),
    params(PaymentListQuery),
    responses(
        (status = 200, description = "A page of payments", body = PaymentPage),
        (status = 400, description = "A cursor this query did not issue", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters, each named", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn list_payments(
    store: &DynamoPayments,
    cursor_key: &CursorKey,
    request: Request,
) -> Response<Body> {
    let result = async {
        let caller = Identity::from_request(&request)?;
        let pairs: Vec<(String, String)> = request
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let query = PaymentListQuery::parse(pairs)?;
        let account = query.account_id.map(AccountId::new);
        let scope = match (caller.role, caller.own_merchant().cloned(), &query.merchant) {
            (Role::Merchant, _, Some(_)) => {
                return Err(ApiError::invalid("merchant", "is for admins only"));
            }
            (Role::Merchant, Some(merchant), None) => ListScope::Merchant {
                merchant,
                account_id: account,
            },
            (Role::Merchant, None, None) => return Err(ApiError::Forbidden("No merchant.")),
            (Role::Admin, _, Some(merchant)) => ListScope::Merchant {
                merchant: merchant.clone(),
                account_id: account,
            },
            (Role::Admin, _, None) => match account {
                Some(id) => ListScope::Account(id),
                None => {
                    return Err(ApiError::invalid(
                        "account_id",
                        "is required for admins unless merchant is given",
                    ));
                }
            },
        };
        let canonical = query.canonical(&scope);
        let after = match &query.cursor {
            Some(raw) => Some(
                cursor::decode(cursor_key, &canonical, raw)
                    .map_err(|e| ApiError::Malformed(FieldError::new("cursor", e)))?,
            ),
            None => None,
        };
        let page = PaymentQuery {
            scope,
            status: query.status,
            limit: query.limit.unwrap_or(100),
            after,
        };
        let (items, next) = store.list(&page).await?;
        let next_cursor = next.map(|p| cursor::encode(cursor_key, &canonical, &p));
        Ok(PaymentPage {
            has_more: next_cursor.is_some(),
            next_cursor,
            data: items.into_iter().map(TransactionView::from).collect(),
        })
    };
    match result.await {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(err) => err.into_response(),
    }
}
