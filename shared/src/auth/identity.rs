//! The caller, as the Lambda authorizer put it into the request context, and the two checks
//! every handler makes with it: admin-only routes, and merchant isolation.

use super::token::Role;
use crate::http::ApiError;
use serde::Deserialize;

/// Who is calling. Handlers take it only from the authorizer's context, never from the request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    pub sub: String,
    pub role: Role,
    #[serde(default)]
    pub merchant: Option<String>,
}

impl Identity {
    /// Reads the authorizer context (`requestContext.authorizer.lambda`); absent or malformed
    /// context means no authorizer ran, which is a 401, never an anonymous pass.
    pub fn from_context(context: Option<&serde_json::Value>) -> Result<Identity, ApiError> {
        context
            .and_then(|c| serde_json::from_value::<Identity>(c.clone()).ok())
            .filter(|i| !i.sub.is_empty())
            .ok_or(ApiError::Unauthorized)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Merchant => Err(ApiError::Forbidden),
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
            Err(ApiError::Forbidden)
        ));
    }

    #[test]
    fn missing_or_malformed_context_is_unauthorized() {
        assert!(matches!(
            Identity::from_context(None),
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            Identity::from_context(Some(&json!({"role": "admin"}))),
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            Identity::from_context(Some(&json!({"sub": "", "role": "admin"}))),
            Err(ApiError::Unauthorized)
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
