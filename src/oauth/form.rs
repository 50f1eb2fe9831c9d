//! Strict `application/x-www-form-urlencoded` request bodies (RFC 6749 §3.2, Appendix B):
//! right content type, bounded size, valid percent-encoding and UTF-8, and no parameter
//! repeated (except those defined as repeatable, like RFC 8707 `resource`). The same parser
//! reads the customer's page forms ([`PageForm`]), whose errors are pages.

use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::OAuthError;
use crate::web::PageError;

/// Bodies beyond this are refused before parsing; real token requests are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Why a form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    ContentType,
    TooLarge,
    /// The body did not arrive within the listener's body timeout.
    Timeout,
    Malformed(&'static str),
}

impl From<FormError> for OAuthError {
    fn from(e: FormError) -> Self {
        match e {
            FormError::ContentType => {
                OAuthError::InvalidRequest("content type must be application/x-www-form-urlencoded")
            }
            FormError::TooLarge => OAuthError::RequestTooLarge,
            FormError::Timeout => OAuthError::RequestTimeout,
            FormError::Malformed(d) => OAuthError::InvalidRequest(d),
        }
    }
}

/// A parsed form. Empty values count as absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct OAuthForm {
    params: Vec<(String, String)>,
}

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str, missing: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or(OAuthError::InvalidRequest(missing))
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A form built from parameters read elsewhere (a request object's claims); empty values
    /// count as absent, as in a body.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            params: pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        }
    }

    /// The names of the parameters present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(k, _)| k.as_str())
    }

    /// Parses a body in which only the parameters named in `repeatable` may appear more than
    /// once.
    pub fn parse(body: &[u8], repeatable: &[&str]) -> Result<Self, FormError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if name.is_empty() {
                return Err(FormError::Malformed("malformed form body"));
            }
            if value.is_empty() {
                continue;
            }
            if params.iter().any(|(k, _)| *k == name) && !repeatable.contains(&name.as_str()) {
                return Err(FormError::Malformed("a parameter was sent more than once"));
            }
            params.push((name, value));
        }
        Ok(Self { params })
    }

    /// Reads and parses a request's form body.
    pub(crate) async fn read(req: Request, repeatable: &[&str]) -> Result<Self, FormError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(FormError::ContentType);
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY) {
            return Err(FormError::TooLarge);
        }
        let body =
            axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|e| {
                match crate::tls::is_body_timeout(&e) {
                    true => FormError::Timeout,
                    false => FormError::TooLarge,
                }
            })?;
        Self::parse(&body, repeatable)
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte; anything else malformed.
fn decode(input: &[u8]) -> Result<String, FormError> {
    let malformed = || FormError::Malformed("malformed form body");
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).ok_or_else(malformed)?;
                out.push(crate::encoding::hex_pair(hex[0], hex[1]).ok_or_else(malformed)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8(out).map_err(|_| malformed())?;
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FormError::Malformed("control characters in form body"));
    }
    Ok(text)
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    /// RFC 8707 `resource` is the one repeatable parameter of the OAuth endpoints.
    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::read(req, &["resource"]).await?)
    }
}

/// A form a customer's browser posted: the same strict parsing, the chosen accounts repeatable,
/// and a page for an error.
pub struct PageForm(pub OAuthForm);

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = PageError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        OAuthForm::read(req, &["account"])
            .await
            .map(PageForm)
            .map_err(|_| PageError::BadRequest("malformed form"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let f = OAuthForm::parse(
            b"grant_type=client_credentials&scope=a+b%20c&empty=&resource=x&resource=y",
            &["resource"],
        )
        .unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("a b c"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.all("resource").collect::<Vec<_>>(), vec!["x", "y"]);
        assert!(OAuthForm::parse(b"resource=x&resource=y", &[]).is_err());
    }

    #[test]
    fn rejects_duplicates_and_bad_encoding() {
        for bad in [
            &b"a=1&a=2"[..],
            b"a=%zz",
            b"a=%4",
            b"a=%ff%fe",
            b"=x",
            b"a=%00",
            b"a=%+9",
            b"a=%-1",
        ] {
            assert!(
                OAuthForm::parse(bad, &["resource"]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
