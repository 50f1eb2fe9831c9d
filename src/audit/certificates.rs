//! Each client certificate's audit summary, worked out once: writing out the subject and issuer
//! (RFC 4514), the serial in hex and the thumbprint in base64url costs more than the rest of an
//! event, and every request on a keep-alive connection presents the same certificate.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::AuditedCertificate;
use crate::pki::ClientCertificate;

/// Summaries by thumbprint. Bounded: when full it starts over, which only costs recomputing.
/// Read-locked on the hot path, so that concurrent requests do not wait on each other.
#[derive(Debug, Default)]
pub(super) struct Summaries(RwLock<HashMap<[u8; 32], Arc<AuditedCertificate>>>);

impl Summaries {
    const MAX: usize = 4_096;

    pub(super) fn of(&self, cert: &ClientCertificate) -> Arc<AuditedCertificate> {
        let key = *cert.thumbprint().as_bytes();
        if let Some(known) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return known.clone();
        }
        let summary = Arc::new(AuditedCertificate::of(cert));
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        if known.len() >= Self::MAX {
            known.clear();
        }
        known.insert(key, summary.clone());
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::dev::{self_signed, CertSpec};

    fn certificate(name: &str) -> ClientCertificate {
        let issued = self_signed(&CertSpec::client(name, 30)).unwrap();
        ClientCertificate::from_chain(vec![issued.der()]).unwrap()
    }

    #[test]
    fn a_certificate_is_summarised_once_and_shared() {
        let summaries = Summaries::default();
        let (a, b) = (certificate("a"), certificate("b"));
        let first = summaries.of(&a);
        assert!(Arc::ptr_eq(&first, &summaries.of(&a)));
        assert_eq!(*first, AuditedCertificate::of(&a));
        assert_eq!(summaries.of(&b).subject, "CN=b");
        assert!(!Arc::ptr_eq(&first, &summaries.of(&b)));
    }
}
