//! Fuzz targets for every parser that reads attacker bytes, written once: `cargo fuzz` runs them
//! coverage-guided (`fuzz/`, nightly), and `tests/fuzz_props.rs` runs them as bounded property
//! tests on stable, with [`seeds`] and the committed corpus as fixed cases.
//!
//! Each target takes arbitrary bytes and panics only when a parser does, or when an invariant
//! stated in the target breaks (a written DN that does not parse back, a token the guard admits
//! although it is expired or bound to another certificate, …). Nothing else in certbound uses
//! this module.

pub mod certificate;
pub mod dn;
pub mod form;
pub mod forwarded;
pub mod guard;

/// A target: its name (the `fuzz/fuzz_targets/` file and corpus directory), the function, and
/// valid inputs to start from.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub seeds: fn() -> Vec<Vec<u8>>,
}

pub const TARGETS: [Target; 5] = [
    Target {
        name: "form",
        run: form::run,
        seeds: form::seeds,
    },
    Target {
        name: "forwarded",
        run: forwarded::run,
        seeds: forwarded::seeds,
    },
    Target {
        name: "dn",
        run: dn::run,
        seeds: dn::seeds,
    },
    Target {
        name: "guard",
        run: guard::run,
        seeds: guard::seeds,
    },
    Target {
        name: "certificate",
        run: certificate::run,
        seeds: certificate::seeds,
    },
];

/// Valid inputs to start from, by target name.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    TARGETS
        .iter()
        .find(|t| t.name == target)
        .map(|t| (t.seeds)())
        .unwrap_or_default()
}

/// One client certificate chain (leaf, intermediate) from a throwaway dev CA, made once per
/// process for the targets that need real certificates.
fn sample_chain() -> &'static [rustls_pki_types::CertificateDer<'static>] {
    use crate::pki::dev::{Authority, CertSpec};
    use rcgen::DnType;
    static CHAIN: std::sync::OnceLock<Vec<rustls_pki_types::CertificateDer<'static>>> = std::sync::OnceLock::new();
    CHAIN.get_or_init(|| {
        let root = Authority::generate(vec![(DnType::CommonName, "fuzz root".into())]).expect("dev CA");
        let ca = root
            .issue_intermediate(vec![
                (DnType::CommonName, "fuzz issuing, \"CA\"".into()),
                (DnType::OrganizationName, "Bank+Co; <x>".into()),
            ])
            .expect("dev intermediate");
        let leaf = ca.issue(&CertSpec::client("tpp#1 ", 30)).expect("dev leaf");
        vec![leaf.der(), rustls_pki_types::CertificateDer::from(ca_der(&ca))]
    })
}

fn ca_der(ca: &crate::pki::dev::Authority) -> Vec<u8> {
    crate::pki::certs_from_pem(ca.cert_pem().as_bytes())
        .expect("the dev CA's PEM")
        .remove(0)
        .to_vec()
}
