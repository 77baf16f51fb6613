//! POST /auth/token: a username and password for a short-lived bearer token, within the
//! failed-login limits of [`crate::auth::attempts`].

use super::problem::{ApiError, AuthFailure, FieldError, json_response};
use crate::auth::attempts::{
    AddressTrust, Admission, AttemptKey, LoginAttempts, SourceAddress, client_address,
};
use crate::auth::{AccessToken, ActingFor, Role, TokenIssuer, verify_password};
use crate::domain::Clock;
use crate::users::{FindUser, Username};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use std::sync::Arc;

/// What POST /auth/token needs, built once per cold start.
pub struct TokenEndpoint<U, A> {
    pub users: U,
    pub attempts: A,
    /// Where the client's address comes from (API Gateway's peer, or CloudFront's header).
    pub address_trust: AddressTrust,
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
/// password gets 403. Too many failures from the address, for the username from the address,
/// or for the username from anywhere recently get 429 with `Retry-After`, before the password
/// is checked, the same whether the user exists or not.
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
        (status = 429, description = "Too many failed logins (from this address, for this username from this address, or for this username recently); the same for every username, existing or not. Retry after Retry-After seconds", body = crate::http::Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
        (status = 500, description = "Internal error", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A service payrail depends on (DynamoDB, SQS) is unavailable; retry after Retry-After seconds, with the same Idempotency-Key where there is one", body = crate::http::Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn issue_token<U: FindUser, A: LoginAttempts>(
    endpoint: &TokenEndpoint<U, A>,
    request: Request,
) -> Response<Body> {
    let source = client_address(&request, &endpoint.address_trust);
    match token(endpoint, request.body(), source).await {
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

pub async fn token<U: FindUser, A: LoginAttempts>(
    endpoint: &TokenEndpoint<U, A>,
    body: &[u8],
    source: SourceAddress,
) -> Result<AccessToken, ApiError> {
    let (username, password) = parse(body)?;
    let name = Username::parse(&username).ok();
    let now = endpoint.clock.now();
    // Decided before the user is read or the password checked: the answer cannot depend on
    // whether the user exists, and a refused guess costs no argon2id.
    let key = AttemptKey::new(name.as_ref(), source);
    let reservation = match endpoint.attempts.begin(&key, now).await? {
        Admission::Admitted(reservation) => reservation,
        Admission::Refused(refusal) => {
            tracing::info!(outcome = "too_many_attempts", limit = ?refusal.limit, "token refused");
            return Err(ApiError::TooManyAttempts(refusal.retry_after_seconds));
        }
    };
    // A name that cannot exist is looked up as nobody: same answer, same time.
    let user = match &name {
        Some(name) => endpoint.users.find(name).await?,
        None => None,
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
    // The right password, disabled user or not: the attempt was no guess. A failure to record
    // that only leaves the attempt counted as failed; the login itself stands.
    if let Err(e) = endpoint.attempts.succeeded(&reservation, now).await {
        tracing::warn!(error = %e, "a successful login's counters were not updated");
    }
    if !user.enabled {
        tracing::info!(username = %user.username, outcome = "disabled", "token refused");
        return Err(ApiError::Forbidden("This user is disabled."));
    }
    // A merchant user acts for its merchant's id; one written before owner ids has none until
    // `owners backfill` gives it one, and gets no token that would own nothing.
    let acting_for = match (user.role, &user.merchant_id) {
        (Role::Admin, _) => None,
        (Role::Merchant, Some(id)) => Some(ActingFor {
            id,
            name: user.merchant.as_deref().unwrap_or_default(),
        }),
        (Role::Merchant, None) => {
            tracing::warn!(username = %user.username, outcome = "no_merchant_id", "token refused");
            return Err(ApiError::Forbidden(
                "This merchant user has no merchant id yet (owners backfill).",
            ));
        }
    };
    let token = endpoint
        .issuer
        .issue(user.username.as_str(), user.role, acting_for, now)
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
    use crate::auth::attempts::Reservation;
    use crate::auth::{SigningKey, TokenScope, TokenVerifier, hash_password};
    use crate::domain::MerchantId;
    use crate::domain::{FixedClock, Timestamp};
    use crate::store::StoreError;
    use crate::users::User;

    const NOW: i64 = 1_700_000_000_000;

    struct OneUser(Vec<User>);

    /// Admits every attempt: these tests are about credentials; the limits are tested on
    /// their own and against DynamoDB through the local stack (tests/tests/api_auth.rs).
    struct Unlimited;

    impl LoginAttempts for Unlimited {
        async fn begin(&self, key: &AttemptKey, _: Timestamp) -> Result<Admission, StoreError> {
            Ok(Admission::Admitted(Reservation::for_tests(key.clone())))
        }

        async fn succeeded(&self, _: &Reservation, _: Timestamp) -> Result<(), StoreError> {
            Ok(())
        }
    }

    impl FindUser for OneUser {
        async fn find(&self, username: &Username) -> Result<Option<User>, StoreError> {
            Ok(self.0.iter().find(|u| &u.username == username).cloned())
        }
    }

    fn key() -> SigningKey {
        SigningKey::new(vec![5; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
    }

    fn endpoint() -> anyhow::Result<TokenEndpoint<OneUser, Unlimited>> {
        let user = |name: &str, enabled| -> anyhow::Result<User> {
            Ok(User {
                username: Username::parse(name).map_err(anyhow::Error::msg)?,
                password_hash: hash_password("password")?,
                role: Role::Merchant,
                merchant: Some("Alice's Shop".to_owned()),
                merchant_id: (name != "legacy").then(alices),
                enabled,
                created_at: Timestamp::from_millis(NOW),
            })
        };
        Ok(TokenEndpoint {
            users: OneUser(vec![
                user("alice", true)?,
                user("charlie", false)?,
                user("legacy", true)?,
            ]),
            attempts: Unlimited,
            address_trust: AddressTrust::SourceIp,
            issuer: TokenIssuer::new(&key(), 30, TokenScope::default()),
            clock: Arc::new(FixedClock(Timestamp::from_millis(NOW))),
        })
    }

    async fn problem(
        endpoint: &TokenEndpoint<OneUser, Unlimited>,
        body: &str,
    ) -> anyhow::Result<crate::http::Problem> {
        match token(endpoint, body.as_bytes(), SourceAddress::unknown()).await {
            Ok(_) => anyhow::bail!("{body} was accepted"),
            Err(e) => Ok(e.problem()),
        }
    }

    #[tokio::test]
    async fn the_right_password_gets_a_token_for_the_users_merchant() -> anyhow::Result<()> {
        let endpoint = endpoint()?;
        let token = token(
            &endpoint,
            br#"{"username":"alice","password":"password"}"#,
            SourceAddress::unknown(),
        )
        .await?;
        assert_eq!((token.token_type, token.expires_in), ("Bearer", 30));
        let verifier = TokenVerifier::new(
            &[key()],
            &TokenScope::default(),
            Box::new(FixedClock(Timestamp::from_millis(NOW))),
        );
        let claims = verifier.verify(&token.access_token)?;
        assert_eq!(claims.merchant.as_deref(), Some("Alice's Shop"));
        assert_eq!(claims.merchant_id, Some(alices()));
        Ok(())
    }

    fn alices() -> MerchantId {
        MerchantId::parse("mer_a11ce0000000000000000000000000a1")
            .unwrap_or_else(|_| unreachable!("a well-formed id"))
    }

    #[tokio::test]
    async fn a_merchant_user_without_a_merchant_id_gets_no_token() -> anyhow::Result<()> {
        let problem = problem(
            &endpoint()?,
            r#"{"username":"legacy","password":"password"}"#,
        )
        .await?;
        assert_eq!(problem.status, 403);
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

    /// Refuses every attempt, and fails the test if the user is read after a refusal.
    struct Refusing;

    impl LoginAttempts for Refusing {
        async fn begin(&self, _: &AttemptKey, _: Timestamp) -> Result<Admission, StoreError> {
            Ok(Admission::Refused(crate::auth::attempts::Refusal {
                limit: crate::auth::attempts::Limit::User,
                retry_after_seconds: 7,
            }))
        }

        async fn succeeded(&self, _: &Reservation, _: Timestamp) -> Result<(), StoreError> {
            Ok(())
        }
    }

    struct NobodyMayLook;

    impl FindUser for NobodyMayLook {
        async fn find(&self, _: &Username) -> Result<Option<User>, StoreError> {
            Err(StoreError::Request("read after a refusal".to_owned()))
        }
    }

    #[tokio::test]
    async fn a_refused_attempt_is_one_429_for_every_name_before_any_user_is_read()
    -> anyhow::Result<()> {
        let endpoint = TokenEndpoint {
            users: NobodyMayLook,
            attempts: Refusing,
            address_trust: AddressTrust::SourceIp,
            issuer: TokenIssuer::new(&key(), 30, TokenScope::default()),
            clock: Arc::new(FixedClock(Timestamp::from_millis(NOW))),
        };
        let mut answers = Vec::new();
        for body in [
            r#"{"username":"alice","password":"password"}"#,
            r#"{"username":"mallory","password":"guess"}"#,
            r#"{"username":"Not A Name","password":"guess"}"#,
        ] {
            let refused = token(&endpoint, body.as_bytes(), SourceAddress::unknown()).await;
            let Err(error) = refused else {
                anyhow::bail!("{body} was admitted")
            };
            let response = error.into_response();
            assert_eq!(response.status(), 429, "{body}");
            assert_eq!(
                response.headers().get("retry-after").map(|v| v.as_bytes()),
                Some(&b"7"[..])
            );
            answers.push(response.body().to_vec());
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer");
        // A malformed body is still a 400 and is not counted (the refusal comes after parsing).
        assert_eq!(
            token(&endpoint, b"{", SourceAddress::unknown())
                .await
                .map_err(|e| e.problem().status)
                .err(),
            Some(400)
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
