//! The caller, as the Lambda authorizer put it into the request context, and the two checks
//! every handler makes with it: admin-only routes, and merchant isolation. Ownership is decided
//! by the merchant's immutable id, never by its display name.

use super::token::Role;
use crate::domain::MerchantId;
use crate::http::{ApiError, AuthFailure};
use serde::{Deserialize, Serialize};

/// Who is calling. Handlers take it only from the authorizer's context, never from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    pub role: Role,
    /// The display name of the merchant a merchant user acts for (the default `vendor`);
    /// absent for admins (API Gateway context values cannot be null). Owns nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// The merchant's immutable id: what every ownership decision compares. Always present for
    /// a merchant ([`Identity::from_context`] refuses a merchant without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<MerchantId>,
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
        // A merchant's token without a merchant id (issued before owner ids, so at most one
        // token lifetime old) is refused: it would own nothing.
        serde_json::from_value::<Identity>(context.clone())
            .ok()
            .filter(|i| !i.sub.is_empty())
            .filter(|i| i.role == Role::Admin || i.merchant_id.is_some())
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

    /// The merchant a merchant caller acts for; `None` for an admin.
    pub fn own_merchant(&self) -> Option<&MerchantId> {
        match self.role {
            Role::Merchant => self.merchant_id.as_ref(),
            Role::Admin => None,
        }
    }

    /// Whether the caller may see a resource owned by `owner` (a payment's stored owner, a
    /// merchant id; none for unowned history). Another merchant's resource is reported as not
    /// found, so its existence does not leak.
    pub fn may_see(&self, owner: Option<&str>) -> Result<(), ApiError> {
        match (self.role, self.own_merchant(), owner) {
            (Role::Admin, _, _) => Ok(()),
            (Role::Merchant, Some(mine), Some(owner)) if mine.as_str() == owner => Ok(()),
            (Role::Merchant, _, _) => Err(ApiError::NotFound),
        }
    }

    /// The merchant the caller acts for when it changes a resource owned by `owner` (a
    /// refund): a merchant for its own; an admin only for the reserved upstream merchant, whose
    /// payments have no merchant to act for them. Another merchant's resource is not found; an
    /// admin on a merchant's payment is forbidden (the admin can read it, so a 404 would lie).
    pub fn acting_for(&self, owner: Option<&str>) -> Result<MerchantId, ApiError> {
        self.may_see(owner)?;
        match (self.own_merchant(), owner) {
            (Some(mine), _) => Ok(mine.clone()),
            (None, Some(MerchantId::UPSTREAM)) => Ok(MerchantId::upstream()),
            (None, _) => Err(ApiError::Forbidden(
                "Admins act only for the upstream merchant's payments; a merchant's are refunded by that merchant.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merchant(name: &str, id: &MerchantId) -> Identity {
        Identity {
            sub: "alice".to_owned(),
            role: Role::Merchant,
            merchant: Some(name.to_owned()),
            merchant_id: Some(id.clone()),
        }
    }

    fn admin() -> Identity {
        Identity {
            sub: "admin".to_owned(),
            role: Role::Admin,
            merchant: None,
            merchant_id: None,
        }
    }

    #[test]
    fn a_merchant_sees_only_what_its_id_owns_and_others_are_not_found() {
        let alices = MerchantId::new();
        let alice = merchant("Alice's Shop", &alices);
        assert!(alice.may_see(Some(alices.as_str())).is_ok());
        assert!(matches!(
            alice.may_see(Some(MerchantId::new().as_str())),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(alice.may_see(None), Err(ApiError::NotFound)));
    }

    #[test]
    fn a_merchant_with_another_merchants_name_sees_nothing_of_it() {
        let alices = MerchantId::new();
        let impostor = merchant("Alice's Shop", &MerchantId::new());
        for owner in [alices.as_str(), "Alice's Shop"] {
            assert!(matches!(
                impostor.may_see(Some(owner)),
                Err(ApiError::NotFound)
            ));
        }
    }

    #[test]
    fn nobody_but_an_admin_acts_for_the_upstream_merchant() {
        let upstream = Some(MerchantId::UPSTREAM);
        assert_eq!(
            admin().acting_for(upstream).ok(),
            Some(MerchantId::upstream())
        );
        let named_upstream = merchant("upstream", &MerchantId::new());
        assert!(matches!(
            named_upstream.acting_for(upstream),
            Err(ApiError::NotFound)
        ));
        let alices = MerchantId::new();
        assert!(matches!(
            admin().acting_for(Some(alices.as_str())),
            Err(ApiError::Forbidden(_))
        ));
        assert_eq!(
            merchant("Alice's Shop", &alices)
                .acting_for(Some(alices.as_str()))
                .ok(),
            Some(alices)
        );
    }

    #[test]
    fn only_admins_pass_the_admin_check() {
        assert!(admin().require_admin().is_ok() && admin().may_see(Some("x")).is_ok());
        assert!(matches!(
            merchant("x", &MerchantId::new()).require_admin(),
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
        let ok = Identity::from_context(Some(&json!({
            "sub": "bob", "role": "merchant", "merchant": "Bob's Bikes",
            "merchant_id": "mer_b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
        })));
        assert_eq!(
            ok.ok().and_then(|i| i.merchant_id).map(String::from),
            Some("mer_b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0".to_owned())
        );
        assert!(
            matches!(
                Identity::from_context(Some(
                    &json!({"sub": "bob", "role": "merchant", "merchant": "Bob's Bikes"})
                )),
                Err(ApiError::Unauthorized(AuthFailure::InvalidToken))
            ),
            "a merchant token of before owner ids owns nothing"
        );
    }
}
