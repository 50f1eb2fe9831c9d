//! The key-encryption key: AES-256-GCM over signing keys at rest, so a copy of the database
//! alone does not leak them.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

/// Where the key-encryption key comes from. `Debug` never shows an inline key.
#[derive(Clone)]
pub enum KekSource {
    /// Base64 of 32 bytes, from the config file or `CERTBOUND_KEK`.
    Inline(String),
    /// A file holding it, generated on first start (development default).
    File(std::path::PathBuf),
}

impl std::fmt::Debug for KekSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

pub struct KeyEncryptionKey {
    key: LessSafeKey,
    /// HKDF pseudorandom key, for deriving secrets of other purposes from the same key.
    prk: aws_lc_rs::hkdf::Prk,
}

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key-encryption key must be base64 of 32 bytes")]
    Format,
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("sealed key does not open with this key-encryption key (wrong CERTBOUND_KEK?)")]
    Open,
}

impl KeyEncryptionKey {
    pub fn from_base64(text: &str) -> Result<Self, KekError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| KekError::Format)?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KekError::Format)?;
        let prk = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"certbound").extract(&bytes);
        Ok(Self {
            key: LessSafeKey::new(key),
            prk,
        })
    }

    /// Reads the configured key, or the data-dir file, generating that file (mode 0600) on
    /// first start.
    pub fn load(source: &KekSource) -> Result<Self, KekError> {
        match source {
            KekSource::Inline(text) => Self::from_base64(text),
            KekSource::File(path) => {
                let shown = path.display().to_string();
                match std::fs::read_to_string(path) {
                    Ok(text) => Self::from_base64(&text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let text = Self::generate_base64();
                        crate::write_private_file(path, text.as_bytes()).map_err(|e| KekError::Io(shown, e))?;
                        Self::from_base64(&text)
                    }
                    Err(e) => Err(KekError::Io(shown, e)),
                }
            }
        }
    }

    /// A 256-bit secret for `purpose`, the same on every node that has this key (HKDF-SHA256,
    /// RFC 5869), and independent of the key itself and of other purposes.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.prk
            .expand(&[purpose.as_bytes()], aws_lc_rs::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out))
            .expect("HKDF-SHA256 yields 32 bytes");
        out
    }

    /// A fresh random key in the configured form.
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
        STANDARD.encode(bytes)
    }

    /// `base64(nonce || ciphertext || tag)`, bound to `context` (the key id).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("system RNG");
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// The plaintext, wiped from memory when dropped (it is a private key).
    pub fn open(&self, context: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, KekError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| KekError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(KekError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KekError::Open)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| KekError::Open)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let kek = KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64()).unwrap();
        let sealed = kek.seal("kid1", b"secret");
        assert_eq!(kek.open("kid1", &sealed).unwrap().as_slice(), b"secret");
        assert!(kek.open("kid2", &sealed).is_err(), "context is authenticated");
        let other = KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64()).unwrap();
        assert!(other.open("kid1", &sealed).is_err());
        assert!(KeyEncryptionKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(kek.derive("a"), kek.derive("a"));
        assert_ne!(kek.derive("a"), kek.derive("b"));
        assert_ne!(kek.derive("a"), other.derive("a"));
    }
}
