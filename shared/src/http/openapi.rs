//! The OpenAPI 3.1 document, generated from the handlers' own types.

use super::problem::{FieldError, Problem};
use super::transactions::{CardView, TransactionCount, TransactionPage, TransactionView};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "payrail", description = "A serverless payments platform: payments, refunds and reports.", version = "0.1.0"),
    paths(super::transactions::list_transactions, super::transactions::count_transactions, openapi_json, docs_page),
    components(schemas(Problem, FieldError, TransactionPage, TransactionView, CardView, TransactionCount)),
    tags((name = "reports", description = "Admin reports over completed transactions"), (name = "docs", description = "This document and its viewer"))
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> String {
    ApiDoc::openapi().to_json().unwrap_or_default()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "docs", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub fn openapi_json() {}

/// Swagger UI for this API, served without any CDN.
#[utoipa::path(get, path = "/docs", tag = "docs", responses((status = 200, description = "Swagger UI", content_type = "text/html", body = String)))]
pub fn docs_page() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_report_route_as_openapi_3_1() -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&document())?;
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/transactions",
            "/transactions/count",
            "/openapi.json",
            "/docs",
        ] {
            assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
        }
        Ok(())
    }
}
