//! `x-fapi-interaction-id` (FAPI 1.0 Baseline §6.2.1, Open Banking): every response carries one,
//! the TPP's own when it sent a valid one (an RFC 4122 UUID), else a fresh one; a malformed one is
//! refused with `UK.OBIE.Header.Invalid`, under a fresh id.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ObError;

pub const HEADER: HeaderName = HeaderName::from_static("x-fapi-interaction-id");

/// The middleware (`axum::middleware::from_fn(interaction_id::layer)`), outermost on a router so
/// that the guard's refusals carry the header too.
pub async fn layer(request: Request, next: Next) -> Response {
    let sent = request.headers().get(HEADER).cloned();
    let (id, mut response) = match sent {
        Some(value) if value.to_str().is_ok_and(is_uuid) => (value, next.run(request).await),
        Some(_) => (fresh(), ObError::HeaderInvalid("x-fapi-interaction-id").into_response()),
        None => (fresh(), next.run(request).await),
    };
    response.headers_mut().insert(HEADER, id);
    response
}

fn fresh() -> HeaderValue {
    HeaderValue::from_str(&new_uuid()).expect("a UUID is a valid header value")
}

/// A random (version 4) UUID.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let id = new_uuid();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(is_uuid("93bac548-d2de-4546-b106-880a5018460d"));
        assert!(!is_uuid("93bac548d2de4546b106880a5018460d"));
        assert!(!is_uuid("93bac548-d2de-4546-b106-880a5018460g"));
        assert!(!is_uuid("93bac548-d2de-4546-b106-880a5018460d\r\nx: y"));
    }
}
