//! The resource server's checks, each with one job and one error; [`Guard::check`] runs them in
//! order.
//!
//! [`Guard::check`]: super::Guard::check

use axum::http::{header, HeaderMap};

use super::api_keys::{self, ApiKeys};
use super::decisions::{Denied, Reason};
use super::error::Scheme;
use super::{Policy, Revocations, RsError, Verified, LEEWAY};
use crate::domain::{Audience, Binding, Confirmation, Proofs};
use crate::tls::PeerCertificate;

/// RFC 6750 §2.3 allows tokens in the query; FAPI and this server do not (they end up in logs).
pub(super) fn check_no_token_in_query(query: Option<&str>) -> Result<(), Denied> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next().is_some_and(|name| name == "access_token"))
    });
    if in_query {
        Err(Denied(
            Reason::TokenInQuery,
            RsError::InvalidRequest("access tokens are not accepted in the query string"),
        ))
    } else {
        Ok(())
    }
}

/// RFC 6750 §2.1 and RFC 9449 §7.1: exactly one `Authorization` header, `Bearer <token>` or
/// `DPoP <token>`. The token's characters are checked on a cache miss only ([`check_token68`]):
/// a cache hit is a token seen valid.
pub(super) fn access_token(headers: &HeaderMap) -> Result<(Scheme, &str), Denied> {
    let malformed = |d| Denied(Reason::MalformedAuthorization, RsError::InvalidRequest(d));
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Denied(Reason::NoToken, RsError::MissingToken));
    };
    if values.next().is_some() {
        return Err(malformed("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| malformed("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| malformed("malformed Authorization header"))?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(Denied(Reason::NoToken, RsError::MissingToken));
    };
    Ok((scheme, token.trim()))
}

/// The scheme the request used, for the challenge of a refusal: `DPoP` if it said so.
pub(super) fn scheme_of(headers: &HeaderMap) -> Scheme {
    access_token(headers).map_or(Scheme::Bearer, |(scheme, _)| scheme)
}

/// RFC 6750 §2.1 `b64token` characters.
pub(super) fn check_token68(token: &str) -> Result<(), Denied> {
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if token.is_empty() || !token.bytes().all(token68) {
        return Err(Denied(
            Reason::MalformedAuthorization,
            RsError::InvalidRequest("malformed bearer token"),
        ));
    }
    Ok(())
}

pub(super) fn check_audience(accepted: &[String], aud: &Audience) -> Result<(), Denied> {
    if aud.any_of(accepted) {
        Ok(())
    } else {
        Err(Denied(
            Reason::WrongAudience,
            RsError::InvalidToken("the access token is not for this resource server"),
        ))
    }
}

/// Checked on every request, cached or not.
pub(super) fn check_not_expired(token: &Verified, now: i64) -> Result<(), Denied> {
    if now <= token.exp.saturating_add(LEEWAY as i64) {
        Ok(())
    } else {
        Err(Denied(
            Reason::TokenExpired,
            RsError::InvalidToken("the access token expired"),
        ))
    }
}

/// The token's client has not been disabled (`certbound client disable`): its tokens stop with it.
pub(super) fn check_client_not_disabled(revocations: &Revocations, token: &Verified) -> Result<(), Denied> {
    if revocations.client_disabled(&token.client_id) {
        Err(Denied(
            Reason::ClientDisabled,
            RsError::InvalidToken("the client is disabled"),
        ))
    } else {
        Ok(())
    }
}

/// An operator revoked every token of the token's client issued up to some time; this one was.
pub(super) fn check_not_revoked_with_client(revocations: &Revocations, token: &Verified) -> Result<(), Denied> {
    if revocations.revoked_with_client(&token.client_id, token.iat) {
        Err(Denied(
            Reason::Revoked,
            RsError::InvalidToken("the access token was revoked"),
        ))
    } else {
        Ok(())
    }
}

/// Remote mode: a revocation list past its bound cannot tell a revoked token from a good one,
/// so tokens are refused until it is fresh again (unless the operator chose to keep serving).
pub(super) fn check_revocations_fresh(revocations: &Revocations) -> Result<(), Denied> {
    if revocations.refuses_tokens() {
        Err(Denied(Reason::RevocationsStale, RsError::RevocationsStale))
    } else {
        Ok(())
    }
}

pub(super) fn check_not_revoked(revocations: &Revocations, token: &Verified) -> Result<(), Denied> {
    if revocations.contains(&token.jti, token.grant_id.as_deref()) {
        Err(Denied(
            Reason::Revoked,
            RsError::InvalidToken("the access token was revoked"),
        ))
    } else {
        Ok(())
    }
}

/// The token's kind of binding is one the route accepts, sent with its scheme: a DPoP-bound
/// token as `DPoP` (RFC 9449 §7.1; as `Bearer` it would be a downgrade), a certificate-bound
/// one as `Bearer`, an unbound one only as `Bearer` and only where the route allows it.
pub(super) fn check_scheme_fits_token(policy: &Policy, token: &Verified, scheme: Scheme) -> Result<(), Denied> {
    let refused = |d| Err(Denied(Reason::BindingNotAccepted, RsError::InvalidToken(d)));
    match (&token.cnf, scheme) {
        (Some(Confirmation::Jkt(_)), Scheme::Dpop) if policy.binding.accepts_dpop() => Ok(()),
        (Some(Confirmation::Jkt(_)), Scheme::Dpop) => refused("this resource needs a certificate-bound access token"),
        (Some(Confirmation::Jkt(_)), Scheme::Bearer) => {
            refused("the access token is DPoP-bound; send it with the DPoP scheme and a proof")
        }
        (Some(Confirmation::X5tS256(_)), Scheme::Bearer) if policy.binding.accepts_certificate() => Ok(()),
        (Some(Confirmation::X5tS256(_)), Scheme::Bearer) => refused("this resource needs a DPoP-bound access token"),
        (Some(Confirmation::X5tS256(_)), Scheme::Dpop) => {
            refused("the access token is certificate-bound; send it with the Bearer scheme")
        }
        (None, Scheme::Bearer) if policy.allow_unbound => Ok(()),
        (None, _) => refused("the access token is not sender-constrained"),
    }
}

/// RFC 8705 §3 and RFC 9449 §7.1: the certificate on this connection, or the key of this
/// request's DPoP proof, is the one the token is bound to. Checked on every request, cached or
/// not.
pub(super) fn check_sender_binding(token: &Verified, proofs: Proofs<'_>) -> Result<(), Denied> {
    let Some(cnf) = &token.cnf else { return Ok(()) };
    let (reason, description) = match (cnf.check(proofs), cnf) {
        (Binding::Holds, _) => return Ok(()),
        (Binding::Mismatch, Confirmation::X5tS256(_)) => (
            Reason::CertificateMismatch,
            "the access token is bound to a different certificate",
        ),
        (Binding::Absent, Confirmation::X5tS256(_)) => (
            Reason::CertificateMissing,
            "the access token is certificate-bound; present the certificate",
        ),
        (_, Confirmation::Jkt(_)) => (
            Reason::DpopKeyMismatch,
            "the access token is bound to a different DPoP key",
        ),
    };
    Err(Denied(reason, RsError::InvalidToken(description)))
}

pub(super) fn check_scopes(policy: &Policy, token: &Verified) -> Result<(), Denied> {
    let granted = |s: &String| token.scopes.iter().any(|g| g == s);
    if policy.scopes.iter().all(granted) {
        Ok(())
    } else {
        Err(Denied(
            Reason::InsufficientScope,
            RsError::InsufficientScope(policy.scopes.join(" ")),
        ))
    }
}

/// The `x-api-key` must be a live key of the token's client, and, if the key is bound to
/// certificates, presented over one of them. Every failure reads the same to the caller; only
/// the count tells a missing key from a wrong one.
pub(super) async fn check_api_key(
    keys: &ApiKeys,
    headers: &HeaderMap,
    token: &Verified,
    cert: &PeerCertificate,
    now: i64,
) -> Result<(), Denied> {
    let refused = |reason| {
        Denied(
            reason,
            RsError::InvalidToken("the request's credentials do not belong together"),
        )
    };
    let mut values = headers.get_all(api_keys::HEADER).iter();
    let presented = match (values.next(), values.next()) {
        (None, _) => return Err(refused(Reason::ApiKeyMissing)),
        (Some(value), None) => value.to_str().map_err(|_| refused(Reason::ApiKeyInvalid))?,
        (Some(_), Some(_)) => return Err(refused(Reason::ApiKeyInvalid)),
    };
    keys.verify(presented, &token.client_id, cert.get().map(|c| c.thumbprint()), now)
        .await
        .map_err(|reason| {
            tracing::warn!(client_id = %token.client_id, %reason, "API key refused");
            refused(Reason::ApiKeyInvalid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        let missing = Err(Denied(Reason::NoToken, RsError::MissingToken));
        assert_eq!(access_token(&h), missing);
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(access_token(&h), missing);
        h.insert(header::AUTHORIZATION, "bearer a.b.c".parse().unwrap());
        assert_eq!(access_token(&h), Ok((Scheme::Bearer, "a.b.c")));
        h.insert(header::AUTHORIZATION, "DPoP a.b.c".parse().unwrap());
        assert_eq!(access_token(&h), Ok((Scheme::Dpop, "a.b.c")));
        assert!(check_token68("a.b.c").is_ok());
        let malformed = |r| {
            matches!(
                r,
                Err(Denied(Reason::MalformedAuthorization, RsError::InvalidRequest(_)))
            )
        };
        assert!(malformed(check_token68("a b")));
        assert!(malformed(check_token68("")));
        h.append(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(malformed(access_token(&h).map(|_| ())));
    }

    #[test]
    fn query_tokens_are_refused() {
        assert!(check_no_token_in_query(Some("a=1&access_token=x")).is_err());
        assert!(check_no_token_in_query(Some("not_access_token=x")).is_ok());
        assert!(check_no_token_in_query(None).is_ok());
    }
}
