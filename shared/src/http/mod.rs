//! The HTTP side: request parsing, problem+json, and one handler per route.

pub mod auth_token;
pub mod cursor;
pub mod docs;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod transactions;

pub use problem::{ApiError, AuthFailure, FieldError, Problem};
