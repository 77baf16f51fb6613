//! The local stack's HTTP API as a client sees it, with the demo users' tokens.

use super::service;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A response: status, content type, body (JSON, or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<String>,
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    /// The admin's token and when it was issued, renewed well before its 30 s run out.
    admin: Mutex<Option<(String, Instant)>>,
}

/// Tokens are renewed after this long (they live `TOKEN_TTL_SECONDS`, 30 s by default).
const RENEW_AFTER: Duration = Duration::from_secs(10);

impl Api {
    pub fn new() -> Option<Api> {
        Some(Api {
            base: service("PAYRAIL_API_URL")?,
            http: reqwest::Client::new(),
            admin: Mutex::new(None),
        })
    }

    /// The same API as seen from another client address: the client binds its side of the
    /// connection to `source` (any 127.x.y.z reaches the stack on Linux), and the API Gateway
    /// emulation reports the TCP peer as `sourceIp`, as API Gateway does.
    pub fn seen_from(&self, source: std::net::IpAddr) -> Result<Api, Error> {
        Ok(Api {
            base: self.base.clone(),
            http: reqwest::Client::builder().local_address(source).build()?,
            admin: Mutex::new(None),
        })
    }

    pub fn demo_password() -> String {
        std::env::var("PAYRAIL_DEMO_PASSWORD").unwrap_or_else(|_| "password".to_owned())
    }

    /// POST /auth/token with this body.
    pub async fn token_request(&self, body: &Value) -> Result<Reply, Error> {
        self.send_raw(
            self.http
                .post(format!("{}/auth/token", self.base))
                .json(body),
        )
        .await
    }

    /// A fresh token for a demo user.
    pub async fn login(&self, username: &str) -> Result<String, Error> {
        let reply = self
            .token_request(&json!({"username": username, "password": Self::demo_password()}))
            .await?;
        match reply.body["access_token"].as_str() {
            Some(token) if reply.status == 200 => Ok(token.to_owned()),
            _ => Err(format!("login as {username}: {} {}", reply.status, reply.body).into()),
        }
    }

    /// The admin's current token.
    pub async fn admin_token(&self) -> Result<String, Error> {
        let mut admin = self.admin.lock().await;
        if let Some((token, at)) = admin.as_ref()
            && at.elapsed() < RENEW_AFTER
        {
            return Ok(token.clone());
        }
        let token = self.login("admin").await?;
        *admin = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    /// GET as the admin.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, Error> {
        let token = self.admin_token().await?;
        self.get_with(path_and_query, Some(&format!("Bearer {token}")))
            .await
    }

    /// GET with this Authorization header value (or none).
    pub async fn get_with(
        &self,
        path_and_query: &str,
        authorization: Option<&str>,
    ) -> Result<Reply, Error> {
        let mut request = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        self.send_raw(request).await
    }

    /// Any method, with this Authorization header value (or none) and JSON body (or none).
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send_raw(request).await
    }

    pub async fn send_raw(&self, request: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let response = request.send().await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type").unwrap_or_default();
        let www_authenticate = header("www-authenticate");
        let retry_after = header("retry-after");
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply {
            status,
            content_type,
            body,
            www_authenticate,
            retry_after,
        })
    }
}
