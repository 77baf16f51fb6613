//! GET /transactions and GET /transactions/count: the admin reports over completed transactions.

use super::cursor::{self, CursorKey};
use super::params::{Params, integer};
use super::problem::{ApiError, FieldError, Problem, json_response};
use crate::auth::Identity;
use crate::domain::{
    CardSummary, CardType, Clock, Country, Currency, FailureKind, MinorUnits, Payment,
    PaymentMethod, PaymentStatus, PaymentType,
};
use crate::reports::{
    AmountRange, CountRequest, Days, DynamoReports, ListPage, ListRequest, ReadStats,
    TransactionFilter, Window,
};
use crate::store::StoreError;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Reads a page of completed transactions.
pub trait ListTransactions: Send + Sync {
    fn list(
        &self,
        request: &ListRequest,
    ) -> impl Future<Output = Result<(ListPage, ReadStats), StoreError>> + Send;
}

/// Counts completed transactions of one card type.
pub trait CountTransactions: Send + Sync {
    fn count(
        &self,
        request: &CountRequest,
    ) -> impl Future<Output = Result<(u64, ReadStats), StoreError>> + Send;
}

impl ListTransactions for DynamoReports {
    fn list(
        &self,
        request: &ListRequest,
    ) -> impl Future<Output = Result<(ListPage, ReadStats), StoreError>> + Send {
        DynamoReports::list(self, request)
    }
}

impl CountTransactions for DynamoReports {
    fn count(
        &self,
        request: &CountRequest,
    ) -> impl Future<Output = Result<(u64, ReadStats), StoreError>> + Send {
        DynamoReports::count(self, request)
    }
}

/// What the report handlers need, built once per cold start.
pub struct Reports<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    pub cursor_key: CursorKey,
}

/// Query of GET /transactions.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Window length: completed transactions created in the last `days` days (1 to 3650).
    #[param(minimum = 1, maximum = 3650)]
    pub days: u16,
    pub card_type: Option<CardType>,
    /// ISO 3166-1 alpha-2, upper case; `UK` is taken as `GB`.
    #[param(value_type = Option<String>, pattern = "^[A-Z]{2}$", example = "GB")]
    pub country: Option<Country>,
    /// Lowest amount, inclusive, in minor units.
    #[param(minimum = 0)]
    pub min_amount: Option<u64>,
    /// Highest amount, inclusive, in minor units.
    #[param(minimum = 0)]
    pub max_amount: Option<u64>,
    /// ISO 4217, upper case.
    #[param(value_type = Option<String>, pattern = "^[A-Z]{3}$", example = "GBP")]
    pub currency: Option<Currency>,
    /// Page size, 1 to 1000.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

/// Query of GET /transactions/count.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountQuery {
    #[param(minimum = 1, maximum = 3650)]
    pub days: u16,
    pub card_type: CardType,
    #[param(value_type = Option<String>, pattern = "^[A-Z]{2}$", example = "GB")]
    pub country: Option<Country>,
}

const LIST_PARAMS: [&str; 8] = [
    "days",
    "card_type",
    "country",
    "min_amount",
    "max_amount",
    "currency",
    "limit",
    "cursor",
];
const COUNT_PARAMS: [&str; 3] = ["days", "card_type", "country"];
const MAX_AMOUNT: i64 = MinorUnits::MAX as i64;

fn days(raw: &str) -> Result<u16, String> {
    integer(raw, 1, i64::from(Days::MAX)).and_then(|d| u16::try_from(d).map_err(|e| e.to_string()))
}

fn amount(raw: &str) -> Result<u64, String> {
    integer(raw, 0, MAX_AMOUNT).map(|a| a.unsigned_abs())
}

impl ListQuery {
    pub fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut p = Params::new(pairs, &LIST_PARAMS);
        let days = p.required("days", days);
        let card_type = p.optional("card_type", CardType::parse);
        let country = p.optional("country", Country::parse);
        let min_amount = p.optional("min_amount", amount);
        let max_amount = p.optional("max_amount", amount);
        let currency = p.optional("currency", Currency::parse);
        let limit = p.optional("limit", |raw| {
            integer(raw, 1, 1000).map(|l| l.unsigned_abs() as u16)
        });
        let cursor = p.raw("cursor").map(str::to_owned);
        if let (Some(min), Some(max)) = (min_amount, max_amount)
            && min > max
        {
            p.error("min_amount", "must not be greater than max_amount");
        }
        p.finish(|| {
            Some(ListQuery {
                days: days?,
                card_type,
                country,
                min_amount,
                max_amount,
                currency,
                limit,
                cursor,
            })
        })
    }

    /// The query without paging, in one canonical form: what a cursor is bound to.
    fn canonical(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_default();
        format!(
            "days={}&card_type={}&country={}&min_amount={}&max_amount={}&currency={}",
            self.days,
            opt(self.card_type.map(|c| c.to_string())),
            opt(self.country.map(|c| c.to_string())),
            opt(self.min_amount.map(|a| a.to_string())),
            opt(self.max_amount.map(|a| a.to_string())),
            opt(self.currency.map(|c| c.to_string())),
        )
    }
}

impl CountQuery {
    pub fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut p = Params::new(pairs, &COUNT_PARAMS);
        let days = p.required("days", days);
        let card_type = p.required("card_type", CardType::parse);
        let country = p.optional("country", Country::parse);
        p.finish(|| {
            Some(CountQuery {
                days: days?,
                card_type: card_type?,
                country,
            })
        })
    }
}

/// A card as shown: never the full number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    pub brand: CardType,
    pub bin: String,
    pub last4: String,
    #[schema(example = "411111******1111")]
    pub masked: String,
    pub exp_month: u8,
    pub exp_year: u16,
    /// Equal for equal card numbers (keyed: useless without payrail's key). Absent for
    /// generated history without the functions' key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl From<CardSummary> for CardView {
    fn from(c: CardSummary) -> Self {
        CardView {
            brand: c.brand,
            bin: c.bin,
            last4: c.last4,
            masked: c.masked,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            fingerprint: (!c.fingerprint.is_empty()).then_some(c.fingerprint),
        }
    }
}

/// A completed transaction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionView {
    #[schema(value_type = String, format = "uuid")]
    pub id: String,
    pub account_id: u64,
    pub payment_type: PaymentType,
    pub method: PaymentMethod,
    pub card_type: CardType,
    pub card: Option<CardView>,
    /// Minor units of `currency`.
    pub amount: u64,
    #[schema(example = "GBP")]
    pub currency: String,
    pub vendor: String,
    pub address: String,
    #[schema(example = "GB")]
    pub country: String,
    pub status: PaymentStatus,
    /// Unix epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub refunded_amount: u64,
    /// Why the payment failed or was declined, when it did.
    pub failure: Option<FailureView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureView {
    pub error_type: FailureKind,
    pub message: String,
}

impl From<Payment> for TransactionView {
    fn from(p: Payment) -> Self {
        TransactionView {
            id: p.id.to_string(),
            account_id: p.account_id.get(),
            payment_type: p.payment_type,
            method: p.method,
            card_type: p.card_type,
            card: p.card.map(CardView::from),
            amount: p.amount.get(),
            currency: p.currency.to_string(),
            vendor: p.vendor,
            address: p.address,
            country: p.country.to_string(),
            status: p.status,
            created_at: p.created_at.millis(),
            updated_at: p.updated_at.millis(),
            refunded_amount: p.refunded_amount,
            failure: p.failure.map(|f| FailureView {
                error_type: f.error_type,
                message: f.message,
            }),
        }
    }
}

/// One page of transactions, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionPage {
    pub data: Vec<TransactionView>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionCount {
    pub days: u16,
    pub card_type: CardType,
    pub count: u64,
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    let params = request.query_string_parameters();
    params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Completed transactions of the last `days` days, newest first, with optional combinable filters.
#[utoipa::path(
    get,
    path = "/transactions",
    tag = "reports",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionPage),
        (status = 400, description = "A cursor this query did not issue", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters, each named", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn list_transactions<S: ListTransactions>(
    reports: &Reports<S>,
    request: Request,
) -> Response<Body> {
    let result = async {
        Identity::from_request(&request)?.require_admin()?;
        list(reports, query_pairs(&request)).await
    };
    match result.await {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(err) => err.into_response(),
    }
}

pub async fn list<S: ListTransactions>(
    reports: &Reports<S>,
    pairs: Vec<(String, String)>,
) -> Result<TransactionPage, ApiError> {
    let query = ListQuery::parse(pairs)?;
    let canonical = query.canonical();
    let after = match &query.cursor {
        Some(raw) => Some(
            cursor::decode(&reports.cursor_key, &canonical, raw)
                .map_err(|e| ApiError::Malformed(FieldError::new("cursor", e)))?,
        ),
        None => None,
    };
    let days = Days::new(i64::from(query.days)).map_err(|e| ApiError::invalid("days", e))?;
    let request = ListRequest {
        window: Window::last(days, reports.clock.now()),
        filter: TransactionFilter {
            card_type: query.card_type,
            country: query.country,
            amount: AmountRange {
                min: query.min_amount,
                max: query.max_amount,
            },
            currency: query.currency,
        },
        limit: query.limit.unwrap_or(100),
        after,
    };
    let (page, stats) = reports.store.list(&request).await?;
    tracing::info!(
        items_read = stats.items_read,
        queries = stats.queries,
        returned = page.items.len(),
        "listed transactions"
    );
    let next_cursor = page
        .next
        .as_ref()
        .map(|p| cursor::encode(&reports.cursor_key, &canonical, p));
    Ok(TransactionPage {
        has_more: next_cursor.is_some(),
        next_cursor,
        data: page.items.into_iter().map(TransactionView::from).collect(),
    })
}

/// How many completed transactions of one card type the last `days` days hold.
#[utoipa::path(
    get,
    path = "/transactions/count",
    tag = "reports",
    security(("bearer" = [])),
    params(CountQuery),
    responses(
        (status = 200, description = "The count", body = TransactionCount),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters, each named", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn count_transactions<S: CountTransactions>(
    reports: &Reports<S>,
    request: Request,
) -> Response<Body> {
    let result = async {
        Identity::from_request(&request)?.require_admin()?;
        count(reports, query_pairs(&request)).await
    };
    match result.await {
        Ok(count) => json_response(StatusCode::OK, &count),
        Err(err) => err.into_response(),
    }
}

pub async fn count<S: CountTransactions>(
    reports: &Reports<S>,
    pairs: Vec<(String, String)>,
) -> Result<TransactionCount, ApiError> {
    let query = CountQuery::parse(pairs)?;
    let days = Days::new(i64::from(query.days)).map_err(|e| ApiError::invalid("days", e))?;
    let request = CountRequest {
        window: Window::last(days, reports.clock.now()),
        card_type: query.card_type,
        country: query.country,
    };
    let (count, stats) = reports.store.count(&request).await?;
    tracing::info!(
        items_read = stats.items_read,
        queries = stats.queries,
        count,
        "counted transactions"
    );
    Ok(TransactionCount {
        days: query.days,
        card_type: query.card_type,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn fields(result: Result<ListQuery, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn names_days_when_it_is_out_of_range_absent_or_not_a_number() {
        for bad in ["0", "-1", "3651", "abc", "", "1.5"] {
            assert_eq!(
                fields(ListQuery::parse(pairs(&[("days", bad)]))),
                vec!["days"],
                "{bad}"
            );
        }
        assert_eq!(fields(ListQuery::parse(pairs(&[]))), vec!["days"]);
    }

    #[test]
    fn names_each_bad_filter() {
        let result = ListQuery::parse(pairs(&[
            ("days", "7"),
            ("card_type", "bitcoin"),
            ("country", "XX"),
            ("min_amount", "-3"),
            ("max_amount", "1.5"),
            ("currency", "gbp"),
        ]));
        assert_eq!(
            fields(result),
            vec![
                "card_type",
                "country",
                "min_amount",
                "max_amount",
                "currency"
            ]
        );
    }

    #[test]
    fn refuses_a_minimum_above_the_maximum() {
        let result = ListQuery::parse(pairs(&[
            ("days", "7"),
            ("min_amount", "500"),
            ("max_amount", "100"),
        ]));
        assert_eq!(fields(result), vec!["min_amount"]);
    }

    #[test]
    fn refuses_unknown_parameters_by_name() {
        assert_eq!(
            fields(ListQuery::parse(pairs(&[
                ("days", "7"),
                ("card_typ", "visa")
            ]))),
            vec!["card_typ"]
        );
    }

    #[test]
    fn accepts_uk_and_combined_filters() -> Result<(), ApiError> {
        let query = ListQuery::parse(pairs(&[
            ("days", "30"),
            ("country", "UK"),
            ("card_type", "visa"),
            ("min_amount", "0"),
            ("limit", "5"),
        ]))?;
        assert_eq!(query.country.map(|c| c.to_string()), Some("GB".to_owned()));
        assert_eq!(query.limit, Some(5));
        Ok(())
    }

    #[test]
    fn count_needs_days_and_card_type() {
        let result = CountQuery::parse(pairs(&[("country", "DE")]));
        let Err(ApiError::Invalid(errors)) = result else {
            unreachable!("must fail")
        };
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, vec!["days", "card_type"]);
    }
}
