//! What every page served to a browser shares: strict security headers, the session and device
//! cookies, the HTML error page, and the stylesheet. Pages are rendered on the server from
//! askama templates under `templates/` (HTML-escaped by default) and work without JavaScript.

pub mod cookies;
mod error;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

pub use error::PageError;

/// A rendered page with the headers every page carries: a Content-Security-Policy that allows
/// only this origin's stylesheet and forms (`form_action` adds the one other origin a form may
/// end up at, the client's redirect URI, since browsers apply `form-action` to the redirect that
/// follows a form post), no framing, no caching, no referrer.
pub fn page(status: StatusCode, html: String, form_action: Option<&str>) -> Response {
    page_with(status, html, form_action, false)
}

/// A [`page`] that may also run this origin's scripts (progressive enhancement only, such as a
/// copy button; never inline script).
pub fn page_with_script(status: StatusCode, html: String) -> Response {
    page_with(status, html, None, true)
}

fn page_with(status: StatusCode, html: String, form_action: Option<&str>, script: bool) -> Response {
    let mut response = (status, Html(html)).into_response();
    let csp = format!(
        "default-src 'none'; {}style-src 'self'; img-src 'self'; form-action 'self'{}; \
         frame-ancestors 'none'; base-uri 'none'",
        if script { "script-src 'self'; " } else { "" },
        form_action.map(|origin| format!(" {origin}")).unwrap_or_default()
    );
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    } else {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Renders `template` as a [`page`]; a template that fails to render is the generic error page.
pub fn render(template: &impl askama::Template, status: StatusCode, form_action: Option<&str>) -> Response {
    match template.render() {
        Ok(html) => page(status, html, form_action),
        Err(e) => PageError::internal(e).into_response(),
    }
}

/// Renders `template` as a [`page_with_script`].
pub fn render_with_script(template: &impl askama::Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => page_with_script(status, html),
        Err(e) => PageError::internal(e).into_response(),
    }
}

/// A 303 See Other: after a form post the browser follows it with GET, never re-posting the
/// customer's password (FAPI 2.0 SP §5.3.2.2; 307 would re-post it).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(header::LOCATION, location);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(_) => PageError::Internal("redirect location is not a valid header value".into()).into_response(),
    }
}

/// The pages' stylesheet (`/static/certbound.css`), the only resource the CSP lets them load.
pub async fn stylesheet() -> Response {
    let mut response = include_str!("../../templates/certbound.css").into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The scheme, host and port of an absolute URI: what a CSP source expression names.
pub fn origin(uri: &str) -> Option<String> {
    let uri: http::Uri = uri.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    Some(format!("{scheme}://{}", authority.as_str().rsplit('@').next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_redirect_uris() {
        assert_eq!(
            origin("https://tpp.example:8443/cb?x=1").as_deref(),
            Some("https://tpp.example:8443")
        );
        assert_eq!(origin("https://tpp.example/cb").as_deref(), Some("https://tpp.example"));
        assert_eq!(origin("not a uri"), None);
    }

    #[test]
    fn pages_carry_a_strict_policy() {
        let response = page(StatusCode::OK, "<p>x</p>".into(), Some("https://tpp.example"));
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("form-action 'self' https://tpp.example;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        // A value that cannot be a header still yields a policy, a stricter one.
        let response = page(StatusCode::OK, String::new(), Some("https://x\n"));
        assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    }
}
