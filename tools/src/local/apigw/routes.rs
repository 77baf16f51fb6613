//! The HTTP API's routes, read from the `HttpApi` events of the template's functions, and
//! API Gateway's route selection.
//!
//! Route selection follows API Gateway HTTP APIs: the method must match (or the route is `ANY`),
//! the most specific path wins (segment by segment: a literal beats `{param}`, which beats a
//! greedy `{proxy+}`), a specific method beats `ANY` on the same path, and the `$default` route
//! (an `HttpApi` event without `Path`, or with `Path: $default`) catches the rest.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use serde_norway::Value;

use crate::local::template::{FUNCTION_TYPE, Template, intrinsic, scalar_string};

/// Route key of the catch-all route.
pub const DEFAULT_ROUTE_KEY: &str = "$default";

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `{name}`: exactly one segment.
    Param(String),
    /// `{name+}`: the rest of the path (one or more segments); only last.
    Greedy(String),
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::Greedy(_) => 0,
        }
    }
}

/// The Lambda authorizer a route requires (the event's `Auth.Authorizer`, or the API's
/// `Auth.DefaultAuthorizer`), resolved against the API's `Auth.Authorizers` when the routes are
/// read, so a misdeclared authorizer stops the emulation at start rather than at a request.
///
/// Emulated as API Gateway runs a REQUEST authorizer with payload format 2.0 and simple
/// responses: when an identity source is declared and missing, 401 without invoking it;
/// otherwise it is invoked, `isAuthorized: false` is a 403, a failure is a 500, and its
/// `context` reaches the route's function as `requestContext.authorizer.lambda`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerRef {
    /// The authorizer's name in `Auth.Authorizers`.
    pub name: String,
    /// The logical id of the `AWS::Serverless::HttpApi` that declares it (None: the implicit API).
    pub api: Option<String>,
    /// The authorizer function's binary (its `FunctionArn: !GetAtt F.Arn` → F's binary).
    pub binary: String,
    /// `Identity.Headers`: request headers that must be present (lower case).
    pub identity_headers: Vec<String>,
}

/// What a route invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    /// The function's logical id.
    pub function: String,
    /// The function's binary (`Metadata.BuildProperties.Binary`), which is its name for
    /// `cargo lambda watch`.
    pub binary: String,
    /// The authorizer step to run before invoking the function (see [`AuthorizerRef`]).
    pub authorizer: Option<AuthorizerRef>,
}

/// One route: `METHOD /path` (method None = `ANY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-case method; None for `ANY`.
    pub method: Option<String>,
    /// The path as the template writes it, or `$default`.
    pub path: String,
    /// Empty for `$default`.
    pub segments: Vec<Segment>,
    pub target: RouteTarget,
}

impl Route {
    /// Creates a route from a method (`GET`, `ANY`, …) and a path (`/a/{id}`, `$default`).
    pub fn new(method: &str, path: &str, target: RouteTarget) -> anyhow::Result<Self> {
        let method = method.trim().to_ascii_uppercase();
        let method =
            (method != "ANY" && method != "X-AMAZON-APIGATEWAY-ANY-METHOD").then_some(method);
        let segments = if path == DEFAULT_ROUTE_KEY {
            Vec::new()
        } else {
            parse_path(path)?
        };
        Ok(Self {
            method,
            path: path.to_owned(),
            segments,
            target,
        })
    }

    /// `GET /transactions`, `ANY /docs/{proxy+}` or `$default`.
    pub fn route_key(&self) -> String {
        if self.is_default() {
            return DEFAULT_ROUTE_KEY.to_owned();
        }
        format!("{} {}", self.method.as_deref().unwrap_or("ANY"), self.path)
    }

    /// Whether this is the `$default` route.
    pub fn is_default(&self) -> bool {
        self.path == DEFAULT_ROUTE_KEY
    }

    /// The path parameters when `segments` (the request path split on `/`, percent-decoded)
    /// matches this route.
    fn matches(&self, segments: &[String]) -> Option<HashMap<String, String>> {
        let mut params = HashMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(l) => {
                    if segments.get(i) != Some(l) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = segments.get(i).filter(|s| !s.is_empty())?;
                    params.insert(name.clone(), value.clone());
                }
                Segment::Greedy(name) => {
                    let rest = segments.get(i..).filter(|r| !r.is_empty())?.join("/");
                    if rest.is_empty() {
                        return None;
                    }
                    params.insert(name.clone(), rest);
                    return Some(params);
                }
            }
        }
        (segments.len() == self.segments.len()).then_some(params)
    }

    fn specificity(&self) -> (Vec<u8>, bool) {
        (
            self.segments.iter().map(Segment::rank).collect(),
            self.method.is_some(),
        )
    }
}

fn parse_path(path: &str) -> anyhow::Result<Vec<Segment>> {
    let Some(rest) = path.strip_prefix('/') else {
        bail!("route path {path:?} does not start with /");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(inner) => match inner.strip_suffix('+') {
                Some(name) if i + 1 == parts.len() => Segment::Greedy(name.to_owned()),
                Some(_) => bail!("route path {path:?}: a greedy parameter must be last"),
                None => Segment::Param(inner.to_owned()),
            },
            None => Segment::Literal((*part).to_owned()),
        };
        if let Segment::Param(name) | Segment::Greedy(name) = &segment
            && name.is_empty()
        {
            bail!("route path {path:?}: a parameter needs a name");
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// A matched route and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub route: &'a Route,
    pub path_parameters: HashMap<String, String>,
}

/// The routes of one HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// A table of routes; two routes with one route key is an error.
    pub fn new(routes: Vec<Route>) -> anyhow::Result<Self> {
        for (i, r) in routes.iter().enumerate() {
            if let Some(other) = routes[..i].iter().find(|o| o.route_key() == r.route_key()) {
                bail!(
                    "route {} is declared by both {} and {}",
                    r.route_key(),
                    other.target.function,
                    r.target.function
                );
            }
        }
        Ok(Self { routes })
    }

    /// The routes, in template order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Selects the route for a request as API Gateway does; `path` is the raw
    /// (percent-encoded) request path without the query string.
    pub fn find(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let segments: Vec<String> = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .map(percent_decode)
            .collect();
        let method = method.to_ascii_uppercase();
        self.routes
            .iter()
            .filter(|r| !r.is_default())
            .filter(|r| r.method.as_deref().is_none_or(|m| m == method))
            .filter_map(|r| {
                r.matches(&segments).map(|path_parameters| RouteMatch {
                    route: r,
                    path_parameters,
                })
            })
            .max_by(|a, b| a.route.specificity().cmp(&b.route.specificity()))
            .or_else(|| {
                self.routes
                    .iter()
                    .find(|r| r.is_default())
                    .map(|route| RouteMatch {
                        route,
                        path_parameters: HashMap::new(),
                    })
            })
    }
}

/// Percent-decodes a path segment or query component (`+` is left alone).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the routes of every `AWS::Serverless::Function`'s `HttpApi` events.
pub fn routes_from_template(template: &Template) -> anyhow::Result<RouteTable> {
    let mut routes = Vec::new();
    for function in template.resources_of_type(FUNCTION_TYPE) {
        let Some(events) = function
            .properties
            .get("Events")
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        let http_events: Vec<(&Value, &Value)> = events
            .iter()
            .filter(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("HttpApi"))
            .collect();
        if http_events.is_empty() {
            continue;
        }
        let binary = function
            .metadata
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .and_then(scalar_string)
            .with_context(|| {
                format!(
                    "function {} has HttpApi events but no Metadata.BuildProperties.Binary",
                    function.logical_id
                )
            })?;
        for (name, event) in http_events {
            let props = event.get("Properties").unwrap_or(&Value::Null);
            let text = |key: &str| props.get(key).and_then(scalar_string);
            let path = text("Path").unwrap_or_else(|| DEFAULT_ROUTE_KEY.to_owned());
            let method = text("Method").unwrap_or_else(|| "ANY".to_owned());
            let api = props
                .get("ApiId")
                .and_then(|a| {
                    a.get("Ref").or_else(|| match a {
                        Value::Tagged(t) if t.tag == "Ref" => Some(&t.value),
                        _ => None,
                    })
                })
                .and_then(scalar_string);
            let target = RouteTarget {
                function: function.logical_id.to_owned(),
                binary: binary.clone(),
                authorizer: authorizer(template, props, api.as_deref())
                    .with_context(|| format!("the authorizer of {}", function.logical_id))?,
            };
            let route = Route::new(&method, &path, target).with_context(|| {
                format!(
                    "event {} of function {}",
                    scalar_string(name).unwrap_or_default(),
                    function.logical_id
                )
            })?;
            routes.push(route);
        }
    }
    RouteTable::new(routes)
}

fn authorizer(
    template: &Template,
    event: &Value,
    api: Option<&str>,
) -> anyhow::Result<Option<AuthorizerRef>> {
    let api_props = match api {
        Some(id) => template.resource(id).map(|r| r.properties),
        None => template
            .root()
            .get("Globals")
            .and_then(|g| g.get("HttpApi")),
    };
    let auth = api_props.and_then(|p| p.get("Auth"));
    let named = event
        .get("Auth")
        .and_then(|a| a.get("Authorizer"))
        .and_then(scalar_string);
    let Some(name) = named.or_else(|| {
        auth.and_then(|a| a.get("DefaultAuthorizer"))
            .and_then(scalar_string)
    }) else {
        return Ok(None);
    };
    if name == "NONE" {
        return Ok(None);
    }
    let declared = auth
        .and_then(|a| a.get("Authorizers"))
        .and_then(|a| a.get(name.as_str()))
        .with_context(|| format!("authorizer {name} is not in the API's Auth.Authorizers"))?;
    let text = |key: &str| declared.get(key).and_then(scalar_string);
    if text("AuthorizerPayloadFormatVersion").as_deref() != Some("2.0")
        || declared
            .get("EnableSimpleResponses")
            .and_then(Value::as_bool)
            != Some(true)
    {
        bail!(
            "authorizer {name}: only Lambda authorizers with AuthorizerPayloadFormatVersion \"2.0\" \
             and EnableSimpleResponses: true are emulated"
        );
    }
    let function = declared
        .get("FunctionArn")
        .and_then(authorizer_function)
        .with_context(|| {
            format!(
                "authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn or \
                 !Ref <Function>.Alias"
            )
        })?;
    let binary = template
        .resource(&function)
        .and_then(|f| f.metadata.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(scalar_string)
        .with_context(|| {
            format!("authorizer {name}: function {function} has no Metadata.BuildProperties.Binary")
        })?;
    let identity = declared.get("Identity");
    if identity.is_some_and(|i| i.get("QueryStrings").is_some() || i.get("Context").is_some()) {
        bail!("authorizer {name}: only Identity.Headers is emulated");
    }
    let identity_headers = identity
        .and_then(|i| i.get("Headers"))
        .and_then(Value::as_sequence)
        .map(|h| {
            h.iter()
                .filter_map(scalar_string)
                .map(|h| h.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(AuthorizerRef {
        name,
        api: api.map(str::to_owned),
        binary,
        identity_headers,
    }))
}

/// The logical id of the function an authorizer's `FunctionArn` names: `!GetAtt F.Arn` (the
/// function) or `!Ref F.Alias` (SAM's reference to the `AutoPublishAlias` of F, which is what a
/// deployed stage invokes; locally the function's one binary serves both).
fn authorizer_function(arn: &Value) -> Option<String> {
    match intrinsic(arn)? {
        (f, Value::Sequence(parts)) if f == "Fn::GetAtt" => parts.first().and_then(scalar_string),
        (f, target) if f == "Fn::GetAtt" => {
            scalar_string(target).and_then(|t| t.split_once('.').map(|(id, _)| id.to_owned()))
        }
        (f, target) if f == "Ref" => scalar_string(target)
            .and_then(|t| t.strip_suffix(".Alias").map(str::to_owned))
            .filter(|id| !id.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(binary: &str) -> RouteTarget {
        RouteTarget {
            function: binary.to_owned(),
            binary: binary.to_owned(),
            authorizer: None,
        }
    }

    fn table(routes: &[(&str, &str, &str)]) -> anyhow::Result<RouteTable> {
        RouteTable::new(
            routes
                .iter()
                .map(|(m, p, b)| Route::new(m, p, target(b)))
                .collect::<anyhow::Result<Vec<_>>>()?,
        )
    }

    fn binary_for(t: &RouteTable, method: &str, path: &str) -> Option<String> {
        t.find(method, path).map(|m| m.route.target.binary.clone())
    }

    #[test]
    fn a_literal_route_beats_a_parameter_which_beats_a_greedy_one() -> anyhow::Result<()> {
        let t = table(&[
            ("GET", "/pets/{proxy+}", "greedy"),
            ("GET", "/pets/dog/{id}", "param"),
            ("GET", "/pets/dog/1", "literal"),
            ("ANY", "/{proxy+}", "any"),
        ])?;
        assert_eq!(
            binary_for(&t, "GET", "/pets/dog/1").as_deref(),
            Some("literal")
        );
        assert_eq!(
            binary_for(&t, "GET", "/pets/dog/2").as_deref(),
            Some("param")
        );
        assert_eq!(
            binary_for(&t, "GET", "/pets/cat/1").as_deref(),
            Some("greedy")
        );
        assert_eq!(
            binary_for(&t, "POST", "/pets/dog/1").as_deref(),
            Some("any")
        );
        Ok(())
    }

    #[test]
    fn a_specific_method_beats_any_on_the_same_path() -> anyhow::Result<()> {
        let t = table(&[("ANY", "/items", "any"), ("GET", "/items", "get")])?;
        assert_eq!(binary_for(&t, "get", "/items").as_deref(), Some("get"));
        assert_eq!(binary_for(&t, "DELETE", "/items").as_deref(), Some("any"));
        Ok(())
    }

    #[test]
    fn path_parameters_are_extracted_and_decoded() -> anyhow::Result<()> {
        let t = table(&[
            ("GET", "/payments/{id}/refunds/{refund_id}", "refund"),
            ("GET", "/docs/{proxy+}", "docs"),
        ])?;
        let m = t
            .find("GET", "/payments/p%201/refunds/r2")
            .context("no match")?;
        assert_eq!(
            m.route.route_key(),
            "GET /payments/{id}/refunds/{refund_id}"
        );
        assert_eq!(m.path_parameters.get("id").map(String::as_str), Some("p 1"));
        assert_eq!(
            m.path_parameters.get("refund_id").map(String::as_str),
            Some("r2")
        );
        let m = t.find("GET", "/docs/assets/ui.css").context("no match")?;
        assert_eq!(
            m.path_parameters.get("proxy").map(String::as_str),
            Some("assets/ui.css")
        );
        Ok(())
    }

    #[test]
    fn an_unknown_path_or_method_matches_no_route() -> anyhow::Result<()> {
        let t = table(&[
            ("GET", "/transactions", "list"),
            ("GET", "/docs/{proxy+}", "docs"),
        ])?;
        assert_eq!(binary_for(&t, "GET", "/nope"), None);
        assert_eq!(binary_for(&t, "POST", "/transactions"), None);
        assert_eq!(binary_for(&t, "GET", "/transactions/extra"), None);
        assert_eq!(
            binary_for(&t, "GET", "/docs"),
            None,
            "greedy needs a segment"
        );
        assert_eq!(
            binary_for(&t, "GET", "/docs/"),
            None,
            "greedy needs a non-empty rest"
        );
        Ok(())
    }

    #[test]
    fn the_default_route_catches_what_nothing_else_matches() -> anyhow::Result<()> {
        let t = table(&[("GET", "/a", "a"), ("ANY", "$default", "fallback")])?;
        assert_eq!(binary_for(&t, "GET", "/a").as_deref(), Some("a"));
        assert_eq!(binary_for(&t, "PUT", "/b/c").as_deref(), Some("fallback"));
        Ok(())
    }

    #[test]
    fn the_real_template_routes_each_path_to_its_function_binary() -> anyhow::Result<()> {
        let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))?;
        let t = routes_from_template(&template)?;
        assert_eq!(
            binary_for(&t, "GET", "/transactions").as_deref(),
            Some("transactions-list")
        );
        assert_eq!(
            binary_for(&t, "GET", "/transactions/count").as_deref(),
            Some("transactions-count")
        );
        assert_eq!(binary_for(&t, "GET", "/docs").as_deref(), Some("api-docs"));
        assert_eq!(
            binary_for(&t, "GET", "/docs/swagger-ui.css").as_deref(),
            Some("api-docs")
        );
        Ok(())
    }

    #[test]
    fn a_route_requiring_an_authorizer_carries_it_in_its_target() -> anyhow::Result<()> {
        let template = Template::parse(
            r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: { Headers: [Authorization] }
  Auth:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: the-authorizer } }
  F:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: f } }
    Properties:
      Events:
        Private: { Type: HttpApi, Properties: { ApiId: !Ref Api, Path: /p, Method: GET } }
        Public:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Path: /q, Method: GET, Auth: { Authorizer: NONE } }
"#,
        )?;
        let t = routes_from_template(&template)?;
        let private = t.find("GET", "/p").context("/p")?;
        assert_eq!(
            private.route.target.authorizer,
            Some(AuthorizerRef {
                name: "Jwt".into(),
                api: Some("Api".into()),
                binary: "the-authorizer".into(),
                identity_headers: vec!["authorization".into()],
            })
        );
        let public = t.find("GET", "/q").context("/q")?;
        assert_eq!(public.route.target.authorizer, None);
        Ok(())
    }

    #[test]
    fn an_authorizer_is_named_by_its_function_arn_or_its_alias() -> anyhow::Result<()> {
        for (arn, expected) in [
            ("!GetAtt Auth.Arn", Some("Auth")),
            ("{ 'Fn::GetAtt': [Auth, Arn] }", Some("Auth")),
            ("!Ref Auth.Alias", Some("Auth")),
            ("{ Ref: Auth.Alias }", Some("Auth")),
            ("!Ref Auth", None),
            ("!Ref .Alias", None),
            ("arn:aws:lambda:eu-west-1:123456789012:function:auth", None),
        ] {
            let value: Value = serde_norway::from_str(arn)?;
            assert_eq!(authorizer_function(&value).as_deref(), expected, "{arn}");
        }
        Ok(())
    }

    #[test]
    fn the_real_template_protects_routes_with_the_authorizer_binary() -> anyhow::Result<()> {
        let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))?;
        let t = routes_from_template(&template)?;
        let route = t.find("GET", "/payments").context("GET /payments")?;
        let authorizer = route.route.target.authorizer.as_ref();
        assert_eq!(authorizer.map(|a| a.binary.as_str()), Some("authorizer"));
        let token = t.find("POST", "/auth/token").context("POST /auth/token")?;
        assert_eq!(token.route.target.authorizer, None);
        Ok(())
    }

    #[test]
    fn an_authorizer_that_cannot_be_emulated_stops_the_routes_from_loading() -> anyhow::Result<()> {
        let template = |authorizers: &str| {
            Template::parse(&format!(
                r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {{ DefaultAuthorizer: Jwt, Authorizers: {authorizers} }}
  F:
    Type: AWS::Serverless::Function
    Metadata: {{ BuildProperties: {{ Binary: f }} }}
    Properties:
      Events:
        E: {{ Type: HttpApi, Properties: {{ ApiId: !Ref Api, Path: /p, Method: GET }} }}
"#
            ))
        };
        for authorizers in [
            "{ Other: {} }",
            "{ Jwt: { FunctionArn: !GetAtt F.Arn, AuthorizerPayloadFormatVersion: '1.0', EnableSimpleResponses: true } }",
            "{ Jwt: { FunctionArn: !GetAtt Missing.Arn, AuthorizerPayloadFormatVersion: '2.0', EnableSimpleResponses: true } }",
        ] {
            assert!(
                routes_from_template(&template(authorizers)?).is_err(),
                "{authorizers}"
            );
        }
        Ok(())
    }
}
