//! The smoke test's HTTP client: one timed request at a time, every response read in full and
//! searched for the test card's number before anything else looks at it, and bearer tokens
//! fetched again before they expire (30 s by default, shorter than the online wait).

use super::{Credentials, SmokeError};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A response read in full, with how long it took.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub latency: Duration,
}

impl Reply {
    /// The body as JSON, or a failure of `check` saying it is not.
    pub fn json(&self, check: &str) -> Result<Value, SmokeError> {
        serde_json::from_str(&self.text).map_err(|e| SmokeError::Body {
            check: check.to_owned(),
            reason: format!("the body is not JSON ({e}): {}", excerpt(&self.text)),
        })
    }

    /// Fails `check` unless the status is `expected`.
    pub fn expect_status(&self, check: &str, expected: StatusCode) -> Result<(), SmokeError> {
        if self.status == expected {
            return Ok(());
        }
        Err(SmokeError::Status {
            check: check.to_owned(),
            expected,
            got: self.status,
            body: excerpt(&self.text),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The start of a body for an error message. Bodies reach here only after the card-number
/// search, so this never prints a card number.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// True when `text` holds the card number, with or without separators between its digits
/// (a body could carry it as "4242 4242 …" or "4242-4242-…").
pub fn contains_card_number(text: &str, number: &str) -> bool {
    if number.is_empty() {
        return false;
    }
    if text.contains(number) {
        return true;
    }
    let digits: Vec<char> = number.chars().collect();
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(start, &c)| {
        if c != digits[0] {
            return false;
        }
        let mut matched = 0;
        for &c in &chars[start..] {
            if matched == digits.len() {
                break;
            }
            if c == digits[matched] {
                matched += 1;
            } else if c != ' ' && c != '-' {
                break;
            }
        }
        matched == digits.len()
    })
}

struct Token {
    bearer: String,
    fetched: Instant,
    lifetime: Duration,
}

pub struct ApiClient<'a> {
    http: reqwest::Client,
    base_url: &'a str,
    card_number: &'a str,
}

impl<'a> ApiClient<'a> {
    pub fn new(
        base_url: &'a str,
        card_number: &'a str,
        request_timeout: Duration,
    ) -> Result<ApiClient<'a>, SmokeError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .user_agent(concat!("payrail-smoke/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SmokeError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(ApiClient {
            http,
            base_url: base_url.trim_end_matches('/'),
            card_number,
        })
    }

    /// Sends one request and reads the whole response; fails `check` if the request fails or
    /// the response contains the card number.
    pub async fn send(
        &self,
        check: &str,
        method: Method,
        path: &str,
        prepare: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Reply, SmokeError> {
        let url = format!("{}{path}", self.base_url);
        let request = prepare(self.http.request(method.clone(), &url));
        let started = Instant::now();
        let failed = |e: reqwest::Error| SmokeError::Request {
            check: check.to_owned(),
            cause: error_chain(&e),
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(failed)?;
        let latency = started.elapsed();
        let leaked = contains_card_number(&text, self.card_number)
            || headers.values().any(|v| {
                contains_card_number(&String::from_utf8_lossy(v.as_bytes()), self.card_number)
            });
        if leaked {
            return Err(SmokeError::CardNumberLeaked {
                check: check.to_owned(),
                target: format!("{method} {path}"),
            });
        }
        Ok(Reply {
            status,
            headers,
            text,
            latency,
        })
    }
}

/// A user's bearer token, fetched again once half its lifetime has passed.
pub struct Session<'a> {
    credentials: &'a Credentials,
    token: Option<Token>,
}

impl<'a> Session<'a> {
    pub fn new(credentials: &'a Credentials) -> Session<'a> {
        Session {
            credentials,
            token: None,
        }
    }

    /// POST /auth/token, checked: 200, `token_type` Bearer, a token and a positive lifetime.
    pub async fn log_in(&mut self, api: &ApiClient<'_>, check: &str) -> Result<Reply, SmokeError> {
        let body = json!({
            "username": self.credentials.username,
            "password": self.credentials.password.expose(),
        });
        let reply = api
            .send(check, Method::POST, "/auth/token", |r| r.json(&body))
            .await?;
        reply.expect_status(check, StatusCode::OK)?;
        let answer = reply.json(check)?;
        let bad = |reason: &str| SmokeError::Body {
            check: check.to_owned(),
            reason: reason.to_owned(),
        };
        if answer["token_type"] != "Bearer" {
            return Err(bad("token_type is not \"Bearer\""));
        }
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no access_token"))?;
        let expires_in = answer["expires_in"]
            .as_u64()
            .filter(|&s| s > 0)
            .ok_or_else(|| bad("expires_in is not a positive integer"))?;
        self.token = Some(Token {
            bearer: format!("Bearer {token}"),
            fetched: Instant::now(),
            lifetime: Duration::from_secs(expires_in),
        });
        Ok(reply)
    }

    /// The `Authorization` value, logging in again (untimed, unreported) when the token has
    /// used half its lifetime.
    pub async fn bearer(&mut self, api: &ApiClient<'_>, check: &str) -> Result<String, SmokeError> {
        let fresh = self
            .token
            .as_ref()
            .is_some_and(|t| t.fetched.elapsed() < t.lifetime / 2);
        if !fresh {
            self.log_in(api, check).await?;
        }
        Ok(self
            .token
            .as_ref()
            .map(|t| t.bearer.clone())
            .unwrap_or_default())
    }
}

/// An error with its causes, "outer: inner: …".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBER: &str = "4242424242424242";

    #[test]
    fn finds_the_card_number_written_plainly() {
        assert!(contains_card_number(
            r#"{"card":{"number":"4242424242424242"}}"#,
            NUMBER
        ));
    }

    #[test]
    fn finds_the_card_number_written_in_groups() {
        assert!(contains_card_number("card 4242 4242 4242 4242 ok", NUMBER));
        assert!(contains_card_number("card 4242-4242-4242-4242", NUMBER));
    }

    #[test]
    fn a_masked_number_is_not_the_card_number() {
        assert!(!contains_card_number(
            r#"{"masked":"424242******4242","bin":"424242","last4":"4242"}"#,
            NUMBER
        ));
    }

    #[test]
    fn digits_split_by_other_characters_are_not_the_card_number() {
        assert!(!contains_card_number("42424242,42424242", NUMBER));
    }

    #[test]
    fn an_excerpt_cuts_long_bodies_on_a_character_boundary() {
        let long = "é".repeat(400);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
