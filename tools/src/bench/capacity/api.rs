//! Calling payrail's HTTP handlers in process, as their Lambda functions do: a request built as
//! API Gateway delivers it (payload format 2.0, the authorizer's identity in its context), the
//! handler's response read back.

use crate::bench::BenchResult;
use lambda_http::{Body, Request, Response};
use payrail_shared::auth::{Identity, Role};
use payrail_shared::domain::MerchantId;
use serde_json::{Map, Value, json};

/// The demo merchant (SPEC §7), as the authorizer identifies her.
pub fn merchant() -> Identity {
    Identity {
        sub: "alice".to_owned(),
        role: Role::Merchant,
        merchant: Some("Alice's Shop".to_owned()),
        // Any well-formed id: in process, ownership is the identity's and the payment's alone.
        merchant_id: MerchantId::parse("mer_a11ce0000000000000000000000000a1").ok(),
    }
}

pub fn admin() -> Identity {
    Identity {
        sub: "admin".to_owned(),
        role: Role::Admin,
        merchant: None,
        merchant_id: None,
    }
}

/// One API call: the route as template.yaml names it, and what fills it.
#[derive(Debug, Clone, Default)]
pub struct ApiCall {
    pub method: &'static str,
    /// `/payments/{id}`, …
    pub route: &'static str,
    pub path_parameters: Vec<(&'static str, String)>,
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl ApiCall {
    pub fn get(route: &'static str) -> Self {
        ApiCall {
            method: "GET",
            route,
            ..Default::default()
        }
    }

    pub fn post(route: &'static str, body: Option<Value>) -> Self {
        ApiCall {
            method: "POST",
            route,
            body,
            headers: vec![("content-type", "application/json".to_owned())],
            ..Default::default()
        }
    }

    pub fn path(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.path_parameters.push((name, value.into()));
        self
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The request `caller` makes, as the handler receives it.
    pub fn request(&self, caller: &Identity) -> BenchResult<Request> {
        let mut path = self.route.to_owned();
        for (name, value) in &self.path_parameters {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let object = |pairs: &[(&'static str, String)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect::<Map<_, _>>()
        };
        let route_key = format!("{} {}", self.method, self.route);
        let event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": object(&self.headers),
            "queryStringParameters": object(&self.query),
            "pathParameters": object(&self.path_parameters),
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "payrail-bench"
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route_key,
                "stage": "$default",
                "time": "21/Nov/2026:12:00:00 +0000",
                "timeEpoch": 0,
                "authorizer": { "lambda": serde_json::to_value(caller)? }
            },
            "isBase64Encoded": false,
            "body": self.body.as_ref().map(Value::to_string),
        });
        Ok(lambda_http::request::from_str(&event.to_string())?)
    }
}

/// The JSON body of `response`, when its status is `expected`.
pub fn answer(response: &Response<Body>, expected: u16, what: &str) -> BenchResult<Value> {
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let status = response.status().as_u16();
    if status != expected {
        return Err(format!("{what}: expected {expected}, got {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// The `id` field of an answer.
pub fn id_of(answer: &Value) -> BenchResult<String> {
    Ok(answer["id"]
        .as_str()
        .ok_or("the answer has no id")?
        .to_owned())
}
