//! Authentication and organisation isolation for the HTTP API (bearer tokens from the TOML
//! configuration, Sentry's `event:*` scopes).
//!
//! [`authenticate`] is a middleware over the whole router: it lets the operational endpoints
//! ([`OPEN_PATHS`]) through, resolves the `Authorization: Bearer …` header to a [`Caller`],
//! hides other organisations (404), checks the scope the method needs (403) and puts the
//! `Caller` in the request extensions, where handlers take it as an extractor
//! (`caller: Caller`). A handler whose required scope depends on the body (a bulk `PUT` with
//! `discard`) checks it itself with [`require_mutation_scope`].
//!
//! Without any token in the configuration every request is an anonymous caller with every
//! scope and every organisation; `main.rs` then only listens on loopback addresses unless
//! started with `--insecure` ([`check_listen_address`]).

use std::net::ToSocketAddrs;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::api::error;
use crate::config::{Catalog, TokenConfig};

/// Sentry's event scopes; each implies the ones below it (admin ⊃ write ⊃ read).
/// (Named after Sentry's `event:*` strings; its other families, `project:*`, `org:*`, … are
/// not served.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[allow(clippy::enum_variant_names)]
pub enum Scope {
    #[serde(rename = "event:read")]
    EventRead,
    #[serde(rename = "event:write")]
    EventWrite,
    #[serde(rename = "event:admin")]
    EventAdmin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::EventRead, Scope::EventWrite, Scope::EventAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventRead => "event:read",
            Scope::EventWrite => "event:write",
            Scope::EventAdmin => "event:admin",
        }
    }

    /// Whether holding `self` grants `other` (the variants are declared in hierarchy order).
    pub fn implies(self, other: Scope) -> bool {
        self >= other
    }
}

/// The scopes granted by `granted`, implications expanded, ascending, without duplicates.
pub fn effective_scopes(granted: &[Scope]) -> Vec<Scope> {
    Scope::ALL.into_iter().filter(|s| granted.iter().any(|g| g.implies(*s))).collect()
}

pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
pub const INVALID_TOKEN: &str = "Invalid token";
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";
pub const NOT_FOUND: &str = "The requested resource does not exist";

/// Endpoints served without authentication: probes, Prometheus, and the API description
/// (which holds no organisation's data).
pub const OPEN_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics", "/api/0/openapi.json"];

/// Who is calling, put in the request extensions by [`authenticate`]; handlers take it as an
/// extractor (`caller: Caller`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The organisation the token is bound to; `None` for the anonymous caller (no token
    /// configured), who may use every organisation.
    pub organization: Option<String>,
    /// Effective scopes: the granted ones and those they imply, ascending.
    pub scopes: Vec<Scope>,
    /// The user the token acts for (`assignedTo: "me"`, `hasSeen`, `isBookmarked`), if any.
    pub user: Option<String>,
}

impl Caller {
    /// The caller of a server without tokens: every scope, every organisation, no user.
    pub fn anonymous() -> Caller {
        Caller {
            organization: None,
            scopes: Scope::ALL.to_vec(),
            user: None,
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s.implies(scope))
    }

    /// `Ok` when the caller holds `scope`, else Sentry's 403 response.
    #[allow(clippy::result_large_err)]
    pub fn require_scope(&self, scope: Scope) -> Result<(), Response> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(error(StatusCode::FORBIDDEN, NO_PERMISSION))
        }
    }

    /// Whether the caller may see organisation `slug` at all.
    pub fn can_access(&self, slug: &str) -> bool {
        self.organization.as_deref().is_none_or(|own| own == slug)
    }
}

/// Handlers behind [`authenticate`] find the caller in the extensions; without the
/// middleware (a misconfigured router) the request is refused rather than let through.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| unauthorized(NOT_PROVIDED))
    }
}

/// The scope a request needs by method alone: reads `event:read`, `DELETE` `event:admin`,
/// other writes `event:write`. A `PUT` with `discard` needs more: [`mutation_scope`].
pub fn required_scope(method: &Method) -> Scope {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Scope::EventRead,
        Method::DELETE => Scope::EventAdmin,
        _ => Scope::EventWrite,
    }
}

// The two functions below are for the bulk PUT handler (src/api_mutations.rs, written on
// another branch); until it lands only the tests call them.

/// The scope a bulk `PUT` body needs: `event:admin` when it asks to `discard`, else
/// `event:write` (issue-platform.md §8.1).
#[allow(dead_code)]
pub fn mutation_scope(body: &serde_json::Value) -> Scope {
    if body.get("discard").and_then(serde_json::Value::as_bool) == Some(true) {
        Scope::EventAdmin
    } else {
        Scope::EventWrite
    }
}

/// For the bulk `PUT` handler: `Ok` when `caller` may apply `body`, else the 403 response.
#[allow(clippy::result_large_err, dead_code)]
pub fn require_mutation_scope(caller: &Caller, body: &serde_json::Value) -> Result<(), Response> {
    caller.require_scope(mutation_scope(body))
}

/// The configured tokens, ready for lookups.
pub struct Authenticator {
    tokens: Vec<TokenConfig>,
}

impl Authenticator {
    pub fn new(tokens: &[TokenConfig]) -> Authenticator {
        Authenticator { tokens: tokens.to_vec() }
    }

    pub fn from_catalog(catalog: &Catalog) -> Arc<Authenticator> {
        Arc::new(Authenticator::new(catalog.tokens()))
    }

    /// True when no token is configured: everyone is the anonymous caller.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The configured token equal to `presented`. Each comparison takes the same time
    /// whatever the bytes (`subtle`), and every token is compared: an early-exit `==` would
    /// return sooner the fewer leading bytes of a guess are right, which an attacker can
    /// measure over the network to find a token byte by byte. (A different length still
    /// compares faster; lengths are not the secret.)
    fn find(&self, presented: &[u8]) -> Option<&TokenConfig> {
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.token.as_bytes().ct_eq(presented)) {
                found = Some(token);
            }
        }
        found
    }

    /// The caller the request's headers authenticate, or the 401 response.
    #[allow(clippy::result_large_err)]
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, Response> {
        if self.is_open() {
            return Ok(Caller::anonymous());
        }
        // As Django REST framework (which Sentry uses): another scheme is no credentials,
        // a malformed bearer header is its own 401, an unknown token "Invalid token".
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(NOT_PROVIDED));
        };
        let value = value.as_bytes();
        let mut parts = value.split(|b| b.is_ascii_whitespace()).filter(|p| !p.is_empty());
        if !parts.next().is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer")) {
            return Err(unauthorized(NOT_PROVIDED));
        }
        let Some(presented) = parts.next() else {
            return Err(unauthorized("Invalid token header. No credentials provided."));
        };
        if parts.next().is_some() {
            return Err(unauthorized("Invalid token header. Token string should not contain spaces."));
        }
        let token = self.find(presented).ok_or_else(|| unauthorized(INVALID_TOKEN))?;
        Ok(Caller {
            organization: Some(token.organization.clone()),
            scopes: effective_scopes(&token.scopes),
            user: token.user.clone(),
        })
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, detail);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
    response
}

/// The organisation slug of an `/api/0/organizations/{org}/…` path, percent-decoded as the
/// router's `Path` extractor decodes it. `None`: not an organisation path; `Some(Err)`: a
/// malformed escape or non-UTF-8, which names no organisation (the middleware answers 404).
pub fn path_organization(path: &str) -> Option<Result<String, ()>> {
    let rest = path.strip_prefix("/api/0/organizations/")?;
    let segment = rest.split('/').next().unwrap_or("");
    Some(percent_decode(segment))
}

fn percent_decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// The middleware (`axum::middleware::from_fn_with_state(Authenticator::from_catalog(…),
/// authenticate)`): 401 without a valid token, 404 for another organisation's paths, 403
/// without the method's scope; otherwise the request goes on with its [`Caller`].
pub async fn authenticate(State(auth): State<Arc<Authenticator>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if OPEN_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let caller = match auth.caller(request.headers()) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    // Another organisation's resources do not exist for this caller (checked before the
    // scope, so a 403 never confirms that an organisation exists).
    match path_organization(path) {
        Some(Ok(slug)) if caller.can_access(&slug) => {}
        Some(_) => return error(StatusCode::NOT_FOUND, NOT_FOUND),
        None => {}
    }
    let needed = required_scope(request.method());
    if let Err(response) = caller.require_scope(needed) {
        tracing::debug!(path, scope = needed.as_str(), organization = ?caller.organization, "missing scope");
        return response;
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Without tokens the API is open to whoever can connect, so `occurrent` only listens on
/// loopback addresses unless `--insecure` is given. `listen` is resolved as the listener
/// will resolve it; every address it names must be loopback.
pub fn check_listen_address(listen: &str, catalog: &Catalog, insecure: bool) -> anyhow::Result<()> {
    if !catalog.tokens().is_empty() {
        return Ok(());
    }
    let addresses: Vec<_> = listen
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("cannot resolve --listen {listen}: {e}"))?
        .collect();
    let exposed: Vec<String> = addresses
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(ToString::to_string)
        .collect();
    if exposed.is_empty() {
        return Ok(());
    }
    if insecure {
        tracing::warn!(
            listen,
            "serving the API without authentication on a non-loopback address (--insecure)"
        );
        return Ok(());
    }
    let resolved = if exposed.len() == 1 && exposed[0] == listen {
        String::new()
    } else {
        format!(" ({})", exposed.join(", "))
    };
    anyhow::bail!(
        "refusing to listen on {listen}{resolved}: not a loopback address, and no API token is \
         configured, so anyone who can reach it could read and change every organization's \
         issues. Declare [[tokens]] in the --config file, listen on a loopback address \
         (127.0.0.1, ::1), or pass --insecure to serve without authentication anyway"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::{Extension, Router};
    use tower::ServiceExt;

    fn catalog() -> Catalog {
        let text = r#"
            [[organizations]]
            slug = "acme"
            [[organizations]]
            slug = "globex"

            [[tokens]]
            token = "read-acme"
            organization = "acme"
            scopes = ["event:read"]
            user = "alice@example.com"

            [[tokens]]
            token = "write-acme"
            organization = "acme"
            scopes = ["event:write"]

            [[tokens]]
            token = "admin-globex"
            organization = "globex"
            scopes = ["event:admin"]
        "#;
        Catalog::from_config(toml::from_str(text).expect("config")).expect("catalog")
    }

    /// A router like the API's: the caller echoed back, a PUT checking `discard`.
    fn app(catalog: &Catalog) -> Router {
        async fn whoami(Extension(caller): Extension<Caller>) -> String {
            format!("{:?} {:?} {:?}", caller.organization, caller.scopes, caller.user)
        }
        async fn mutate(caller: Caller, axum::Json(body): axum::Json<serde_json::Value>) -> Response {
            match require_mutation_scope(&caller, &body) {
                Ok(()) => "applied".into_response(),
                Err(response) => response,
            }
        }
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/api/0/organizations/{org}/issues/",
                get(whoami).put(mutate).delete(|| async { "deleted" }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Authenticator::from_catalog(catalog),
                authenticate,
            ))
    }

    async fn send(app: &Router, method: Method, path: &str, token: Option<&str>, body: &str) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn hierarchy() {
        assert_eq!(effective_scopes(&[Scope::EventAdmin]), Scope::ALL.to_vec());
        assert_eq!(effective_scopes(&[Scope::EventWrite]), vec![Scope::EventRead, Scope::EventWrite]);
        assert_eq!(effective_scopes(&[Scope::EventRead]), vec![Scope::EventRead]);
        assert_eq!(required_scope(&Method::DELETE), Scope::EventAdmin);
        assert_eq!(mutation_scope(&serde_json::json!({"discard": true})), Scope::EventAdmin);
        assert_eq!(
            mutation_scope(&serde_json::json!({"discard": false, "status": "resolved"})),
            Scope::EventWrite
        );
    }

    #[tokio::test]
    async fn middleware_statuses() {
        let app = app(&catalog());
        let issues = "/api/0/organizations/acme/issues/";
        assert_eq!(send(&app, Method::GET, "/healthz", None, "").await.0, StatusCode::OK);
        let (status, body) = send(&app, Method::GET, issues, None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains(NOT_PROVIDED), "{body}");
        let (status, body) = send(&app, Method::GET, issues, Some("read-acmf"), "").await;
        assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, r#"{"detail":"Invalid token"}"#));

        let (status, body) = send(&app, Method::GET, issues, Some("read-acme"), "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"Some("acme") [EventRead] Some("alice@example.com")"#);
        // Percent-encoded slugs are the same organisation, as for the router's Path.
        assert_eq!(path_organization("/api/0/organizations/a%2Bb/issues/"), Some(Ok("a+b".into())));
        assert_eq!(path_organization("/api/0/organizations/a%+1/issues/"), Some(Err(())));
        assert_eq!(path_organization("/api/0/organizations/a%2/"), Some(Err(())));
        assert_eq!(path_organization("/healthz"), None);
        let encoded = "/api/0/organizations/%61cme/issues/";
        assert_eq!(send(&app, Method::GET, encoded, Some("read-acme"), "").await.0, StatusCode::OK);
        assert_eq!(
            send(&app, Method::GET, encoded, Some("admin-globex"), "").await.0,
            StatusCode::NOT_FOUND
        );

        let put = |token, body| send(&app, Method::PUT, issues, Some(token), body);
        let (status, body) = put("read-acme", r#"{"status":"resolved"}"#).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains(NO_PERMISSION), "{body}");
        assert_eq!(
            put("write-acme", r#"{"status":"resolved"}"#).await,
            (StatusCode::OK, "applied".into())
        );
        assert_eq!(put("write-acme", r#"{"discard":true}"#).await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            send(&app, Method::DELETE, issues, Some("write-acme"), "").await.0,
            StatusCode::FORBIDDEN
        );

        // Another organisation: 404 whatever the method or scope.
        let globex = "/api/0/organizations/globex/issues/";
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let (status, body) = send(&app, method, globex, Some("write-acme"), "{}").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(body.contains(NOT_FOUND), "{body}");
        }
        let (status, body) = send(&app, Method::PUT, globex, Some("admin-globex"), r#"{"discard":true}"#).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "applied"));
        assert_eq!(send(&app, Method::DELETE, globex, Some("admin-globex"), "").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn header_forms() {
        let app = app(&catalog());
        let issues = "/api/0/organizations/acme/issues/";
        let with = |value: &'static str| {
            let app = app.clone();
            async move {
                let request = Request::builder()
                    .uri(issues)
                    .header("authorization", value)
                    .body(Body::empty())
                    .unwrap();
                app.oneshot(request).await.unwrap().status()
            }
        };
        assert_eq!(with("bearer read-acme").await, StatusCode::OK);
        assert_eq!(with("Basic cmVhZC1hY21lOg==").await, StatusCode::UNAUTHORIZED);
        assert_eq!(with("Bearer").await, StatusCode::UNAUTHORIZED);
        assert_eq!(with("Bearer read-acme extra").await, StatusCode::UNAUTHORIZED);
        assert_eq!(with("Bearer read-acm").await, StatusCode::UNAUTHORIZED);
        assert_eq!(with("Bearer read-acmee").await, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn without_tokens_everyone_is_anonymous() {
        let app = app(&Catalog::default());
        let (status, body) = send(&app, Method::GET, "/api/0/organizations/sentry/issues/", None, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "None [EventRead, EventWrite, EventAdmin] None");
        let (status, _) = send(
            &app,
            Method::PUT,
            "/api/0/organizations/sentry/issues/",
            None,
            r#"{"discard":true}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn tokens_are_not_printed() {
        let printed = format!("{:?}", catalog());
        assert!(printed.contains("alice@example.com") && printed.contains("<redacted>"), "{printed}");
        assert!(!printed.contains("read-acme") && !printed.contains("admin-globex"), "{printed}");
    }

    #[test]
    fn loopback_rule() {
        let open = Catalog::default();
        assert!(check_listen_address("127.0.0.1:0", &open, false).is_ok());
        assert!(check_listen_address("[::1]:0", &open, false).is_ok());
        assert!(check_listen_address("localhost:0", &open, false).is_ok());
        let refused = check_listen_address("0.0.0.0:0", &open, false).unwrap_err().to_string();
        assert!(refused.contains("--insecure"), "{refused}");
        assert!(check_listen_address("[::]:0", &open, false).is_err());
        assert!(check_listen_address("0.0.0.0:0", &open, true).is_ok());
        assert!(check_listen_address("0.0.0.0:0", &catalog(), false).is_ok());
    }
}
