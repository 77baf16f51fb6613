//! The HTTP side: request parsing, problem+json, and one handler per route.

pub mod accounts;
pub mod auth_token;
pub mod body;
pub mod cursor;
pub mod docs;
pub mod idempotent;
pub mod openapi;
pub mod params;
pub mod payments;
pub mod problem;
pub mod refunds;
pub mod transactions;

pub use problem::{ApiError, AuthFailure, FieldError, Problem};
