//! The parts of a request the guard judges: method, path and host (for a DPoP proof's `htm`
//! and `htu`), query, headers, and the client certificate of the connection.

use axum::extract::OriginalUri;
use axum::http::{header, HeaderMap, Request};

use crate::tls::PeerCertificate;

#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The `Host` (or HTTP/2 `:authority`) the client sent.
    pub host: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub cert: &'a PeerCertificate,
}

impl<'a> Incoming<'a> {
    /// A request as the guard's layer sees it; under a nested router, the path is the one the
    /// client sent (axum's `OriginalUri`), not the one left after nesting.
    pub fn of<B>(request: &'a Request<B>, cert: &'a PeerCertificate) -> Self {
        let uri = request
            .extensions()
            .get::<OriginalUri>()
            .map_or(request.uri(), |original| &original.0);
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        Self {
            method: request.method().as_str(),
            path: uri.path(),
            query: uri.query(),
            host,
            headers: request.headers(),
            cert,
        }
    }
}
