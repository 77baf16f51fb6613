//! Reading query parameters into typed values, collecting every bad field at once.

use super::problem::{ApiError, FieldError};
use std::collections::BTreeMap;

/// The query string as API Gateway hands it over (repeated keys joined by commas).
pub struct Params {
    values: BTreeMap<String, String>,
    errors: Vec<FieldError>,
}

impl Params {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>, known: &[&str]) -> Self {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for (key, value) in pairs {
            if !known.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    &key,
                    format!(
                        "is not a parameter of this route (expected one of: {})",
                        known.join(", ")
                    ),
                ));
            } else if let Some(previous) = values.insert(key.clone(), value) {
                values.insert(key, format!("{previous},"));
            }
        }
        Params { values, errors }
    }

    pub fn raw(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    /// Parses an optional parameter; a present but invalid one is recorded as an error.
    pub fn optional<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.values.get(field)?;
        match parse(raw) {
            Ok(value) => Some(value),
            Err(err) => {
                self.errors.push(FieldError::new(field, err));
                None
            }
        }
    }

    /// Parses a required parameter; absence is an error too.
    pub fn required<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if !self.values.contains_key(field) {
            self.errors.push(FieldError::new(field, "is required"));
            return None;
        }
        self.optional(field, parse)
    }

    pub fn error(&mut self, field: &str, message: impl std::fmt::Display) {
        self.errors.push(FieldError::new(field, message));
    }

    /// All parsed values, or a 422 naming every invalid field.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if !self.errors.is_empty() {
            return Err(ApiError::Invalid(self.errors));
        }
        build().ok_or_else(|| ApiError::Internal("a parsed parameter went missing".to_owned()))
    }
}

/// An integer parameter, with a message that says what was expected.
pub fn integer(raw: &str, min: i64, max: i64) -> Result<i64, String> {
    let message = || format!("must be an integer from {min} to {max}");
    let value: i64 = raw.trim().parse().map_err(|_| message())?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(message())
    }
}
