//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, FAPI 2.0 SP §5.3.2.1): the code
//! is redeemed once, before it expires, by the client it was issued to, with the same redirect
//! URI and the PKCE verifier of its challenge, while its grant is live. Presenting it is one
//! atomic statement that counts the presentation, so of concurrent presentations exactly one is
//! first; a second presentation revokes the grant and every token issued under it. A code
//! presented with a wrong verifier, client or redirect URI is used up.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client_auth::VerifiedClient;
use super::issue::{self, TokenResponse};
use super::token::TokenRequest;
use super::{authorization_details, OAuthError, Shared};
use crate::domain::{Grant, GrantType, Jkt};
use crate::store::grants::{CodeRow, Presented};
use crate::web::cookies::{hash, random_token};

pub async fn exchange(state: &Shared, request: &TokenRequest<'_>) -> Result<TokenResponse, OAuthError> {
    let (client, form) = (request.client, request.form);
    let code = form.require("code", "code is required")?;
    let redirect_uri = form.require("redirect_uri", "redirect_uri is required")?;
    let verifier = check_verifier_format(form.get("code_verifier"))?;
    let cnf = request.confirmation()?;
    let now = crate::now();
    let refresh_token = client.client().may_use(GrantType::RefreshToken).then(random_token);
    let Presented {
        grant,
        code,
        presentations,
    } = state
        .store
        .present_code(
            &hash(code),
            refresh_token.as_deref().map(hash).as_deref(),
            request.dpop_key.as_ref(),
            now,
        )
        .await
        .map_err(OAuthError::internal)?
        .ok_or(OAuthError::InvalidGrant("unknown authorization code"))?;
    check_first_presentation(state, &grant, presentations).await?;
    check_not_expired(&code, now)?;
    check_same_client(&grant, client)?;
    check_same_redirect_uri(&code, redirect_uri)?;
    check_pkce(&code, verifier)?;
    check_dpop_key(&grant, request.dpop_key.as_ref())?;
    check_grant_live(&grant, now)?;
    let details = authorization_details::narrowed(&grant.details, form)?;
    let authorization = grant.authorization(grant.scopes.clone(), grant.audience.clone(), details);
    let mut response = TokenResponse::new(state, client, &authorization, cnf.as_ref())?;
    if grant.scopes.iter().any(|s| s == "openid") {
        response.id_token = Some(issue::id_token(
            state,
            client.id(),
            &grant.customer_id,
            grant.auth_time,
            code.nonce.as_deref(),
            grant.consent_id(),
            now,
        )?);
    }
    response.refresh_token = refresh_token;
    tracing::info!(grant_id = %grant.id, client_id = client.id(), "authorization code redeemed");
    Ok(response)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters. Absent or malformed is the same failure as
/// a wrong one, and costs no database work.
fn check_verifier_format(verifier: Option<&str>) -> Result<&str, OAuthError> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    match verifier {
        Some(v) if (43..=128).contains(&v.len()) && v.bytes().all(unreserved) => Ok(v),
        _ => Err(OAuthError::InvalidGrant("code_verifier missing or malformed")),
    }
}

/// RFC 6749 §4.1.2: a code presented again means it leaked; everything issued from it goes.
async fn check_first_presentation(state: &Shared, grant: &Grant, presentations: i64) -> Result<(), OAuthError> {
    if presentations == 1 {
        return Ok(());
    }
    let revoked = state
        .store
        .revoke_grant(&grant.id, crate::now())
        .await
        .map_err(OAuthError::internal)?;
    state.refresh_tokens.clear();
    tracing::warn!(grant_id = %grant.id, revoked, "authorization code presented again; grant revoked");
    Err(OAuthError::InvalidGrant("authorization code already used"))
}

fn check_not_expired(row: &CodeRow, now: i64) -> Result<(), OAuthError> {
    if now <= row.expires_at {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("authorization code expired"))
    }
}

fn check_same_client(grant: &Grant, client: &VerifiedClient) -> Result<(), OAuthError> {
    if grant.client_id == client.id() {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("authorization code of another client"))
    }
}

/// RFC 6749 §4.1.3: identical to the one in the authorization request.
fn check_same_redirect_uri(row: &CodeRow, redirect_uri: &str) -> Result<(), OAuthError> {
    if row.redirect_uri == redirect_uri {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant(
            "redirect_uri differs from the authorization request",
        ))
    }
}

/// RFC 9449 §10: a code bound to a DPoP key (at PAR, or by the proof of its redemption) is
/// redeemed with a proof of that key.
fn check_dpop_key(grant: &Grant, presented: Option<&Jkt>) -> Result<(), OAuthError> {
    match (&grant.dpop_jkt, presented) {
        (None, _) => Ok(()),
        (Some(bound), Some(presented)) if bound == presented => Ok(()),
        _ => Err(OAuthError::InvalidGrant("the code is bound to another DPoP key")),
    }
}

/// Not revoked (by the customer, an operator, or a replay) and not expired.
fn check_grant_live(grant: &Grant, now: i64) -> Result<(), OAuthError> {
    if grant.is_live(now) {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("the grant was revoked or has expired"))
    }
}

/// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) equals the challenge, compared in constant
/// time.
fn check_pkce(row: &CodeRow, verifier: &str) -> Result<(), OAuthError> {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if bool::from(computed.as_bytes().ct_eq(row.code_challenge.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("code_verifier does not match the challenge"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn pkce_s256_known_answer() {
        let row = CodeRow {
            code_hash: String::new(),
            redirect_uri: String::new(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            nonce: None,
            expires_at: 0,
        };
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(check_verifier_format(Some(verifier)).ok(), Some(verifier));
        assert!(check_pkce(&row, verifier).is_ok());
        assert!(check_pkce(&row, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl").is_err());
        assert!(check_verifier_format(Some("short")).is_err());
        assert!(check_verifier_format(Some(&"a".repeat(129))).is_err());
        assert!(check_verifier_format(Some(&format!("{}+", "a".repeat(43)))).is_err());
        assert!(check_verifier_format(None).is_err());
    }
}
