//! RFC 9457 problem details: every error a client sees, and nothing internal in any of them.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// One invalid input, named by its field (a query parameter, a body field, a header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl std::fmt::Display) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.to_string(),
        }
    }
}

/// `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, `urn:payrail:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable, machine-readable code.
    pub code: String,
    pub errors: Vec<FieldError>,
}

/// Every way a request can fail, mapped to exactly one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Well-formed but invalid input.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Input that could not be read at all (a malformed body, a cursor not issued by us).
    #[error("malformed request")]
    Malformed(FieldError),
    /// A body in a media type the route does not take (named by its header, `Content-Type`).
    #[error("unsupported media type")]
    UnsupportedMediaType(FieldError),
    /// No valid credentials: a missing, malformed, expired or forged token, or a wrong login.
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthFailure),
    /// Valid credentials that do not allow this (a merchant on an admin route, a disabled user);
    /// the text says which.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// The resource's state does not allow this (a payment already processed, an idempotency
    /// key in use, a refund above what is left); the text says which.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Too many failed logins (POST /auth/token); retry after this many seconds. One answer
    /// whichever limit refused and whether or not the user exists.
    #[error("too many failed logins, retry after {0} s")]
    TooManyAttempts(u64),
    /// A fault on our side; the cause goes to the log, never into the response.
    #[error("internal error: {0}")]
    Internal(String),
    /// A service payrail depends on (DynamoDB, SQS) is unreachable or overloaded: retrying the
    /// same request shortly is expected to work. The cause goes to the log only.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title, detail, errors) = match self {
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid input",
                summary(errors),
                errors.clone(),
            ),
            ApiError::Malformed(error) => (
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "Malformed request",
                summary(std::slice::from_ref(error)),
                vec![error.clone()],
            ),
            ApiError::UnsupportedMediaType(error) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                summary(std::slice::from_ref(error)),
                vec![error.clone()],
            ),
            ApiError::Unauthorized(failure) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                failure.detail().to_owned(),
                vec![],
            ),
            ApiError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                (*why).to_owned(),
                vec![],
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "No such resource.".to_owned(),
                vec![],
            ),
            ApiError::Conflict(why) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                (*why).to_owned(),
                vec![],
            ),
            ApiError::TooManyAttempts(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many attempts",
                "Too many failed logins; retry after the number of seconds in Retry-After."
                    .to_owned(),
                vec![],
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
                "The request could not be completed; it is safe to retry.".to_owned(),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
                "A service payrail depends on is unavailable; retry shortly (with the same \
                 Idempotency-Key)."
                    .to_owned(),
                vec![],
            ),
        };
        Problem {
            kind: format!("urn:payrail:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            errors,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Internal(cause) | ApiError::Unavailable(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Unavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::TooManyAttempts(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let ApiError::Unauthorized(failure) = self {
            // RFC 6750: a 401 names the scheme, and says when the token itself was the problem.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(failure.challenge()),
            );
        }
        response
    }
}

/// Why a request is unauthenticated. The authorizer names it in its context; handlers turn it
/// into the 401's detail, so a client can tell "log in again" from "fix your header".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFailure {
    /// No Authorization header.
    MissingToken,
    /// An Authorization header that is not `Bearer <token>`.
    MalformedHeader,
    /// A token that is malformed, not signed with our key, or names another algorithm.
    InvalidToken,
    ExpiredToken,
    /// POST /auth/token: unknown user or wrong password (one answer for both).
    BadCredentials,
}

impl AuthFailure {
    pub fn detail(self) -> &'static str {
        match self {
            AuthFailure::MissingToken => {
                "An `Authorization: Bearer <token>` header is required; get a token at POST /auth/token."
            }
            AuthFailure::MalformedHeader => "The Authorization header must be `Bearer <token>`.",
            AuthFailure::InvalidToken => {
                "The token is not valid: malformed, not issued by payrail, or altered."
            }
            AuthFailure::ExpiredToken => {
                "The token has expired; get a new one at POST /auth/token."
            }
            AuthFailure::BadCredentials => "Unknown username or wrong password.",
        }
    }

    fn challenge(self) -> &'static str {
        match self {
            AuthFailure::InvalidToken | AuthFailure::ExpiredToken => {
                r#"Bearer realm="payrail", error="invalid_token""#
            }
            AuthFailure::MalformedHeader => r#"Bearer realm="payrail", error="invalid_request""#,
            AuthFailure::MissingToken | AuthFailure::BadCredentials => r#"Bearer realm="payrail""#,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_transient() {
            ApiError::Unavailable(err.to_string())
        } else {
            ApiError::Internal(err.to_string())
        }
    }
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A 200 (or other) JSON response.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut response = Response::new(Body::Text(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => ApiError::Internal(err.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_invalid_field_in_a_422() {
        let problem =
            ApiError::Invalid(vec![FieldError::new("days", "must be 1 to 3650")]).problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "days");
        assert_eq!(problem.kind, "urn:payrail:problem:validation_failed");
    }

    #[test]
    fn keeps_internal_causes_out_of_the_response() {
        let response = ApiError::Internal("table xyz is missing".to_owned()).into_response();
        let Body::Text(body) = response.body() else {
            unreachable!("problem bodies are text")
        };
        assert_eq!(response.status(), 500);
        assert!(!body.contains("xyz"));
    }

    #[test]
    fn an_unreachable_dependency_is_a_503_to_retry_without_its_cause() {
        let err: ApiError = crate::store::StoreError::Unavailable("connect 10.0.0.7".into()).into();
        let response = err.into_response();
        let Body::Text(body) = response.body() else {
            unreachable!("problem bodies are text")
        };
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(body.contains("service_unavailable") && !body.contains("10.0.0.7"));
    }
}
