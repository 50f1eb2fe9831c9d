//! The browser's cookies: a session cookie binding an interaction to the browser that started
//! it, and a device cookie recognising browsers a customer has signed in from. Both are
//! `__Host-` cookies (Secure, Path=/, no Domain: no subdomain can set or read them) and
//! HttpOnly; the session one is SameSite=Lax so the top-level redirect from the TPP carries it.
//! The server keeps only SHA-256 hashes of their values.

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const SESSION: &str = "__Host-certbound-session";
pub const DEVICE: &str = "__Host-certbound-device";

/// A cookie's value as sent by the browser, if present exactly once and well-formed (our values
/// are 43 base64url characters).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                if found.is_some() {
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found.filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// 256 random bits, base64url: cookie values, CSRF tokens, codes.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the server stores instead of a secret it hands out.
pub fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// `Set-Cookie` for the session cookie: gone when the browser closes.
pub fn session_cookie(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{SESSION}={value}; Path=/; Secure; HttpOnly; SameSite=Lax"))
        .expect("base64url cookie value")
}

/// `Set-Cookie` for the device cookie: kept for 400 days (the longest browsers allow).
pub fn device_cookie(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{DEVICE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=34560000"
    ))
    .expect("base64url cookie value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_well_formed_cookie() {
        let token = random_token();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("a=b; {SESSION}={token}").parse().unwrap());
        assert_eq!(get(&headers, SESSION), Some(token.as_str()));
        assert_eq!(get(&headers, DEVICE), None);
        headers.append(header::COOKIE, format!("{SESSION}={token}").parse().unwrap());
        assert_eq!(get(&headers, SESSION), None, "a cookie sent twice is ambiguous");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("{SESSION}=short").parse().unwrap());
        assert_eq!(get(&headers, SESSION), None);
    }

    #[test]
    fn cookies_are_host_only_secure_and_http_only() {
        let c = session_cookie(&random_token());
        let c = c.to_str().unwrap();
        assert!(c.starts_with("__Host-") && c.contains("Secure") && c.contains("HttpOnly"));
        assert!(c.contains("SameSite=Lax") && c.contains("Path=/") && !c.contains("Domain"));
    }
}
