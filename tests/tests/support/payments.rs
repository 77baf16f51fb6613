//! The payment routes as a demo merchant (or the admin) calls them, with every response checked
//! for card data, fresh accounts of their own for tests that count payments, and polling.

use super::api::{Api, Error};
use payrail_shared::accounts::{Account, DynamoAccounts};
use payrail_shared::domain::{AccountId, Clock, SystemClock};
use rand::Rng;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Every card number the payment tests send (brand, number, its CVC length). Each response is
/// searched for all of them.
pub const CARDS: [(&str, &str, &str); 8] = [
    ("visa", "4111111111111111", "123"),
    ("mastercard", "5555555555554444", "321"),
    ("amex", "378282246310005", "7373"),
    ("discover", "6011111111111117", "456"),
    ("jcb", "3566002020360505", "654"),
    ("diners", "36227206271667", "789"),
    ("unionpay", "6200000000000005", "987"),
    ("visa", "4242424242424242", "111"),
];

/// Wallet tokens the tests send: no response may contain one.
pub const WALLET_TOKENS: [&str; 3] = [
    "tok_paypal_SECRET_6f1c2b7e9d4a",
    "tok_apple_SECRET_4e0b8c3f2a5d",
    "tok_google_SECRET_7e9b1c40aa11",
];

pub const VISA: &str = CARDS[0].1;

/// A response: status, headers, the raw text and the text as JSON (or as a JSON string).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// The fields a 4xx problem names.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// No response carries a card number, a CVC or a wallet token, in any form.
fn assert_no_card_data(answer: &Answer, what: &str) {
    for (_, number, cvc) in CARDS {
        assert!(
            !answer.text.contains(number),
            "{what}: a card number in the response: {}",
            answer.status
        );
        assert!(
            !answer.text.contains(&format!("\"{cvc}\"")),
            "{what}: a CVC in the response"
        );
    }
    for token in WALLET_TOKENS {
        assert!(
            !answer.text.contains(token),
            "{what}: a wallet token in the response"
        );
    }
    fn keys_ok(value: &Value) -> bool {
        match value {
            Value::Object(map) => map
                .iter()
                .all(|(k, v)| !matches!(k.as_str(), "cvc" | "number" | "token") && keys_ok(v)),
            Value::Array(items) => items.iter().all(keys_ok),
            _ => true,
        }
    }
    assert!(
        keys_ok(&answer.body),
        "{what}: a cvc, number or token field in the response"
    );
}

/// Tokens are renewed after this long (they live `TOKEN_TTL_SECONDS`, 30 s by default).
const RENEW_AFTER: Duration = Duration::from_secs(10);

/// A demo user's session: the token renewed as needed, and requests to the payment routes.
pub struct Session<'a> {
    pub api: &'a Api,
    pub user: &'static str,
    token: Mutex<Option<(String, Instant)>>,
}

impl<'a> Session<'a> {
    pub fn new(api: &'a Api, user: &'static str) -> Self {
        Session {
            api,
            user,
            token: Mutex::new(None),
        }
    }

    pub async fn authorization(&self) -> Result<String, Error> {
        let mut token = self.token.lock().await;
        if let Some((value, at)) = token.as_ref()
            && at.elapsed() < RENEW_AFTER
        {
            return Ok(format!("Bearer {value}"));
        }
        let value = self.api.login(self.user).await?;
        *token = Some((value.clone(), Instant::now()));
        Ok(format!("Bearer {value}"))
    }

    /// A request with this session's token; `configure` adds headers and a body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        configure: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Answer, Error> {
        let builder = self
            .api
            .http
            .request(method.clone(), format!("{}{path}", self.api.base))
            .header("authorization", self.authorization().await?);
        let response = configure(builder).send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        let answer = Answer {
            status,
            headers,
            text,
            body,
        };
        let what = format!("{} {method} {path}", self.user);
        assert_no_card_data(&answer, &what);
        assert!(
            answer.status < 500,
            "{what}: {} {}",
            answer.status,
            answer.text
        );
        if answer.status >= 400 {
            assert_eq!(
                answer.content_type(),
                "application/problem+json",
                "{what}: {}",
                answer.text
            );
            assert_eq!(answer.body["status"], answer.status, "{what}");
        }
        Ok(answer)
    }

    /// POST /payments with this JSON body.
    pub async fn create(&self, body: &Value) -> Result<Answer, Error> {
        self.request(Method::POST, "/payments", |r| r.json(body))
            .await
    }

    /// POST /payments with this JSON body and Idempotency-Key.
    pub async fn create_with_key(&self, body: &Value, key: &str) -> Result<Answer, Error> {
        self.request(Method::POST, "/payments", |r| {
            r.header("Idempotency-Key", key).json(body)
        })
        .await
    }

    /// POST /payments with a raw body and content type (none when `None`).
    pub async fn create_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> Result<Answer, Error> {
        let body = body.into();
        self.request(Method::POST, "/payments", |r| {
            let r = r.body(body);
            match content_type {
                Some(value) => r.header("content-type", value),
                None => r,
            }
        })
        .await
    }

    pub async fn process(&self, id: &str) -> Result<Answer, Error> {
        self.request(Method::POST, &format!("/payments/{id}/process"), |r| r)
            .await
    }

    pub async fn get(&self, path: &str) -> Result<Answer, Error> {
        self.request(Method::GET, path, |r| r).await
    }

    /// Every page of GET /payments?<query>, `limit` at a time: the ids in order, each page's
    /// payments checked against `has_more` and `next_cursor`.
    pub async fn list_all(&self, query: &str, limit: u16) -> Result<Vec<Value>, Error> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut path = format!("/payments?{query}&limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode(c)));
            }
            let page = self.get(&path).await?;
            assert_eq!(page.status, 200, "{path}: {}", page.text);
            let data = page.body["data"].as_array().cloned().unwrap_or_default();
            assert!(data.len() <= usize::from(limit), "{path}: page too long");
            let has_more = page.body["has_more"].as_bool();
            cursor = page.body["next_cursor"].as_str().map(str::to_owned);
            assert_eq!(has_more, Some(cursor.is_some()), "{path}: {}", page.text);
            if has_more == Some(true) {
                assert_eq!(data.len(), usize::from(limit), "{path}: a short page");
            }
            all.extend(data);
            if cursor.is_none() {
                return Ok(all);
            }
        }
        Err("more than 1000 pages".into())
    }

    /// Polls GET /payments/{id} until its status is one of `wanted` (or the deadline passes).
    pub async fn await_status(
        &self,
        id: &str,
        wanted: &[&str],
        within: Duration,
    ) -> Result<Answer, Error> {
        let deadline = Instant::now() + within;
        loop {
            let answer = self.get(&format!("/payments/{id}")).await?;
            let status = answer.body["status"].as_str().unwrap_or_default();
            if answer.status == 200 && wanted.contains(&status) {
                return Ok(answer);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "payment {id} still {} {status} after {within:?}, wanted {wanted:?}",
                    answer.status
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A valid card payment body for `account` (offline, processed, Visa, GBP 133.70).
pub fn card_body(account: u64) -> Value {
    json!({
        "account_id": account,
        "amount": 13370,
        "currency": "GBP",
        "payment_type": "offline",
        "method": "credit_card",
        "card": {"number": VISA, "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        "address": "1 Test Street, London",
        "country": "GB"
    })
}

/// `body` with `value` set at each JSON pointer (`/card/number`); a `Value::Null` removes the
/// field instead.
pub fn with(body: &Value, changes: &[(&str, Value)]) -> Value {
    let mut body = body.clone();
    for (pointer, value) in changes {
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(Value::Object(map)) = body.pointer_mut(parent) {
            if value.is_null() {
                map.remove(key);
            } else {
                map.insert(key.to_owned(), value.clone());
            }
        }
    }
    body
}

/// A paying account of the test's own, created in the accounts table (ids far above the seeded
/// 1..=500 and the 999 999 the tests use as unknown), so that counting its payments counts only
/// the test's.
pub async fn fresh_account() -> Result<u64, Error> {
    let Some(client) = super::dynamodb().await else {
        return Err("no DynamoDB".into());
    };
    let table = std::env::var("ACCOUNTS_TABLE")?;
    let accounts = DynamoAccounts::new(client, table);
    loop {
        let id = rand::rng().random_range(1_000_000_000..2_000_000_000u64);
        let account = Account {
            account_id: AccountId::new(id),
            email: format!("test{id}@example.com"),
            birthdate: "1990-04-01".to_owned(),
            last_payment_date: None,
            created_at: SystemClock.now(),
        };
        if accounts.add(&account).await? {
            return Ok(id);
        }
    }
}
