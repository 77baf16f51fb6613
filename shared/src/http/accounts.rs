//! GET /accounts/{id}: a paying account. An admin sees all of it; a merchant sees only an
//! account that holds a payment to it (its link, `store::links`), without the payer's personal
//! data and with the date of its own payments only, and any other account as not found.

use super::problem::{ApiError, Problem, json_response};
use crate::accounts::{Account, DynamoAccounts};
use crate::auth::{Identity, Role};
use crate::domain::AccountId;
use crate::store::links::{DynamoLinks, Link};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What GET /accounts/{id} reads.
#[derive(Debug, Clone)]
pub struct AccountsEndpoint {
    pub accounts: DynamoAccounts,
    pub links: DynamoLinks,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub account_id: u64,
    /// Admins only: absent for a merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub email: Option<String>,
    /// Admins only: absent for a merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1990-04-01", required = false, nullable = false)]
    pub birthdate: Option<String>,
    /// Unix ms of the newest completed payment (by its `created_at`); null before the first.
    /// For a merchant, of that merchant's own payments only.
    pub last_payment_date: Option<i64>,
    pub created_at: i64,
}

impl AccountView {
    /// The whole account (admins).
    fn full(a: Account) -> Self {
        AccountView {
            account_id: a.account_id.get(),
            email: Some(a.email),
            birthdate: Some(a.birthdate),
            last_payment_date: a.last_payment_date.map(|t| t.millis()),
            created_at: a.created_at.millis(),
        }
    }

    /// The account as a merchant it is linked to sees it: no personal data, and the date of
    /// that merchant's payments rather than the account's (which would show other merchants'
    /// activity).
    fn for_merchant(a: Account, link: Link) -> Self {
        AccountView {
            account_id: a.account_id.get(),
            email: None,
            birthdate: None,
            last_payment_date: link.last_payment_date.map(|t| t.millis()),
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

/// A paying account (admins; a merchant only an account that has paid it).
///
/// An admin gets the whole account. A merchant gets only an account that has
/// at least one payment (of any status) to that merchant, without `email` and `birthdate`, and
/// with the `last_payment_date` of that merchant's own completed payments; any other account is
/// a 404 identical to that of an account that does not exist.
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "The account's number")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account, or (a merchant) no payment of it to the caller: the same answer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn get_account(endpoint: &AccountsEndpoint, request: Request) -> Response<Body> {
    let result = async {
        let caller = Identity::from_request(&request)?;
        let params = request.path_parameters();
        let id = account_id(params.first("id").unwrap_or_default())?;
        match (caller.role, caller.own_merchant()) {
            (Role::Admin, _) => endpoint
                .accounts
                .get(id)
                .await?
                .map(AccountView::full)
                .ok_or(ApiError::NotFound),
            (Role::Merchant, Some(merchant)) => {
                // Both reads at once: the answer takes as long whether or not a link exists.
                let (account, link) = futures::try_join!(
                    endpoint.accounts.get(id),
                    endpoint.links.get(id, merchant.as_str())
                )?;
                match (account, link) {
                    (Some(account), Some(link)) => Ok(AccountView::for_merchant(account, link)),
                    _ => Err(ApiError::NotFound),
                }
            }
            (Role::Merchant, None) => Err(ApiError::NotFound),
        }
    };
    match result.await {
        Ok(view) => json_response(StatusCode::OK, &view),
        Err(err) => err.into_response(),
    }
}
