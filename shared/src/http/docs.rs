//! Swagger UI, with its assets compiled into the binary (utoipa-swagger-ui's vendored copy),
//! so /docs works offline and behind any stage prefix.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use std::sync::Arc;

/// The page at `/docs`. Relative URLs keep it working under an API Gateway stage path
/// (`/dev/docs` loads `/dev/docs/swagger-ui.css` and `/dev/openapi.json`).
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>payrail API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout" });
  </script>
</body>
</html>
"##;

/// Serves the page (`asset` empty) or one asset of `/docs/{asset}`.
pub fn serve(asset: &str) -> Response<Body> {
    if asset.is_empty() || asset == "index.html" {
        return respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Body::Text(PAGE.to_owned()),
        );
    }
    let config = Arc::new(utoipa_swagger_ui::Config::new(["openapi.json"]));
    match utoipa_swagger_ui::serve(asset, config) {
        Ok(Some(file)) => respond(
            StatusCode::OK,
            &file.content_type,
            Body::Binary(file.bytes.into_owned()),
        ),
        Ok(None) | Err(_) => super::problem::ApiError::NotFound.into_response(),
    }
}

fn respond(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_page_and_its_assets_from_the_binary() {
        assert_eq!(serve("").status(), 200);
        let css = serve("swagger-ui.css");
        assert_eq!(css.status(), 200);
        assert_eq!(
            css.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/css")
        );
        assert_eq!(serve("swagger-ui-bundle.js").status(), 200);
        assert_eq!(serve("no-such-file.js").status(), 404);
    }
}
