//! The resource server's checks, each with one job and one error; [`Guard::check`] runs them in
//! order.
//!
//! [`Guard::check`]: super::Guard::check

use axum::http::{header, HeaderMap};

use super::api_keys::{self, ApiKeys};
use super::error::Scheme;
use super::{Policy, Revocations, RsError, Verified, LEEWAY};
use crate::domain::{Audience, Binding, Confirmation, Proofs};
use crate::tls::PeerCertificate;

/// RFC 6750 §2.3 allows tokens in the query; FAPI and this server do not (they end up in logs).
pub(super) fn check_no_token_in_query(query: Option<&str>) -> Result<(), RsError> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next().is_some_and(|name| name == "access_token"))
    });
    if in_query {
        Err(RsError::InvalidRequest(
            "access tokens are not accepted in the query string",
        ))
    } else {
        Ok(())
    }
}

/// RFC 6750 §2.1 and RFC 9449 §7.1: exactly one `Authorization` header, `Bearer <token>` or
/// `DPoP <token>`. The token's characters are checked on a cache miss only ([`check_token68`]):
/// a cache hit is a token seen valid.
pub(super) fn access_token(headers: &HeaderMap) -> Result<(Scheme, &str), RsError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(RsError::MissingToken);
    };
    if values.next().is_some() {
        return Err(RsError::InvalidRequest("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| RsError::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(RsError::InvalidRequest("malformed Authorization header"))?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(RsError::MissingToken);
    };
    Ok((scheme, token.trim()))
}

/// The scheme the request used, for the challenge of a refusal: `DPoP` if it said so.
pub(super) fn scheme_of(headers: &HeaderMap) -> Scheme {
    access_token(headers).map_or(Scheme::Bearer, |(scheme, _)| scheme)
}

/// RFC 6750 §2.1 `b64token` characters.
pub(super) fn check_token68(token: &str) -> Result<(), RsError> {
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if token.is_empty() || !token.bytes().all(token68) {
        return Err(RsError::InvalidRequest("malformed bearer token"));
    }
    Ok(())
}

pub(super) fn check_audience(accepted: &[String], aud: &Audience) -> Result<(), RsError> {
    if aud.any_of(accepted) {
        Ok(())
    } else {
        Err(RsError::InvalidToken(
            "the access token is not for this resource server",
        ))
    }
}

/// Checked on every request, cached or not.
pub(super) fn check_not_expired(token: &Verified, now: i64) -> Result<(), RsError> {
    if now <= token.exp.saturating_add(LEEWAY as i64) {
        Ok(())
    } else {
        Err(RsError::InvalidToken("the access token expired"))
    }
}

/// The token's client has not been disabled (`certbound client disable`): its tokens stop with it.
pub(super) fn check_client_not_disabled(revocations: &Revocations, token: &Verified) -> Result<(), RsError> {
    if revocations.client_disabled(&token.client_id) {
        Err(RsError::InvalidToken("the client is disabled"))
    } else {
        Ok(())
    }
}

/// An operator revoked every token of the token's client issued up to some time; this one was.
pub(super) fn check_not_revoked_with_client(revocations: &Revocations, token: &Verified) -> Result<(), RsError> {
    if revocations.revoked_with_client(&token.client_id, token.iat) {
        Err(RsError::InvalidToken("the access token was revoked"))
    } else {
        Ok(())
    }
}

/// Remote mode: a revocation list past its bound cannot tell a revoked token from a good one,
/// so tokens are refused until it is fresh again (unless the operator chose to keep serving).
pub(super) fn check_revocations_fresh(revocations: &Revocations) -> Result<(), RsError> {
    if revocations.refuses_tokens() {
        Err(RsError::RevocationsStale)
    } else {
        Ok(())
    }
}

pub(super) fn check_not_revoked(revocations: &Revocations, token: &Verified) -> Result<(), RsError> {
    if revocations.contains(&token.jti, token.grant_id.as_deref()) {
        Err(RsError::InvalidToken("the access token was revoked"))
    } else {
        Ok(())
    }
}

/// The token's kind of binding is one the route accepts, sent with its scheme: a DPoP-bound
/// token as `DPoP` (RFC 9449 §7.1; as `Bearer` it would be a downgrade), a certificate-bound
/// one as `Bearer`, an unbound one only as `Bearer` and only where the route allows it.
pub(super) fn check_scheme_fits_token(policy: &Policy, token: &Verified, scheme: Scheme) -> Result<(), RsError> {
    match (&token.cnf, scheme) {
        (Some(Confirmation::Jkt(_)), Scheme::Dpop) if policy.binding.accepts_dpop() => Ok(()),
        (Some(Confirmation::Jkt(_)), Scheme::Dpop) => Err(RsError::InvalidToken(
            "this resource needs a certificate-bound access token",
        )),
        (Some(Confirmation::Jkt(_)), Scheme::Bearer) => Err(RsError::InvalidToken(
            "the access token is DPoP-bound; send it with the DPoP scheme and a proof",
        )),
        (Some(Confirmation::X5tS256(_)), Scheme::Bearer) if policy.binding.accepts_certificate() => Ok(()),
        (Some(Confirmation::X5tS256(_)), Scheme::Bearer) => {
            Err(RsError::InvalidToken("this resource needs a DPoP-bound access token"))
        }
        (Some(Confirmation::X5tS256(_)), Scheme::Dpop) => Err(RsError::InvalidToken(
            "the access token is certificate-bound; send it with the Bearer scheme",
        )),
        (None, Scheme::Bearer) if policy.allow_unbound => Ok(()),
        (None, _) => Err(RsError::InvalidToken("the access token is not sender-constrained")),
    }
}

/// RFC 8705 §3 and RFC 9449 §7.1: the certificate on this connection, or the key of this
/// request's DPoP proof, is the one the token is bound to. Checked on every request, cached or
/// not.
pub(super) fn check_sender_binding(token: &Verified, proofs: Proofs<'_>) -> Result<(), RsError> {
    let Some(cnf) = &token.cnf else { return Ok(()) };
    match (cnf.check(proofs), cnf) {
        (Binding::Holds, _) => Ok(()),
        (Binding::Mismatch, Confirmation::X5tS256(_)) => Err(RsError::InvalidToken(
            "the access token is bound to a different certificate",
        )),
        (Binding::Absent, Confirmation::X5tS256(_)) => Err(RsError::InvalidToken(
            "the access token is certificate-bound; present the certificate",
        )),
        (_, Confirmation::Jkt(_)) => Err(RsError::InvalidToken(
            "the access token is bound to a different DPoP key",
        )),
    }
}

pub(super) fn check_scopes(policy: &Policy, token: &Verified) -> Result<(), RsError> {
    let granted = |s: &String| token.scopes.iter().any(|g| g == s);
    if policy.scopes.iter().all(granted) {
        Ok(())
    } else {
        Err(RsError::InsufficientScope(policy.scopes.join(" ")))
    }
}

/// The `x-api-key` must be a live key of the token's client, and, if the key is bound to
/// certificates, presented over one of them. Every failure reads the same to the caller.
pub(super) async fn check_api_key(
    keys: &ApiKeys,
    headers: &HeaderMap,
    token: &Verified,
    cert: &PeerCertificate,
    now: i64,
) -> Result<(), RsError> {
    let refused = RsError::InvalidToken("the request's credentials do not belong together");
    let mut values = headers.get_all(api_keys::HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(refused);
    };
    let presented = value.to_str().map_err(|_| refused.clone())?;
    keys.verify(presented, &token.client_id, cert.get().map(|c| c.thumbprint()), now)
        .await
        .map_err(|reason| {
            tracing::warn!(client_id = %token.client_id, %reason, "API key refused");
            refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(access_token(&h), Err(RsError::MissingToken));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(access_token(&h), Err(RsError::MissingToken));
        h.insert(header::AUTHORIZATION, "bearer a.b.c".parse().unwrap());
        assert_eq!(access_token(&h), Ok((Scheme::Bearer, "a.b.c")));
        h.insert(header::AUTHORIZATION, "DPoP a.b.c".parse().unwrap());
        assert_eq!(access_token(&h), Ok((Scheme::Dpop, "a.b.c")));
        assert!(check_token68("a.b.c").is_ok());
        assert!(matches!(check_token68("a b"), Err(RsError::InvalidRequest(_))));
        assert!(matches!(check_token68(""), Err(RsError::InvalidRequest(_))));
        h.append(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(matches!(access_token(&h), Err(RsError::InvalidRequest(_))));
    }

    #[test]
    fn query_tokens_are_refused() {
        assert!(check_no_token_in_query(Some("a=1&access_token=x")).is_err());
        assert!(check_no_token_in_query(Some("not_access_token=x")).is_ok());
        assert!(check_no_token_in_query(None).is_ok());
    }
}
