//! GET /accounts/{id}: a paying account with its `last_payment_date`.

use super::problem::{ApiError, Problem, json_response};
use crate::accounts::{Account, DynamoAccounts};
use crate::auth::Identity;
use crate::domain::AccountId;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub account_id: u64,
    pub email: String,
    #[schema(example = "1990-04-01")]
    pub birthdate: String,
    /// Unix ms of the newest successful payment; null before the first.
    pub last_payment_date: Option<i64>,
    pub created_at: i64,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            account_id: a.account_id.get(),
            email: a.email,
            birthdate: a.birthdate,
            last_payment_date: a.last_payment_date.map(|t| t.millis()),
            created_at: a.created_at.millis(),
        }
    }
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| (1..=i64::MAX.unsigned_abs()).contains(id))
        .map(AccountId::new)
        .ok_or_else(|| ApiError::invalid("id", "must be a positive integer"))
}

/// A paying account (merchants and admins).
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "The account's number")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn get_account(accounts: &DynamoAccounts, request: Request) -> Response<Body> {
    let result = async {
        Identity::from_request(&request)?;
        let params = request.path_parameters();
        let id = account_id(params.first("id").unwrap_or_default())?;
        accounts.get(id).await?.ok_or(ApiError::NotFound)
    };
    match result.await {
        Ok(account) => json_response(StatusCode::OK, &AccountView::from(account)),
        Err(err) => err.into_response(),
    }
}
