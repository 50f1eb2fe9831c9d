//! RFC 5280 path-validation rules webpki leaves to the application, run on the path it built.
//! Each check has one job and one error; OpenSSL (and so most servers a bank compares us with)
//! refuses every one of these certificates.

use rustls_pki_types::CertificateDer;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_RSASSAPSS, OID_SIG_ED25519, OID_SIG_ED448,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ChainError;

/// Smallest RSA modulus accepted (RFC 9325 §4.1, NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;
/// Longest serial number (RFC 5280 §4.1.2.2).
const MAX_SERIAL_OCTETS: usize = 20;

/// Runs every check on a validated path: `leaf` first, then the intermediates webpki used.
/// Trust anchors are the operator's own configuration and are not re-checked.
pub(super) fn check_path<'a>(
    leaf: &[u8],
    intermediates: impl Iterator<Item = CertificateDer<'a>>,
) -> Result<(), ChainError> {
    let leaf = parse(leaf)?;
    check_serial(&leaf)?;
    check_key_strength(&leaf)?;
    check_leaf_key_usage(&leaf)?;
    check_no_name_constraints_on_leaf(&leaf)?;
    for der in intermediates {
        let ca = parse(&der)?;
        check_serial(&ca)?;
        check_key_strength(&ca)?;
        check_ca_key_usage(&ca)?;
    }
    Ok(())
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, ChainError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(ChainError::Invalid("certificate does not parse".into())),
    }
}

/// RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets, DER-encoded (no superfluous
/// leading octet).
fn check_serial(cert: &X509Certificate<'_>) -> Result<(), ChainError> {
    let serial = cert.raw_serial();
    let well_formed = match serial {
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0, next, ..] if next & 0x80 == 0 => false,
        _ => serial.len() <= MAX_SERIAL_OCTETS && serial.iter().any(|b| *b != 0),
    };
    if well_formed {
        Ok(())
    } else {
        Err(ChainError::BadSerial)
    }
}

/// Keys too weak to trust (RFC 9325 §4.1): RSA below 2048 bits, and curves other than P-256,
/// P-384, P-521, Ed25519 and Ed448 (P-192 among them).
fn check_key_strength(cert: &X509Certificate<'_>) -> Result<(), ChainError> {
    let spki = cert.public_key();
    let algorithm = &spki.algorithm.algorithm;
    let strong = if *algorithm == OID_PKCS1_RSAENCRYPTION || *algorithm == OID_PKCS1_RSASSAPSS {
        match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus) >= MIN_RSA_BITS,
            _ => false,
        }
    } else if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        curve.is_some_and(|c| c == OID_EC_P256 || c == OID_NIST_EC_P384 || c == OID_NIST_EC_P521)
    } else {
        *algorithm == OID_SIG_ED25519 || *algorithm == OID_SIG_ED448
    };
    if strong {
        Ok(())
    } else {
        Err(ChainError::WeakKey)
    }
}

fn modulus_bits(modulus: &[u8]) -> usize {
    let significant = modulus.iter().position(|b| *b != 0).map_or(&[][..], |i| &modulus[i..]);
    match significant.first() {
        Some(first) => (significant.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

/// RFC 5280 §4.2.1.3: a key that signs TLS handshakes needs digitalSignature when the
/// certificate restricts its key's usage at all.
fn check_leaf_key_usage(cert: &X509Certificate<'_>) -> Result<(), ChainError> {
    match cert.key_usage() {
        Ok(None) => Ok(()),
        Ok(Some(usage)) if usage.value.digital_signature() => Ok(()),
        Ok(Some(_)) => Err(ChainError::LeafKeyUsage),
        Err(_) => Err(ChainError::Invalid("keyUsage does not parse".into())),
    }
}

/// RFC 5280 §4.2.1.3: a CA's key signs certificates only when its keyUsage (if present, and
/// it must be in a conforming CA) asserts keyCertSign.
fn check_ca_key_usage(cert: &X509Certificate<'_>) -> Result<(), ChainError> {
    match cert.key_usage() {
        Ok(None) => Ok(()),
        Ok(Some(usage)) if usage.value.key_cert_sign() => Ok(()),
        Ok(Some(_)) => Err(ChainError::CaKeyUsage),
        Err(_) => Err(ChainError::Invalid("keyUsage does not parse".into())),
    }
}

/// RFC 5280 §4.2.1.10: nameConstraints "MUST be used only in a CA certificate".
fn check_no_name_constraints_on_leaf(cert: &X509Certificate<'_>) -> Result<(), ChainError> {
    match cert.name_constraints() {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(ChainError::NameConstraintsOnLeaf),
        Err(_) => Err(ChainError::Invalid("nameConstraints does not parse".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::modulus_bits;

    #[test]
    fn modulus_bits_ignores_the_sign_octet() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
        assert_eq!(modulus_bits(&[0x00; 4]), 0);
        assert_eq!(modulus_bits(&[0x00; 0]), 0);
        let rsa_2048 = [&[0x00][..], &[0xc3; 256][..]].concat();
        assert_eq!(modulus_bits(&rsa_2048), 2048);
        assert_eq!(modulus_bits(&rsa_2048[..256]), 2040);
    }
}
