//! `/docs`: an interactive reference of the API (Swagger UI) over `/api/openapi.json`,
//! served without credentials from assets embedded in the binary (vendored from the npm
//! package `swagger-ui-dist` by `scripts/vendor-swagger-ui.sh`; nothing is fetched from the
//! internet at build or run time, and the page's content security policy forbids it).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const BUNDLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js.gz");
const STYLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css.gz");

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Nexus API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"#;

const INIT: &str = "window.onload = function () {\n  window.ui = SwaggerUIBundle({\n    url: '/api/openapi.json',\n    dom_id: '#swagger-ui',\n    deepLinking: true,\n    validatorUrl: null\n  });\n};\n";

/// Same-origin only: the reference reads the document and tries requests against this server.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static [u8], gzipped: bool) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

async fn page() -> Response {
    let mut response = asset("text/html; charset=utf-8", PAGE.as_bytes(), false);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

/// The `/docs` routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/docs", get(page))
        .route("/docs/", get(page))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async { asset("text/javascript", BUNDLE, true) }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async { asset("text/css", STYLE, true) }),
        )
        .route(
            "/docs/init.js",
            get(|| async { asset("text/javascript", INIT.as_bytes(), false) }),
        )
}
