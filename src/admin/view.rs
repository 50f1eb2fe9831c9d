//! What every console page shares: the navigation bar's data, how times and paths are written,
//! and the console's stylesheet and script.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::session::AdminSession;
use crate::oauth::Shared;

/// The bar at the top of every page: who is signed in, with which role, and the sign-out form
/// (which needs the CSRF token).
pub struct Nav {
    pub brand: String,
    pub admin: String,
    pub role: &'static str,
    pub may_change: bool,
    pub csrf: String,
    /// The section to highlight: `clients` or `audit`.
    pub section: &'static str,
}

impl Nav {
    pub fn new(state: &Shared, session: &AdminSession, section: &'static str) -> Self {
        Self {
            brand: state.brand.clone(),
            admin: session.username().to_string(),
            role: session.admin.role.as_str(),
            may_change: session.may_change(),
            csrf: session.csrf().to_string(),
            section,
        }
    }
}

/// A Unix time as operators read it, in UTC.
pub fn when(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map(|t| t.replacen('T', " ", 1).replace('Z', " UTC"))
        .unwrap_or_else(|| seconds.to_string())
}

/// A client_id as one path segment: everything but RFC 3986 unreserved characters is
/// percent-encoded, so no id can reach another route.
pub fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `/static/admin.css`: the console's stylesheet, one of the two resources its CSP lets it load.
pub async fn stylesheet() -> Response {
    asset(
        include_str!("../../templates/admin/admin.css"),
        "text/css; charset=utf-8",
    )
}

/// `/static/admin.js`: the copy button, the only script (loaded only where a page allows it).
pub async fn script() -> Response {
    asset(
        include_str!("../../templates/admin/admin.js"),
        "text/javascript; charset=utf-8",
    )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_one_segment() {
        assert_eq!(segment("tpp-1.a_b~"), "tpp-1.a_b~");
        assert_eq!(segment("../x/y?z#"), "..%2Fx%2Fy%3Fz%23");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
    }
}
