//! Reading a JSON request body into typed values, collecting every bad field at once and naming
//! each by its path (`card.number`). Malformed JSON is a 400; anything well-formed but wrong is
//! a 422 listing every field.

use super::problem::{ApiError, FieldError};
use lambda_http::http::{HeaderMap, header};
use serde_json::{Map, Value};

/// The request says its body is JSON (`application/json`, parameters such as `charset` allowed).
/// Anything else, or no Content-Type at all, is a 415 naming the header: a form post or a text
/// body that happens to parse as JSON is a client bug better reported than guessed around.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match essence {
        Some(media) if media.eq_ignore_ascii_case("application/json") => Ok(()),
        Some(_) => Err(ApiError::UnsupportedMediaType(FieldError::new(
            "Content-Type",
            "must be application/json",
        ))),
        None => Err(ApiError::UnsupportedMediaType(FieldError::new(
            "Content-Type",
            "is required: application/json",
        ))),
    }
}

/// Parses the body as a JSON object (400 when it is not JSON at all, 422 when it is not an object).
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::Malformed(FieldError::new("body", "is not valid JSON")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid("body", "must be a JSON object")),
    }
}

/// The fields of one JSON object, read one by one; errors are collected, not returned early.
pub struct Fields<'a> {
    prefix: String,
    object: &'a Map<String, Value>,
    errors: &'a mut Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(
        object: &'a Map<String, Value>,
        known: &[&str],
        errors: &'a mut Vec<FieldError>,
    ) -> Self {
        Self::nested("", object, known, errors)
    }

    fn nested(
        prefix: &str,
        object: &'a Map<String, Value>,
        known: &[&str],
        errors: &'a mut Vec<FieldError>,
    ) -> Self {
        for key in object.keys() {
            if !known.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    &format!("{prefix}{key}"),
                    format!(
                        "is not a field here (expected one of: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Fields {
            prefix: prefix.to_owned(),
            object,
            errors,
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn error(&mut self, name: &str, message: impl std::fmt::Display) {
        let path = self.path(name);
        self.errors.push(FieldError::new(&path, message));
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    pub fn is_present(&self, name: &str) -> bool {
        self.present(name).is_some()
    }

    /// A required field, converted by `parse`; absent, null or unconvertible → an error naming it.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.present(name) {
            None => {
                self.error(name, "is required");
                None
            }
            Some(value) => self.convert(name, value, parse),
        }
    }

    /// An optional field: absent or null is `None`, present but bad is an error.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.present(name)?;
        self.convert(name, value, parse)
    }

    fn convert<T>(
        &mut self,
        name: &str,
        value: &Value,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(name, message);
                None
            }
        }
    }

    /// A nested object, read with `read` under the prefix `name.`.
    pub fn object<T>(
        &mut self,
        name: &str,
        known: &[&str],
        read: impl FnOnce(&mut Fields<'_>) -> Option<T>,
    ) -> Option<T> {
        let value = self.present(name)?;
        let Some(map) = value.as_object() else {
            self.error(name, "must be an object");
            return None;
        };
        let prefix = format!("{}.", self.path(name));
        let mut inner = Fields::nested(&prefix, map, known, self.errors);
        read(&mut inner)
    }
}

/// A string of 1..=`max` characters (after trimming nothing: what the client sent is kept).
pub fn text(max: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |value| match value.as_str() {
        None => Err("must be a string".to_owned()),
        Some("") => Err("must not be empty".to_owned()),
        Some(s) if s.chars().count() > max => Err(format!("must be at most {max} characters")),
        Some(s) if s.chars().any(|c| c.is_control() || is_bidi_control(c)) => {
            Err("must not contain control characters".to_owned())
        }
        Some(s) => Ok(s.to_owned()),
    }
}

/// Unicode's bidirectional embedding, override and isolate controls: text holding them can show
/// as something else than it is (a vendor "Shop" reading as "pohS" on a statement).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A string parsed by a domain parser.
pub fn parsed<T, E: std::fmt::Display>(
    parse: impl Fn(&str) -> Result<T, E>,
) -> impl Fn(&Value) -> Result<T, String> {
    move |value| match value.as_str() {
        None => Err("must be a string".to_owned()),
        Some(s) => parse(s).map_err(|e| e.to_string()),
    }
}

/// An integer in `min..=max` (JSON numbers with a fraction or exponent are refused).
pub fn integer(min: u64, max: u64) -> impl Fn(&Value) -> Result<u64, String> {
    move |value| match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be between {min} and {max}")),
        None if value.is_number() => Err(format!("must be an integer between {min} and {max}")),
        None => Err("must be an integer".to_owned()),
    }
}

pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn names_missing_unknown_and_nested_fields() {
        let body = json!({"a": 1, "extra": true, "card": {"n": "x", "zz": 1}});
        let Value::Object(map) = body else {
            unreachable!()
        };
        let mut errors = Vec::new();
        let mut f = Fields::new(&map, &["a", "b", "card"], &mut errors);
        assert_eq!(f.required("a", integer(1, 5)), Some(1));
        assert_eq!(f.required("b", integer(1, 5)), None);
        let inner = f.object("card", &["n"], |c| c.required("n", integer(0, 9)));
        assert_eq!(inner, None);
        assert_eq!(names(&errors), vec!["extra", "b", "card.zz", "card.n"]);
    }

    #[test]
    fn malformed_json_is_400_and_non_objects_422() {
        assert!(matches!(object(b"{"), Err(ApiError::Malformed(_))));
        assert!(matches!(object(b"[1]"), Err(ApiError::Invalid(_))));
    }

    #[test]
    fn only_json_content_types_are_taken() {
        let headers = |value: Option<&'static str>| {
            let mut map = HeaderMap::new();
            if let Some(v) = value {
                map.insert(
                    header::CONTENT_TYPE,
                    v.parse().unwrap_or_else(|_| unreachable!()),
                );
            }
            map
        };
        for ok in ["application/json", "Application/JSON; charset=utf-8"] {
            assert!(require_json(&headers(Some(ok))).is_ok(), "{ok}");
        }
        for bad in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonx"),
            None,
        ] {
            let err = require_json(&headers(bad)).err();
            assert!(
                matches!(&err, Some(ApiError::UnsupportedMediaType(e)) if e.field == "Content-Type"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_refuses_control_and_bidi_override_characters() {
        let t = text(20);
        assert!(t(&json!("Café ☕ 東京")).is_ok());
        assert!(
            t(&json!("👩\u{200d}💻 shop")).is_ok(),
            "a ZWJ emoji is text"
        );
        for bad in ["a\u{0}b", "bell\u{7}", "\u{202e}pohS", "x\u{2066}y"] {
            assert!(t(&json!(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integers_refuse_fractions_and_strings() {
        let int = integer(1, 10);
        assert!(int(&json!(1.5)).is_err());
        assert!(int(&json!("3")).is_err());
        assert!(int(&json!(0)).is_err());
        assert_eq!(int(&json!(10)), Ok(10));
    }
}
