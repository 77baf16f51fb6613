//! POST /auth/token: a username and password for a short-lived bearer token.

use super::problem::{ApiError, AuthFailure, FieldError, json_response};
use crate::auth::{AccessToken, TokenIssuer, verify_password};
use crate::domain::Clock;
use crate::users::{FindUser, Username};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use std::sync::Arc;

/// What POST /auth/token needs, built once per cold start.
pub struct TokenEndpoint<U> {
    pub users: U,
    pub issuer: TokenIssuer,
    pub clock: Arc<dyn Clock>,
}

/// Body of POST /auth/token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    #[schema(min_length = 1, example = "alice")]
    pub username: String,
    #[schema(min_length = 1, max_length = 1024, example = "password")]
    pub password: String,
}

/// Longer passwords are refused before hashing: argon2 takes any length, a login endpoint
/// should not.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Exchanges a username and password for an access token.
///
/// Unknown users and wrong passwords get the same 401, in the same time (the password is
/// checked against a dummy hash when the user does not exist); a disabled user with the right
/// password gets 403.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body = TokenRequest,
    security(()),
    responses(
        (status = 200, description = "A bearer token", body = AccessToken),
        (status = 400, description = "The body is not JSON", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown username or wrong password", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user is disabled", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid, each named", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = crate::http::Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn issue_token<U: FindUser>(
    endpoint: &TokenEndpoint<U>,
    request: Request,
) -> Response<Body> {
    match token(endpoint, request.body()).await {
        Ok(token) => {
            let mut response = json_response(StatusCode::OK, &token);
            // RFC 6749 §5.1: responses carrying tokens are never cached.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => err.into_response(),
    }
}

pub async fn token<U: FindUser>(
    endpoint: &TokenEndpoint<U>,
    body: &[u8],
) -> Result<AccessToken, ApiError> {
    let (username, password) = parse(body)?;
    // A name that cannot exist is looked up as nobody: same answer, same time.
    let user = match Username::parse(&username) {
        Ok(name) => endpoint.users.find(&name).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, stored.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("password check: {e}")))?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            tracing::info!(outcome = "bad_credentials", "token refused");
            return Err(ApiError::Unauthorized(AuthFailure::BadCredentials));
        }
    };
    if !user.enabled {
        tracing::info!(username = %user.username, outcome = "disabled", "token refused");
        return Err(ApiError::Forbidden("This user is disabled."));
    }
    let token = endpoint
        .issuer
        .issue(
            user.username.as_str(),
            user.role,
            user.merchant.as_deref(),
            endpoint.clock.now(),
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(username = %user.username, role = ?user.role, outcome = "issued", "token issued");
    Ok(token)
}

/// Malformed JSON is 400; a missing, empty or mistyped field is 422 naming it.
fn parse(body: &[u8]) -> Result<(String, String), ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::Malformed(FieldError::new("body", "is not valid JSON")))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let mut errors = Vec::new();
    let mut field = |name: &str| match object.get(name) {
        None | Some(serde_json::Value::Null) => {
            errors.push(FieldError::new(name, "is required"));
            None
        }
        Some(serde_json::Value::String(s)) if s.is_empty() => {
            errors.push(FieldError::new(name, "must not be empty"));
            None
        }
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string"));
            None
        }
    };
    let username = field("username");
    let password = field("password");
    if let Some(p) = &password
        && p.len() > MAX_PASSWORD_BYTES
    {
        errors.push(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    match (username, password) {
        (Some(u), Some(p)) if errors.is_empty() => Ok((u, p)),
        _ => Err(ApiError::Invalid(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Role, SigningKey, TokenVerifier, hash_password};
    use crate::domain::{FixedClock, Timestamp};
    use crate::store::StoreError;
    use crate::users::User;

    const NOW: i64 = 1_700_000_000_000;

    struct OneUser(Vec<User>);

    impl FindUser for OneUser {
        async fn find(&self, username: &Username) -> Result<Option<User>, StoreError> {
            Ok(self.0.iter().find(|u| &u.username == username).cloned())
        }
    }

    fn key() -> SigningKey {
        SigningKey::new(vec![5; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
    }

    fn endpoint() -> anyhow::Result<TokenEndpoint<OneUser>> {
        let user = |name: &str, enabled| -> anyhow::Result<User> {
            Ok(User {
                username: Username::parse(name).map_err(anyhow::Error::msg)?,
                password_hash: hash_password("password")?,
                role: Role::Merchant,
                merchant: Some("Alice's Shop".to_owned()),
                enabled,
                created_at: Timestamp::from_millis(NOW),
            })
        };
        Ok(TokenEndpoint {
            users: OneUser(vec![user("alice", true)?, user("charlie", false)?]),
            issuer: TokenIssuer::new(&key(), 30),
            clock: Arc::new(FixedClock(Timestamp::from_millis(NOW))),
        })
    }

    async fn problem(
        endpoint: &TokenEndpoint<OneUser>,
        body: &str,
    ) -> anyhow::Result<crate::http::Problem> {
        match token(endpoint, body.as_bytes()).await {
            Ok(_) => anyhow::bail!("{body} was accepted"),
            Err(e) => Ok(e.problem()),
        }
    }

    #[tokio::test]
    async fn the_right_password_gets_a_token_for_the_users_merchant() -> anyhow::Result<()> {
        let endpoint = endpoint()?;
        let token = token(&endpoint, br#"{"username":"alice","password":"password"}"#).await?;
        assert_eq!((token.token_type, token.expires_in), ("Bearer", 30));
        let verifier =
            TokenVerifier::new(&[key()], Box::new(FixedClock(Timestamp::from_millis(NOW))));
        let claims = verifier.verify(&token.access_token)?;
        assert_eq!(claims.merchant.as_deref(), Some("Alice's Shop"));
        Ok(())
    }

    #[tokio::test]
    async fn unknown_user_and_wrong_password_are_the_same_401() -> anyhow::Result<()> {
        let endpoint = endpoint()?;
        let unknown = problem(&endpoint, r#"{"username":"mallory","password":"password"}"#).await?;
        let wrong = problem(&endpoint, r#"{"username":"alice","password":"Password"}"#).await?;
        let odd = problem(
            &endpoint,
            r#"{"username":"Not A Name","password":"password"}"#,
        )
        .await?;
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown, wrong);
        assert_eq!(unknown, odd);
        Ok(())
    }

    #[tokio::test]
    async fn a_disabled_user_is_403_but_only_with_the_right_password() -> anyhow::Result<()> {
        let endpoint = endpoint()?;
        let right = problem(&endpoint, r#"{"username":"charlie","password":"password"}"#).await?;
        assert_eq!(right.status, 403);
        let wrong = problem(&endpoint, r#"{"username":"charlie","password":"guess"}"#).await?;
        assert_eq!(
            wrong.status, 401,
            "a wrong password must not reveal the account state"
        );
        Ok(())
    }

    #[tokio::test]
    async fn bad_bodies_are_400_or_422_naming_the_field() -> anyhow::Result<()> {
        let endpoint = endpoint()?;
        assert_eq!(problem(&endpoint, "{").await?.status, 400);
        assert_eq!(problem(&endpoint, "[]").await?.errors[0].field, "body");
        let missing = problem(&endpoint, r#"{"username":"alice"}"#).await?;
        assert_eq!(
            (missing.status, missing.errors[0].field.as_str()),
            (422, "password")
        );
        let both = problem(&endpoint, r#"{"username":7,"password":""}"#).await?;
        let fields: Vec<_> = both.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password"]);
        let long = format!(
            r#"{{"username":"alice","password":"{}"}}"#,
            "x".repeat(1025)
        );
        assert_eq!(problem(&endpoint, &long).await?.errors[0].field, "password");
        Ok(())
    }
}
