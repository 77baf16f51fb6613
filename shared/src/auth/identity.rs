//! The caller, as the Lambda authorizer put it into the request context, and the two checks
//! every handler makes with it: admin-only routes, and merchant isolation.

use super::token::Role;
use crate::http::{ApiError, AuthFailure};
use serde::{Deserialize, Serialize};

/// Who is calling. Handlers take it only from the authorizer's context, never from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    pub role: Role,
    /// The merchant a merchant user acts for; absent for admins (API Gateway context values
    /// cannot be null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
}

/// What the authorizer puts in the context when it cannot identify the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied {
    pub denied: AuthFailure,
}

impl Identity {
    /// Reads the authorizer context (`requestContext.authorizer.lambda`). A `denied` context is
    /// a 401 with the authorizer's reason; an absent or malformed one means no authorizer ran,
    /// which is a 401 too, never an anonymous pass.
    pub fn from_context(context: Option<&serde_json::Value>) -> Result<Identity, ApiError> {
        let Some(context) = context else {
            return Err(ApiError::Unauthorized(AuthFailure::MissingToken));
        };
        if let Ok(Denied { denied }) = serde_json::from_value::<Denied>(context.clone()) {
            return Err(ApiError::Unauthorized(denied));
        }
        serde_json::from_value::<Identity>(context.clone())
            .ok()
            .filter(|i| !i.sub.is_empty())
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))
    }

    /// The identity of a request as API Gateway delivered it (`requestContext.authorizer.lambda`).
    pub fn from_request(request: &lambda_http::Request) -> Result<Identity, ApiError> {
        use lambda_http::RequestExt as _;
        use lambda_http::request::RequestContext;
        let context = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .filter(|a| !a.fields.is_empty())
                .map(|a| {
                    serde_json::Value::Object(
                        a.fields
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    )
                }),
            _ => None,
        };
        Identity::from_context(context.as_ref())
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Merchant => Err(ApiError::Forbidden("This route is for admins only.")),
        }
    }

    /// Whether the caller may see a resource owned by `owner` (a merchant name). Another
    /// merchant's resource is reported as not found, so its existence does not leak.
    pub fn may_see(&self, owner: &str) -> Result<(), ApiError> {
        match (self.role, self.merchant.as_deref()) {
            (Role::Admin, _) => Ok(()),
            (Role::Merchant, Some(mine)) if mine == owner => Ok(()),
            (Role::Merchant, _) => Err(ApiError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merchant(name: &str) -> Identity {
        Identity {
            sub: "alice".to_owned(),
            role: Role::Merchant,
            merchant: Some(name.to_owned()),
        }
    }

    #[test]
    fn a_merchant_sees_only_its_own_and_others_are_not_found() {
        assert!(merchant("Alice's Shop").may_see("Alice's Shop").is_ok());
        assert!(matches!(
            merchant("Alice's Shop").may_see("Bob's Bikes"),
            Err(ApiError::NotFound)
        ));
    }

    #[test]
    fn only_admins_pass_the_admin_check() {
        let admin = Identity {
            sub: "admin".to_owned(),
            role: Role::Admin,
            merchant: None,
        };
        assert!(admin.require_admin().is_ok() && admin.may_see("Bob's Bikes").is_ok());
        assert!(matches!(
            merchant("x").require_admin(),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn missing_or_malformed_context_is_unauthorized() {
        assert!(matches!(
            Identity::from_context(None),
            Err(ApiError::Unauthorized(AuthFailure::MissingToken))
        ));
        assert!(matches!(
            Identity::from_context(Some(&json!({"role": "admin"}))),
            Err(ApiError::Unauthorized(AuthFailure::InvalidToken))
        ));
        assert!(matches!(
            Identity::from_context(Some(&json!({"sub": "", "role": "admin"}))),
            Err(ApiError::Unauthorized(AuthFailure::InvalidToken))
        ));
        assert!(matches!(
            Identity::from_context(Some(&json!({"denied": "expired_token"}))),
            Err(ApiError::Unauthorized(AuthFailure::ExpiredToken))
        ));
        let ok = Identity::from_context(Some(
            &json!({"sub": "bob", "role": "merchant", "merchant": "Bob's Bikes"}),
        ));
        assert_eq!(
            ok.ok().and_then(|i| i.merchant),
            Some("Bob's Bikes".to_owned())
        );
    }
}
