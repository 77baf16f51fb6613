//! POST /payments/{id}/refunds and GET /payments/{id}/refunds.

use super::cursor::{self, CursorKey};
use super::idempotent::{Once, key_of};
use super::params::{Params, integer};
use super::problem::{ApiError, FieldError, Problem, json_response};
use super::transactions::FailureView;
use crate::auth::Identity;
use crate::domain::{MerchantId, PaymentId};
use crate::payments::DynamoIdempotency;
use crate::payments::idempotency::{RequestDigest, Scope};
use crate::queue::SendDelayed;
use crate::refunds::service::visible;
use crate::refunds::service::{Created, NewRefund};
use crate::refunds::{CreateRefund, DynamoRefunds, Refund, RefundId, RefundStatus, Refunds};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// A refund as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    #[schema(value_type = String, format = "uuid")]
    pub id: String,
    #[schema(value_type = String, format = "uuid")]
    pub payment_id: String,
    /// Minor units of `currency`.
    pub amount: u64,
    /// The payment's currency.
    #[schema(example = "GBP")]
    pub currency: String,
    pub reason: Option<String>,
    pub status: RefundStatus,
    /// Unix epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// Why the gateway refused the refund, when it did.
    pub failure: Option<FailureView>,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        RefundView {
            id: r.id.to_string(),
            payment_id: r.payment_id.to_string(),
            amount: r.amount.get(),
            currency: r.currency.to_string(),
            reason: r.reason,
            status: r.status,
            created_at: r.created_at.millis(),
            updated_at: r.updated_at.millis(),
            failure: r.failure.map(|f| FailureView {
                error_type: f.error_type,
                message: f.message,
            }),
        }
    }
}

/// A page of a payment's refunds, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundPage {
    pub data: Vec<RefundView>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn path_id(request: &Request) -> Result<PaymentId, ApiError> {
    let params = request.path_parameters();
    let raw = params.first("id").unwrap_or_default();
    PaymentId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

/// Refunds (part of) one of the merchant's payments. No `amount` refunds all that is left.
///
/// A merchant refunds its own payments; an admin only the payments of the reserved upstream
/// merchant (`mer_upstream`: stream payments no registered merchant owns), 403 for any other.
/// An offline payment is refunded at once (201 `succeeded`). An online payment is refunded
/// through the gateway within the request: 201 `succeeded`, or 201 `failed` when the gateway
/// refused; 202 `pending` when the gateway could not be reached, in which case payrail retries
/// until it answers (the amount stays reserved meanwhile). Partial refunds may repeat until the
/// amount is used up.
#[utoipa::path(
    post,
    path = "/payments/{id}/refunds",
    tag = "refunds",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "The payment's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters, kept 24 h. The same key with the same body replays the first answer (header `Idempotent-Replayed: true`), with another body 422, while the first runs 409."),
    ),
    request_body(content = Option<crate::refunds::request::RefundBody>, description = "May be empty: a full refund"),
    responses(
        (status = 201, description = "Refunded (`succeeded`), or refused by the gateway (`failed`)", body = RefundView),
        (status = 202, description = "Accepted: `pending`, the gateway has not answered yet; payrail retries", body = RefundView),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An admin, and the payment is a registered merchant's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The payment is not completed, nothing is left to refund, or the amount exceeds what is left; or a request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named; or an Idempotency-Key used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn create_refund<Q: SendDelayed>(
    endpoint: &RefundEndpoint<Q>,
    request: Request,
) -> Response<Body> {
    match create(endpoint, &request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// What POST /payments/{id}/refunds needs.
pub struct RefundEndpoint<Q> {
    pub refunds: Refunds<Q>,
    pub idempotency: DynamoIdempotency,
}

async fn create<Q: SendDelayed>(
    endpoint: &RefundEndpoint<Q>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = Identity::from_request(request)?;
    // Keys are the acting merchant's: a merchant's own, the upstream merchant's for an admin
    // (who may refund only its payments; the service checks the payment's owner).
    let merchant = caller
        .own_merchant()
        .cloned()
        .unwrap_or_else(MerchantId::upstream);
    let id = path_id(request)?;
    let parsed = CreateRefund::parse(request.body())?;
    let now = endpoint.refunds.clock.now();
    let Some(key) = key_of(request)? else {
        let created = endpoint.refunds.create(&caller, id, parsed).await?;
        return Ok(created_response(created));
    };
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or_default();
    let digest = RequestDigest::of_refund(&id, &body);
    let once = Once {
        records: &endpoint.idempotency,
        scope: Scope::Refund,
        merchant: &merchant,
        // Before owner ids a merchant's keys were scoped by its name (admins refunded nothing).
        legacy_name: caller.own_merchant().and(caller.merchant.as_deref()),
        key: &key,
        digest: &digest,
        now,
    };
    let caller = &caller;
    once.run(|reserved| async move {
        let new = NewRefund {
            id: RefundId::from_uuid(reserved.id),
            created_at: reserved.created_at,
            resumed: reserved.resumed,
        };
        let created = endpoint.refunds.create_as(caller, id, parsed, new).await?;
        Ok(created_response(created))
    })
    .await
}

fn created_response(created: Created) -> Response<Body> {
    let status = if created.accepted {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    let location = format!("/payments/{}/refunds", created.refund.payment_id);
    let mut response = json_response(status, &RefundView::from(created.refund));
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Query of GET /payments/{id}/refunds.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundListQuery {
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

const LIST_PARAMS: [&str; 2] = ["limit", "cursor"];

impl RefundListQuery {
    pub fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut p = Params::new(pairs, &LIST_PARAMS);
        let limit = p.optional("limit", |raw| {
            integer(raw, 1, 1000).map(|l| l.unsigned_abs() as u16)
        });
        let cursor = p.raw("cursor").map(str::to_owned);
        p.finish(|| Some(RefundListQuery { limit, cursor }))
    }
}

/// A payment's refunds, newest first: a merchant's own payment, or any for an admin.
#[utoipa::path(
    get,
    path = "/payments/{id}/refunds",
    tag = "refunds",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The payment's id"), RefundListQuery),
    responses(
        (status = 200, description = "A page of refunds", body = RefundPage),
        (status = 400, description = "A cursor this query did not issue", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment (of yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters, each named", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn list_refunds(
    store: &DynamoRefunds,
    cursor_key: &CursorKey,
    request: Request,
) -> Response<Body> {
    let result = async {
        let caller = Identity::from_request(&request)?;
        let id = path_id(&request)?;
        let pairs: Vec<(String, String)> = request
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let query = RefundListQuery::parse(pairs)?;
        visible(store, &caller, &id).await?;
        // A cursor is bound to the payment it lists.
        let canonical = format!("refunds:{id}");
        let after = match &query.cursor {
            Some(raw) => Some(
                cursor::decode(cursor_key, &canonical, raw)
                    .map_err(|e| ApiError::Malformed(FieldError::new("cursor", e)))?,
            ),
            None => None,
        };
        let (refunds, next) = store
            .list(&id, query.limit.unwrap_or(100), after.as_ref())
            .await?;
        let next_cursor = next.map(|p| cursor::encode(cursor_key, &canonical, &p));
        Ok::<_, ApiError>(RefundPage {
            has_more: next_cursor.is_some(),
            next_cursor,
            data: refunds.into_iter().map(RefundView::from).collect(),
        })
    };
    match result.await {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_limit_and_cursor_and_names_bad_parameters() {
        let ok = RefundListQuery::parse(pairs(&[("limit", "5"), ("cursor", "abc")]));
        assert_eq!(
            ok.ok(),
            Some(RefundListQuery {
                limit: Some(5),
                cursor: Some("abc".to_owned())
            })
        );
        for (bad, field) in [
            (pairs(&[("limit", "0")]), "limit"),
            (pairs(&[("limit", "1001")]), "limit"),
            (pairs(&[("status", "pending")]), "status"),
        ] {
            match RefundListQuery::parse(bad) {
                Err(ApiError::Invalid(errors)) => assert_eq!(errors[0].field, field),
                other => unreachable!("expected a 422 naming {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_document_has_both_routes_and_an_optional_body() -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&crate::http::openapi::document())?;
        let route = &doc["paths"]["/payments/{id}/refunds"];
        for code in ["201", "202", "401", "403", "404", "409", "422"] {
            assert!(route["post"]["responses"][code].is_object(), "POST {code}");
        }
        assert!(route["get"]["responses"]["200"].is_object());
        assert_ne!(route["post"]["requestBody"]["required"], true);
        Ok(())
    }
}
