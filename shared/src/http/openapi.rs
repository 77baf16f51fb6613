//! The OpenAPI 3.1 document, generated from the handlers' own types.

use super::accounts::AccountView;
use super::auth_token::TokenRequest;
use super::payments::PaymentPage;
use super::problem::{FieldError, Problem};
use super::refunds::{RefundPage, RefundView};
use super::transactions::{
    CardView, FailureView, TransactionCount, TransactionPage, TransactionView,
};
use crate::auth::AccessToken;
use crate::payments::request::{CardBody, CreatePaymentBody, WalletBody};
use crate::refunds::RefundStatus;
use crate::refunds::request::RefundBody;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "payrail", description = "A serverless payments platform: payments, refunds and reports. Every route but /auth/token, /docs and /openapi.json needs `Authorization: Bearer <token>` from POST /auth/token (tokens live 30 s).", version = "0.1.0"),
    paths(
        super::auth_token::issue_token,
        super::payments::create_payment, super::payments::process_payment,
        super::payments::get_payment, super::payments::list_payments,
        super::refunds::create_refund, super::refunds::list_refunds,
        super::accounts::get_account,
        super::transactions::list_transactions, super::transactions::count_transactions,
        openapi_json, docs_page
    ),
    components(schemas(Problem, FieldError, TokenRequest, AccessToken, TransactionPage, TransactionView, CardView, FailureView, TransactionCount, PaymentPage, AccountView, CreatePaymentBody, CardBody, WalletBody, RefundBody, RefundView, RefundPage, RefundStatus)),
    modifiers(&BearerScheme),
    tags((name = "auth", description = "Access tokens"), (name = "payments", description = "Creating, processing and reading payments"), (name = "refunds", description = "Refunding completed payments, in part or in full"), (name = "accounts", description = "Paying accounts"), (name = "reports", description = "Admin reports over completed transactions"), (name = "docs", description = "This document and its viewer"))
)]
pub struct ApiDoc;

/// The `bearer` security scheme the protected routes name: a JWT from POST /auth/token.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from POST /auth/token, valid for 30 s by default.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as JSON, generated from the handlers' types.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// The document GET /openapi.json serves: [`document`]'s output, committed as docs/openapi.json
/// so that a change to the API shows in review and the function does not spend ~2 ms of every
/// cold start generating it. A test keeps the two equal; `PAYRAIL_WRITE_OPENAPI=1 cargo test -p
/// payrail-shared --lib openapi` rewrites the file.
pub const COMMITTED: &str = include_str!("../../../docs/openapi.json");

/// The GET /openapi.json answer.
pub fn document_response() -> Response<Body> {
    let mut response = Response::new(Body::Text(COMMITTED.to_owned()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
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
        for (method, path) in [
            ("post", "/auth/token"),
            ("get", "/transactions"),
            ("get", "/transactions/count"),
            ("get", "/openapi.json"),
            ("get", "/docs"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{path} missing");
        }
        Ok(())
    }

    #[test]
    fn the_committed_document_is_the_generated_one() -> Result<(), Box<dyn std::error::Error>> {
        let generated = document();
        let committed: serde_json::Value = serde_json::from_str(COMMITTED)?;
        if committed == serde_json::from_str::<serde_json::Value>(&generated)? {
            return Ok(());
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        if std::env::var_os("PAYRAIL_WRITE_OPENAPI").is_some() {
            std::fs::write(path, generated + "\n")?;
            return Ok(());
        }
        Err(format!(
            "{path} is not the document the handlers' types generate: rewrite it with \
             PAYRAIL_WRITE_OPENAPI=1 cargo test -p payrail-shared --lib openapi, and review the diff"
        )
        .into())
    }

    #[test]
    fn the_document_is_served_as_json() -> Result<(), Box<dyn std::error::Error>> {
        let response = document_response();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let Body::Text(body) = response.body() else {
            return Err("not a text body".into());
        };
        let served: serde_json::Value = serde_json::from_str(body)?;
        assert_eq!(served["info"]["title"], "payrail");
        Ok(())
    }

    #[test]
    fn protected_routes_name_the_bearer_scheme_and_the_token_route_none()
    -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&document())?;
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let report = &doc["paths"]["/transactions"]["get"];
        assert_eq!(report["security"], serde_json::json!([{"bearer": []}]));
        assert!(report["responses"]["401"].is_object() && report["responses"]["403"].is_object());
        assert_eq!(
            doc["paths"]["/auth/token"]["post"]["security"],
            serde_json::json!([{}])
        );
        Ok(())
    }
}
