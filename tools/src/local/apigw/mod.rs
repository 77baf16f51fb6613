//! A local emulation of the API Gateway HTTP API that template.yaml declares.
//!
//! Each request goes through [`handle`]:
//! 1. route selection ([`RouteTable::find`]): no route → 404 `{"message":"Not Found"}`;
//! 2. the body is read (10 MB, API Gateway's payload limit → 413 above it);
//! 3. the payload format 2.0 event is built ([`event::build_event`]);
//! 4. the route's Lambda authorizer, if it has one, runs as API Gateway runs it ([`authorize`]):
//!    its context goes into the event's `requestContext.authorizer.lambda`;
//! 5. the function is invoked through the Lambda invoke API of `cargo lambda watch`
//!    (`POST {lambda_url}/2015-03-31/functions/{binary}/invocations`);
//! 6. its output becomes the HTTP response ([`event::convert_response`]); a function error, an
//!    unreachable runtime or a malformed response → 502 `{"message":"Internal Server Error"}`,
//!    logged.

pub mod event;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tokio::net::TcpListener;

pub use event::{HttpResponse, IncomingRequest, build_event, convert_response};
pub use routes::{
    AuthorizerRef, Route, RouteMatch, RouteTable, RouteTarget, Segment, routes_from_template,
};

/// API Gateway's request payload limit.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// API Gateway's integration timeout for HTTP APIs.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How the emulation reaches the functions.
#[derive(Debug, Clone)]
pub struct ApiGwOptions {
    /// Base URL of the Lambda invoke API (`cargo lambda watch`), e.g. `http://127.0.0.1:9000`.
    pub lambda_url: String,
    /// How long one invocation may take before the request fails (502).
    pub invoke_timeout: Duration,
}

impl ApiGwOptions {
    /// Options with API Gateway's 30 s timeout.
    pub fn new(lambda_url: &str) -> Self {
        Self {
            lambda_url: lambda_url.trim_end_matches('/').to_owned(),
            invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
        }
    }
}

struct AppState {
    routes: RouteTable,
    options: ApiGwOptions,
    client: reqwest::Client,
}

/// Serves the API on `listener` until the process ends (see [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    routes: RouteTable,
    lambda_url: &str,
) -> anyhow::Result<()> {
    serve_with(
        listener,
        routes,
        ApiGwOptions::new(lambda_url),
        std::future::pending(),
    )
    .await
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve_with(
    listener: TcpListener,
    routes: RouteTable,
    options: ApiGwOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(options.invoke_timeout)
        .build()?;
    let state = Arc::new(AppState {
        routes,
        options,
        client,
    });
    let app = Router::new().fallback(handle).with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

fn message(status: StatusCode, text: &str, request_id: &str) -> Response {
    let body = serde_json::json!({ "message": text }).to_string();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("apigw-requestid", id);
    }
    response
}

/// One request through the emulated API (see the module documentation).
async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let raw_path = parts.uri.path().to_owned();

    let Some(matched) = state.routes.find(&method, &raw_path) else {
        tracing::info!(%method, path = %raw_path, status = 404, "no route");
        return message(StatusCode::NOT_FOUND, "Not Found", &request_id);
    };
    let route_key = matched.route.route_key();
    let target = &matched.route.target;

    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            &request_id,
        );
    };
    let incoming = IncomingRequest {
        method: method.clone(),
        raw_path: raw_path.clone(),
        raw_query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
        source_ip: peer.ip().to_string(),
        protocol: format!("{:?}", parts.version),
    };

    let result = match build_event(&incoming, &matched, &request_id, OffsetDateTime::now_utc()) {
        Ok(mut event) => match authorize(&state, &matched, &event).await {
            Ok(context) => {
                if let Some(context) = context {
                    event["requestContext"]["authorizer"] =
                        serde_json::json!({ "lambda": context });
                }
                invoke(&state, &target.binary, &event).await
            }
            Err((status, text)) => return message(status, text, &request_id),
        },
        Err(e) => Err(e.context("building the event")),
    };
    let elapsed = started.elapsed().as_millis();
    match result {
        Ok(out) => {
            tracing::info!(
                %method, path = %raw_path, route = %route_key, function = %target.binary,
                status = out.status, ms = elapsed, "invoked"
            );
            into_response(out, &request_id)
        }
        Err(e) => {
            tracing::error!(
                %method, path = %raw_path, route = %route_key, function = %target.binary,
                status = 502, ms = elapsed, "invocation failed: {e:#}"
            );
            message(
                StatusCode::BAD_GATEWAY,
                "Internal Server Error",
                &request_id,
            )
        }
    }
}

/// The authorizer step, run before the route's function as API Gateway runs a REQUEST
/// authorizer (payload 2.0, simple responses). `Ok(None)`: the route has no authorizer;
/// `Ok(Some(context))`: authorized, with the context the authorizer returned; `Err`: the
/// status and message API Gateway answers with (401 missing identity source, 403 denied,
/// 500 authorizer failure).
async fn authorize(
    state: &AppState,
    matched: &RouteMatch<'_>,
    event: &serde_json::Value,
) -> Result<Option<serde_json::Value>, (StatusCode, &'static str)> {
    let Some(authorizer) = &matched.route.target.authorizer else {
        return Ok(None);
    };
    let mut identity = Vec::new();
    for name in &authorizer.identity_headers {
        match event["headers"][name.as_str()].as_str() {
            Some(value) => identity.push(value.to_owned()),
            None => return Err((StatusCode::UNAUTHORIZED, "Unauthorized")),
        }
    }
    let request = authorizer_event(event, identity);
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(
            route = %matched.route.route_key(), authorizer = %authorizer.name,
            function = %authorizer.binary, "authorizer failed: {e:#}"
        );
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    };
    let output = invoke_raw(state, &authorizer.binary, &request)
        .await
        .map_err(|e| failed(&e))?;
    let decision: SimpleResponse = serde_json::from_slice(&output).map_err(|e| failed(&e))?;
    if !decision.is_authorized {
        return Err((StatusCode::FORBIDDEN, "Forbidden"));
    }
    Ok(Some(decision.context))
}

/// The REQUEST authorizer's response with `EnableSimpleResponses`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimpleResponse {
    is_authorized: bool,
    #[serde(default = "empty_object")]
    context: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// The authorizer's payload 2.0 event: the route's event without the body, plus `type`,
/// `routeArn` and `identitySource`.
fn authorizer_event(event: &serde_json::Value, identity_source: Vec<String>) -> serde_json::Value {
    let mut request = event.clone();
    if let Some(map) = request.as_object_mut() {
        map.remove("body");
        map.remove("isBase64Encoded");
        let context = &event["requestContext"];
        let route_arn = format!(
            "arn:aws:execute-api:local:{}:{}/{}/{}{}",
            context["accountId"].as_str().unwrap_or_default(),
            context["apiId"].as_str().unwrap_or_default(),
            context["stage"].as_str().unwrap_or_default(),
            context["http"]["method"].as_str().unwrap_or_default(),
            event["rawPath"].as_str().unwrap_or_default(),
        );
        map.insert("type".to_owned(), "REQUEST".into());
        map.insert("routeArn".to_owned(), route_arn.into());
        map.insert("identitySource".to_owned(), identity_source.into());
    }
    request
}

/// Invokes a function through the Lambda invoke API and converts its output.
async fn invoke(
    state: &AppState,
    binary: &str,
    event: &serde_json::Value,
) -> anyhow::Result<HttpResponse> {
    convert_response(&invoke_raw(state, binary, event).await?)
}

/// Invokes a function through the Lambda invoke API; its output as it is.
async fn invoke_raw(
    state: &AppState,
    binary: &str,
    event: &serde_json::Value,
) -> anyhow::Result<Vec<u8>> {
    Ok(
        crate::local::invoke::invoke(&state.client, &state.options.lambda_url, binary, event)
            .await?,
    )
}

fn into_response(out: HttpResponse, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(out.body));
    *response.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    for (name, value) in out.headers {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("apigw-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `cargo lambda watch`'s invoke API: echoes the event it receives as the
    /// body of a v2 response, or fails for the binary named `broken`.
    async fn fake_lambda() -> anyhow::Result<String> {
        use axum::extract::Path;
        use axum::routing::post;
        let app = Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            post(|Path(name): Path<String>, body: String| async move {
                if name == "broken" {
                    return (
                        StatusCode::OK,
                        [("x-amz-function-error", "Unhandled")],
                        r#"{"errorType":"x","errorMessage":"boom"}"#.to_owned(),
                    );
                }
                if name == "bare" {
                    return (StatusCode::OK, [("x-bare", "1")], "[1,2]".to_owned());
                }
                if name == "authz" {
                    // Decides on the Authorization header; checks it got an authorizer event.
                    let event: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let shaped = event["type"] == "REQUEST"
                        && event.get("body").is_none()
                        && event["identitySource"][0] == event["headers"]["authorization"];
                    let output = match event["headers"]["authorization"].as_str() {
                        Some("allow") if shaped => {
                            r#"{"isAuthorized":true,"context":{"sub":"tester"}}"#
                        }
                        Some("deny") => r#"{"isAuthorized":false}"#,
                        _ => "not a decision",
                    };
                    return (StatusCode::OK, [("x-bare", "0")], output.to_owned());
                }
                let response = serde_json::json!({
                    "statusCode": 207,
                    "headers": {"content-type": "application/json", "x-fn": name},
                    "cookies": ["c=1"],
                    "body": body,
                });
                (StatusCode::OK, [("x-bare", "0")], response.to_string())
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(url)
    }

    async fn api(lambda_url: &str) -> anyhow::Result<String> {
        let target = |b: &str| RouteTarget {
            function: b.into(),
            binary: b.into(),
            authorizer: None,
        };
        let mut secured = target("echo");
        secured.authorizer = Some(AuthorizerRef {
            name: "Jwt".into(),
            api: None,
            binary: "authz".into(),
            identity_headers: vec!["authorization".into()],
        });
        let routes = RouteTable::new(vec![
            Route::new("GET", "/items/{id}", target("echo"))?,
            Route::new("GET", "/broken", target("broken"))?,
            Route::new("GET", "/bare", target("bare"))?,
            Route::new("GET", "/secured", secured)?,
        ])?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let lambda_url = lambda_url.to_owned();
        tokio::spawn(async move { serve(listener, routes, &lambda_url).await });
        Ok(url)
    }

    #[tokio::test]
    async fn a_request_reaches_its_function_as_a_v2_event_and_its_response_comes_back()
    -> anyhow::Result<()> {
        let api = api(&fake_lambda().await?).await?;
        let response = reqwest::get(format!("{api}/items/42?a=1&a=2")).await?;
        assert_eq!(response.status().as_u16(), 207);
        assert_eq!(response.headers()["x-fn"], "echo");
        assert_eq!(response.headers()["set-cookie"], "c=1");
        assert!(response.headers().contains_key("apigw-requestid"));
        let event: serde_json::Value = response.json().await?;
        assert_eq!(event["routeKey"], "GET /items/{id}");
        assert_eq!(event["pathParameters"]["id"], "42");
        assert_eq!(event["queryStringParameters"]["a"], "1,2");
        Ok(())
    }

    #[tokio::test]
    async fn no_route_is_404_and_a_failing_or_unreachable_function_is_502() -> anyhow::Result<()> {
        let api_url = api(&fake_lambda().await?).await?;
        let response = reqwest::get(format!("{api_url}/nowhere")).await?;
        assert_eq!(response.status().as_u16(), 404);
        assert_eq!(
            response.json::<serde_json::Value>().await?,
            serde_json::json!({"message": "Not Found"})
        );

        let response = reqwest::get(format!("{api_url}/broken")).await?;
        assert_eq!(response.status().as_u16(), 502);
        assert_eq!(
            response.json::<serde_json::Value>().await?,
            serde_json::json!({"message": "Internal Server Error"})
        );

        let unreachable = api("http://127.0.0.1:9").await?;
        let response = reqwest::get(format!("{unreachable}/items/1")).await?;
        assert_eq!(response.status().as_u16(), 502);
        Ok(())
    }

    #[tokio::test]
    async fn a_bare_json_output_is_a_200_json_response() -> anyhow::Result<()> {
        let api_url = api(&fake_lambda().await?).await?;
        let response = reqwest::get(format!("{api_url}/bare")).await?;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.text().await?, "[1,2]");
        Ok(())
    }

    #[tokio::test]
    async fn the_authorizer_runs_first_and_its_context_reaches_the_function() -> anyhow::Result<()>
    {
        let api_url = api(&fake_lambda().await?).await?;
        let client = reqwest::Client::new();
        let get = |auth: Option<&'static str>| {
            let mut request = client.get(format!("{api_url}/secured"));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            request.send()
        };
        let allowed = get(Some("allow")).await?;
        assert_eq!(allowed.status().as_u16(), 207);
        let event: serde_json::Value = allowed.json().await?;
        assert_eq!(
            event["requestContext"]["authorizer"]["lambda"]["sub"],
            "tester"
        );
        // As API Gateway: a missing identity source is 401 without a call, a denial 403, and
        // an authorizer that fails or answers nonsense 500.
        assert_eq!(get(None).await?.status().as_u16(), 401);
        assert_eq!(get(Some("deny")).await?.status().as_u16(), 403);
        assert_eq!(get(Some("other")).await?.status().as_u16(), 500);
        Ok(())
    }
}
