//! What guards decided: requests allowed, and requests refused by the check that refused them,
//! counted with one relaxed atomic add per request (no lock, no allocation). Guards that share a
//! [`Decisions`] count together; [`Decisions::render`] writes them in Prometheus text form.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::RsError;

/// Why a guard refused a request: one stable name per check, or per failure of a check that an
/// operator would act on differently (a missing certificate versus another one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// An `access_token` in the query string (RFC 6750 §2.3, not allowed).
    TokenInQuery,
    /// No `Authorization` header, or one with another scheme.
    NoToken,
    /// A repeated or malformed `Authorization` header, or a token of characters no token has.
    MalformedAuthorization,
    /// Remote mode: the revocation list is past its bound.
    RevocationsStale,
    /// The token does not verify: `typ`, key, algorithm, signature, `iss` or `nbf`; or its
    /// signing key has since been withdrawn.
    InvalidToken,
    TokenExpired,
    /// The token's `aud` names none of the guard's audiences.
    WrongAudience,
    /// The token, or the grant it was issued under, was revoked.
    Revoked,
    ClientDisabled,
    /// The token's kind of binding (or none) is not one the route accepts with the scheme it
    /// came with.
    BindingNotAccepted,
    DpopProofMissing,
    /// The DPoP proof is malformed, repeated, or not for this request and token.
    DpopProofInvalid,
    DpopProofReplayed,
    /// The DPoP replay store did not answer (the caller sees a 503).
    DpopReplayUnavailable,
    /// A certificate-bound token (`cnf.x5t#S256`) without a certificate on the connection.
    CertificateMissing,
    /// A certificate-bound token over another certificate than its own.
    CertificateMismatch,
    /// A DPoP-bound token (`cnf.jkt`) with a proof signed by another key.
    DpopKeyMismatch,
    InsufficientScope,
    ApiKeyMissing,
    /// An API key that is unknown, revoked, expired, another client's, or bound to other
    /// certificates.
    ApiKeyInvalid,
    /// The route wants an API key but the guard was given no API key store.
    ApiKeysUnconfigured,
}

impl Reason {
    /// Every reason, in the order they are rendered.
    pub const ALL: [Reason; 21] = [
        Reason::TokenInQuery,
        Reason::NoToken,
        Reason::MalformedAuthorization,
        Reason::RevocationsStale,
        Reason::InvalidToken,
        Reason::TokenExpired,
        Reason::WrongAudience,
        Reason::Revoked,
        Reason::ClientDisabled,
        Reason::BindingNotAccepted,
        Reason::DpopProofMissing,
        Reason::DpopProofInvalid,
        Reason::DpopProofReplayed,
        Reason::DpopReplayUnavailable,
        Reason::CertificateMissing,
        Reason::CertificateMismatch,
        Reason::DpopKeyMismatch,
        Reason::InsufficientScope,
        Reason::ApiKeyMissing,
        Reason::ApiKeyInvalid,
        Reason::ApiKeysUnconfigured,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenInQuery => "token_in_query",
            Reason::NoToken => "no_token",
            Reason::MalformedAuthorization => "malformed_authorization",
            Reason::RevocationsStale => "revocations_stale",
            Reason::InvalidToken => "invalid_token",
            Reason::TokenExpired => "token_expired",
            Reason::WrongAudience => "wrong_audience",
            Reason::Revoked => "revoked",
            Reason::ClientDisabled => "client_disabled",
            Reason::BindingNotAccepted => "binding_not_accepted",
            Reason::DpopProofMissing => "dpop_proof_missing",
            Reason::DpopProofInvalid => "dpop_proof_invalid",
            Reason::DpopProofReplayed => "dpop_proof_replayed",
            Reason::DpopReplayUnavailable => "dpop_replay_unavailable",
            Reason::CertificateMissing => "certificate_missing",
            Reason::CertificateMismatch => "certificate_mismatch",
            Reason::DpopKeyMismatch => "dpop_key_mismatch",
            Reason::InsufficientScope => "insufficient_scope",
            Reason::ApiKeyMissing => "api_key_missing",
            Reason::ApiKeyInvalid => "api_key_invalid",
            Reason::ApiKeysUnconfigured => "api_keys_unconfigured",
        }
    }
}

/// A refusal inside the guard: the reason it is counted under and the error answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Denied(pub Reason, pub RsError);

/// Counters of one guard's decisions, or of several guards' that share them.
#[derive(Debug, Default)]
pub struct Decisions {
    allowed: AtomicU64,
    refused: [AtomicU64; Reason::ALL.len()],
}

impl Decisions {
    pub(super) fn count(&self, decision: Result<(), Reason>) {
        let counter = match decision {
            Ok(()) => &self.allowed,
            Err(reason) => &self.refused[reason as usize],
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn allowed(&self) -> u64 {
        self.allowed.load(Ordering::Relaxed)
    }

    pub fn refused(&self, reason: Reason) -> u64 {
        self.refused[reason as usize].load(Ordering::Relaxed)
    }

    /// Prometheus text exposition (version 0.0.4): `certbound_rs_decisions_total`, every reason
    /// present from the start (at 0) so that rates over new reasons are right. Reasons are fixed
    /// snake_case names: no label value needs escaping.
    pub fn render(&self, out: &mut String) {
        let name = "certbound_rs_decisions_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests the resource-server guards decided: allowed, or refused by the check that refused them.\n# TYPE {name} counter"
        );
        let _ = writeln!(out, "{name}{{outcome=\"allowed\"}} {}", self.allowed());
        for reason in Reason::ALL {
            let _ = writeln!(
                out,
                "{name}{{outcome=\"refused\",reason=\"{}\"}} {}",
                reason.as_str(),
                self.refused(reason)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_listed_once_in_discriminant_order() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason:?}");
        }
    }

    #[test]
    fn renders_every_reason_with_its_count() {
        let decisions = Decisions::default();
        decisions.count(Ok(()));
        decisions.count(Ok(()));
        decisions.count(Err(Reason::CertificateMismatch));
        let mut out = String::new();
        decisions.render(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3 + Reason::ALL.len());
        assert!(lines.contains(&r#"certbound_rs_decisions_total{outcome="allowed"} 2"#));
        assert!(lines.contains(&r#"certbound_rs_decisions_total{outcome="refused",reason="certificate_mismatch"} 1"#));
        assert!(lines.contains(&r#"certbound_rs_decisions_total{outcome="refused",reason="no_token"} 0"#));
    }
}
