//! Authentication: 30-second access tokens (JWT, HS256 pinned), argon2id password hashes, and
//! the caller's identity as the authorizer hands it to the handlers.

pub mod attempts;
pub mod authorizer;
pub mod identity;
pub mod password;
pub mod token;

pub use identity::{Denied, Identity};
pub use password::{PasswordHash, hash_password, verify_password};
pub use token::{
    AccessToken, ActingFor, Claims, EmptyScope, Role, SIGNING_KEY_VAR, SigningKey, SigningKeyError,
    TokenError, TokenIssuer, TokenScope, TokenVerifier,
};
