//! API Gateway HTTP API payload format 2.0: building the event a function receives and
//! reading the response it returns.
//!
//! The event is built as `aws_lambda_events`' [`ApiGatewayV2httpRequest`] (the type `lambda_http`
//! parses it into), then serialised without the fields that type keeps for Custom Authorizer v1
//! payloads (`type`, `methodArn`, `httpMethod`, …), which real HTTP API events do not carry.
//!
//! The response is read with a local, lenient type rather than `ApiGatewayV2httpResponse`: that
//! type requires `cookies`, while API Gateway accepts a response object without it, and a
//! response without `statusCode` (any JSON value) means 200 with that JSON as the body.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::routes::{RouteMatch, percent_decode};
use crate::local::template::LOCAL_ACCOUNT_ID;

/// The `apiId` of the local API.
pub const LOCAL_API_ID: &str = "local";

/// A request as the emulation received it.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: String,
    /// The percent-encoded path, without the query string.
    pub raw_path: String,
    /// The query string without `?` (empty when none).
    pub raw_query: String,
    /// Header names as received; repeated headers appear repeatedly.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub source_ip: String,
    /// `HTTP/1.1`, …
    pub protocol: String,
}

/// Builds the payload format 2.0 event for a matched request.
pub fn build_event(
    request: &IncomingRequest,
    matched: &RouteMatch<'_>,
    request_id: &str,
    now: OffsetDateTime,
) -> anyhow::Result<serde_json::Value> {
    // Headers: lower-cased, repeated ones joined with commas; cookies go to `cookies`.
    let mut joined: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        match joined.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => joined.push((name, value)),
        }
    }
    let header = |name: &str| {
        joined
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let user_agent = header("user-agent");
    let host = header("host").unwrap_or_else(|| "localhost".to_owned());
    let forwarded_for = match header("x-forwarded-for") {
        Some(chain) => format!("{chain}, {}", request.source_ip),
        None => request.source_ip.clone(),
    };
    let port = host.rsplit_once(':').map_or("80", |(_, p)| p).to_owned();
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http".to_owned()),
    ] {
        match joined.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => joined.push((name.to_owned(), value)),
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in joined {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let Ok(value) = HeaderValue::from_str(&value) else {
            continue;
        };
        headers.insert(name, value);
    }

    let method = Method::from_bytes(request.method.as_bytes()).context("request method")?;
    let route_key = matched.route.route_key();
    let (body, is_base64_encoded) = if request.body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(&request.body) {
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (Some(BASE64.encode(&request.body)), true),
        }
    };
    let domain_prefix = host.split(['.', ':']).next().unwrap_or_default().to_owned();

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method;
    http.path = Some(request.raw_path.clone());
    http.protocol = Some(request.protocol.clone());
    http.source_ip = Some(request.source_ip.clone());
    http.user_agent = user_agent;

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.clone());
    context.account_id = Some(LOCAL_ACCOUNT_ID.to_owned());
    context.stage = Some("$default".to_owned());
    context.request_id = Some(request_id.to_owned());
    context.apiid = Some(LOCAL_API_ID.to_owned());
    context.domain_name = Some(host);
    context.domain_prefix = Some(domain_prefix);
    context.time = Some(
        now.format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .context("formatting the request time")?,
    );
    context.time_epoch = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(route_key);
    event.raw_path = Some(request.raw_path.clone());
    event.raw_query_string = Some(request.raw_query.clone());
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers;
    event.query_string_parameters = query_parameters(&request.raw_query);
    event.path_parameters = matched.path_parameters.clone();
    event.request_context = context;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;

    let mut json = serde_json::to_value(&event).context("serialising the event")?;
    if let Some(map) = json.as_object_mut() {
        for key in [
            "type",
            "methodArn",
            "httpMethod",
            "identitySource",
            "authorizationToken",
            "resource",
        ] {
            map.remove(key);
        }
        if map
            .get("stageVariables")
            .and_then(serde_json::Value::as_object)
            .is_some_and(serde_json::Map::is_empty)
        {
            map.remove("stageVariables");
        }
    }
    Ok(json)
}

/// Parses a raw query string as API Gateway does: `+` is a space, values are percent-decoded,
/// repeated keys keep every value (serialised joined with commas).
pub fn query_parameters(raw_query: &str) -> QueryMap {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode(&s.replace('+', " "));
        map.entry(decode(k)).or_default().push(decode(v));
    }
    QueryMap::from(map)
}

/// A function's response in payload format 2.0.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Response {
    status_code: u16,
    #[serde(default)]
    headers: HashMap<String, serde_json::Value>,
    #[serde(default)]
    multi_value_headers: HashMap<String, Vec<serde_json::Value>>,
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The HTTP response API Gateway makes of a function's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lower-cased; repeated names (`set-cookie`, …) appear repeatedly.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Interprets a function's output: a response object (with `statusCode`) or, as API Gateway
/// does, any other JSON value as a 200 `application/json` body.
pub fn convert_response(output: &[u8]) -> anyhow::Result<HttpResponse> {
    let value: serde_json::Value =
        serde_json::from_slice(output).context("the function's output is not JSON")?;
    let is_response = value
        .as_object()
        .is_some_and(|o| o.contains_key("statusCode"));
    if !is_response {
        return Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: output.to_vec(),
        });
    }
    let response: V2Response =
        serde_json::from_value(value).context("the function's response object is malformed")?;
    if !(100..=599).contains(&response.status_code) {
        bail!("statusCode {} is not an HTTP status", response.status_code);
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &response.headers {
        let value = text(value).with_context(|| format!("header {name} is not a scalar"))?;
        headers.push((name.to_ascii_lowercase(), value));
    }
    for (name, values) in &response.multi_value_headers {
        let name = name.to_ascii_lowercase();
        for value in values {
            let value = text(value).with_context(|| format!("header {name} is not a scalar"))?;
            if !headers.iter().any(|(n, v)| *n == name && *v == value) {
                headers.push((name.clone(), value));
            }
        }
    }
    for cookie in response.cookies {
        headers.push(("set-cookie".to_owned(), cookie));
    }
    let body = match response.body {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) if response.is_base64_encoded => BASE64
            .decode(s.as_bytes())
            .context("the body is not valid base64")?,
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(_) => bail!("the response body is not a string"),
    };
    Ok(HttpResponse {
        status: response.status_code,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::apigw::routes::{Route, RouteTable, RouteTarget};
    use serde_json::json;

    fn request(method: &str, path: &str, query: &str, body: &[u8]) -> IncomingRequest {
        IncomingRequest {
            method: method.into(),
            raw_path: path.into(),
            raw_query: query.into(),
            headers: vec![
                ("Host".into(), b"127.0.0.1:3000".to_vec()),
                ("User-Agent".into(), b"curl/8".to_vec()),
                ("X-Multi".into(), b"a".to_vec()),
                ("x-multi".into(), b"b".to_vec()),
                ("Cookie".into(), b"s=1; t=2".to_vec()),
            ],
            body: body.to_vec(),
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1".into(),
        }
    }

    fn routes() -> anyhow::Result<RouteTable> {
        let target = RouteTarget {
            function: "F".into(),
            binary: "f".into(),
            authorizer: None,
        };
        RouteTable::new(vec![
            Route::new("GET", "/transactions", target.clone())?,
            Route::new("POST", "/payments/{id}/refunds", target)?,
        ])
    }

    #[test]
    fn repeated_query_parameters_are_joined_with_commas_and_decoded() -> anyhow::Result<()> {
        let t = routes()?;
        let req = request(
            "GET",
            "/transactions",
            "days=7&card_type=visa&card_type=amex&q=a+b%2Fc",
            b"",
        );
        let m = t.find("GET", "/transactions").context("route")?;
        let event = build_event(&req, &m, "rid", OffsetDateTime::UNIX_EPOCH)?;
        assert_eq!(
            event["queryStringParameters"],
            json!({"days": "7", "card_type": "visa,amex", "q": "a b/c"})
        );
        assert_eq!(
            event["rawQueryString"],
            "days=7&card_type=visa&card_type=amex&q=a+b%2Fc"
        );
        Ok(())
    }

    #[test]
    fn the_event_carries_the_route_key_lower_cased_headers_cookies_and_context()
    -> anyhow::Result<()> {
        let t = routes()?;
        let req = request("GET", "/transactions", "", b"");
        let m = t.find("GET", "/transactions").context("route")?;
        let event = build_event(&req, &m, "rid-1", OffsetDateTime::UNIX_EPOCH)?;
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /transactions");
        assert_eq!(event["rawPath"], "/transactions");
        assert_eq!(event["headers"]["x-multi"], "a,b");
        assert_eq!(event["headers"]["user-agent"], "curl/8");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["s=1", "t=2"]));
        let ctx = &event["requestContext"];
        assert_eq!(ctx["stage"], "$default");
        assert_eq!(ctx["requestId"], "rid-1");
        assert_eq!(ctx["routeKey"], "GET /transactions");
        assert_eq!(ctx["http"]["method"], "GET");
        assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(ctx["time"], "01/Jan/1970:00:00:00 +0000");
        assert_eq!(ctx["timeEpoch"], 0);
        assert!(event.get("httpMethod").is_none() && event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);
        // lambda_http reads it back as an HTTP API request.
        let parsed: ApiGatewayV2httpRequest = serde_json::from_value(event)?;
        assert_eq!(parsed.request_context.http.method, Method::GET);
        Ok(())
    }

    #[test]
    fn a_binary_body_is_base64_encoded_and_a_text_body_is_not() -> anyhow::Result<()> {
        let t = routes()?;
        let m = t.find("POST", "/payments/p1/refunds").context("route")?;
        let binary = request("POST", "/payments/p1/refunds", "", &[0xff, 0x00, 0xfe]);
        let event = build_event(&binary, &m, "r", OffsetDateTime::UNIX_EPOCH)?;
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wD+");
        assert_eq!(event["pathParameters"], json!({"id": "p1"}));

        let text = request("POST", "/payments/p1/refunds", "", br#"{"amount":1}"#);
        let event = build_event(&text, &m, "r", OffsetDateTime::UNIX_EPOCH)?;
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["body"], r#"{"amount":1}"#);
        Ok(())
    }

    #[test]
    fn a_response_object_becomes_status_headers_cookies_and_decoded_body() -> anyhow::Result<()> {
        let out = json!({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-N": 3},
            "multiValueHeaders": {"x-m": ["1", "2"]},
            "cookies": ["a=1"],
            "body": "aGk=",
            "isBase64Encoded": true
        });
        let r = convert_response(out.to_string().as_bytes())?;
        assert_eq!(r.status, 201);
        assert_eq!(r.body, b"hi");
        for h in [
            ("content-type", "text/plain"),
            ("x-n", "3"),
            ("x-m", "1"),
            ("x-m", "2"),
            ("set-cookie", "a=1"),
        ] {
            assert!(
                r.headers.contains(&(h.0.to_owned(), h.1.to_owned())),
                "{h:?} in {:?}",
                r.headers
            );
        }
        Ok(())
    }

    #[test]
    fn a_bare_json_value_becomes_a_200_json_response() -> anyhow::Result<()> {
        let r = convert_response(br#"{"count": 3}"#)?;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"count": 3}"#);
        assert_eq!(
            r.headers,
            [("content-type".to_owned(), "application/json".to_owned())]
        );
        assert!(convert_response(b"not json").is_err());
        assert!(convert_response(br#"{"statusCode": 200, "body": {"x": 1}}"#).is_err());
        Ok(())
    }
}
