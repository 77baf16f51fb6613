//! The Lambda authorizer of the HTTP API (REQUEST type, payload 2.0, simple responses).
//!
//! It always answers `isAuthorized: true` and says in the context who the caller is
//! (`{sub, role, merchant_id, merchant}`) or why they could not be identified (`{denied: <reason>}`). API
//! Gateway answers a denial with its own bare 403 `{"message":"Forbidden"}` and cannot be made
//! to answer otherwise on an HTTP API; letting the request through with a `denied` context lets
//! the handler answer the 401 problem+json the API promises ([`Identity::from_context`] turns
//! `denied` into that 401, so no handler can mistake it for a caller). The trade-off is in
//! docs/design.md.

use super::identity::{Denied, Identity};
use super::token::{TokenError, TokenVerifier};
use crate::http::AuthFailure;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_http::http::header::AUTHORIZATION;

/// Decides one request.
pub fn authorize(
    verifier: &TokenVerifier,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let context = match identify(verifier, request) {
        Ok(identity) => serde_json::to_value(identity),
        Err(failure) => {
            tracing::info!(reason = ?failure, route = ?request.route_key, "caller not identified");
            serde_json::to_value(Denied { denied: failure })
        }
    };
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    // Serialising these plain structs cannot fail; if it did, an empty context is still a 401
    // in every handler.
    response.context = context.unwrap_or_default();
    response.is_authorized = true;
    response
}

fn identify(
    verifier: &TokenVerifier,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<Identity, AuthFailure> {
    let header = request
        .headers
        .get(AUTHORIZATION)
        .ok_or(AuthFailure::MissingToken)?;
    let token = bearer_token(header.to_str().map_err(|_| AuthFailure::MalformedHeader)?)?;
    let claims = verifier.verify(token).map_err(|e| match e {
        TokenError::Expired => AuthFailure::ExpiredToken,
        TokenError::Invalid | TokenError::WeakKey | TokenError::Signing => {
            AuthFailure::InvalidToken
        }
    })?;
    Ok(Identity {
        sub: claims.sub,
        role: claims.role,
        merchant: claims.merchant,
        merchant_id: claims.merchant_id,
    })
}

/// `Bearer <token>`, the scheme case-insensitive (RFC 7235), one token of base64url and dots.
fn bearer_token(header: &str) -> Result<&str, AuthFailure> {
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(AuthFailure::MalformedHeader)?;
    let token = token.trim();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='));
    if well_formed {
        Ok(token)
    } else {
        Err(AuthFailure::MalformedHeader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{ActingFor, Role, SigningKey, TokenIssuer, TokenScope};
    use crate::domain::MerchantId;
    use crate::domain::{FixedClock, Timestamp};
    use lambda_http::http::HeaderValue;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;

    fn key() -> SigningKey {
        SigningKey::new(vec![3; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
    }

    fn request(authorization: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
        let mut request = ApiGatewayV2CustomAuthorizerV2Request::default();
        if let Some(value) = authorization
            && let Ok(value) = HeaderValue::from_str(value)
        {
            request.headers.insert(AUTHORIZATION, value);
        }
        request
    }

    fn decide(authorization: Option<&str>) -> serde_json::Value {
        let verifier = TokenVerifier::new(
            &[key()],
            &TokenScope::default(),
            Box::new(FixedClock(Timestamp::from_millis(NOW))),
        );
        let response = authorize(&verifier, &request(authorization));
        assert!(
            response.is_authorized,
            "the handler answers, never API Gateway"
        );
        response.context
    }

    #[test]
    fn a_valid_token_passes_its_identity_on() -> Result<(), TokenError> {
        let token = TokenIssuer::new(&key(), 30, TokenScope::default())
            .issue(
                "bob",
                Role::Merchant,
                Some(ActingFor {
                    id: &MerchantId::parse("mer_b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0")
                        .unwrap_or_else(|_| unreachable!("a well-formed id")),
                    name: "Bob's Bikes",
                }),
                Timestamp::from_millis(NOW),
            )?
            .access_token;
        assert_eq!(
            decide(Some(&format!("Bearer {token}"))),
            json!({"sub": "bob", "role": "merchant", "merchant": "Bob's Bikes", "merchant_id": "mer_b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"})
        );
        assert_eq!(
            decide(Some(&format!("bearer  {token} ")))["sub"],
            "bob",
            "the scheme is case-insensitive"
        );
        Ok(())
    }

    #[test]
    fn every_other_header_is_denied_with_its_reason() {
        assert_eq!(decide(None), json!({"denied": "missing_token"}));
        for malformed in [
            "Bearer",
            "Basic YWxpY2U6cGFzc3dvcmQ=",
            "token",
            "Bearer a b",
        ] {
            assert_eq!(
                decide(Some(malformed)),
                json!({"denied": "malformed_header"}),
                "{malformed}"
            );
        }
        assert_eq!(
            decide(Some("Bearer abc.def.ghi")),
            json!({"denied": "invalid_token"})
        );
    }
}
