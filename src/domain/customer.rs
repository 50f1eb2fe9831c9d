//! Bank customers: the end users who sign in at the authorization endpoint and grant TPPs access
//! to their accounts.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Whether the customer may sign in and their refresh tokens work.
pub type CustomerStatus = super::status::Status;

/// A customer as stored. `id` is the stable, opaque `sub` of their tokens; the username is what
/// they type, compared case-insensitively.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub username: String,
    pub password: PasswordHash,
    pub status: CustomerStatus,
    /// Account ids the customer may share.
    pub accounts: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a customer's id, their tokens' `sub`, starts. Client ids may not start so, which keeps
/// the `sub` of a client's own tokens from ever naming a customer.
pub const CUSTOMER_ID_PREFIX: &str = "cust_";

impl Customer {
    /// A new active customer with a fresh opaque id (their tokens' `sub`) and an argon2id hash
    /// of `password`.
    pub fn register(username: &str, password: &str, accounts: Vec<String>) -> Result<Self, String> {
        let username = normalize_username(username)?;
        if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
            return Err(format!("invalid account id {bad:?}: 1-40 letters, digits or '-'"));
        }
        let mut id = [0u8; 16];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| "no system randomness".to_string())?;
        let now = crate::now();
        Ok(Self {
            id: format!(
                "{CUSTOMER_ID_PREFIX}{}",
                id.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
            username,
            password: PasswordHash::new(password)?,
            status: CustomerStatus::Active,
            accounts,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == CustomerStatus::Active
    }
}

/// Usernames are 1–64 of `a-z 0-9 . _ @ -`, lower-cased, so that what a customer types and what
/// an attacker probes compare the same way.
pub fn normalize_username(input: &str) -> Result<String, String> {
    let name = input.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err("a username is 1-64 letters, digits, '.', '_', '@' or '-'".into())
    }
}

/// Account ids: 1–40 letters, digits or `-`.
pub fn is_account_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An argon2id hash in PHC string form; the password itself is never kept.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(…)")
    }
}

/// Shortest password accepted (NIST SP 800-63B §5.1.1.2); the longest is bounded so that hashing
/// cannot be made expensive with huge inputs.
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;

impl PasswordHash {
    /// Hashes a new password with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, the
    /// OWASP minimum) and a random salt.
    pub fn new(password: &str) -> Result<Self, String> {
        let length = password.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&length) {
            return Err(format!("a password is {PASSWORD_MIN}-{PASSWORD_MAX} characters"));
        }
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| Self(h.to_string()))
            .map_err(|e| e.to_string())
    }

    /// A stored PHC string; refused unless it is an argon2id hash.
    pub fn from_phc(phc: &str) -> Result<Self, String> {
        let parsed = argon2::PasswordHash::new(phc).map_err(|e| e.to_string())?;
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return Err("not an argon2id hash".into());
        }
        Ok(Self(phc.to_string()))
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether `password` is the one hashed. Over-long input fails without hashing.
    pub fn verify(&self, password: &str) -> bool {
        if password.len() > PASSWORD_MAX * 4 {
            return false;
        }
        argon2::PasswordHash::new(&self.0)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    }

    /// Verifies against a hash of nothing anyone knows, so that an unknown username costs as
    /// much time as a wrong password.
    pub fn verify_dummy(password: &str) -> bool {
        static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            let unknowable = SaltString::generate(&mut OsRng);
            PasswordHash::new(unknowable.as_str()).expect("hashing a random password")
        });
        dummy.verify(password);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = PasswordHash::new("correct horse").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        assert_ne!(PasswordHash::new("correct horse").unwrap(), hash, "salted");
        assert!(PasswordHash::new("short").is_err());
        assert!(PasswordHash::from_phc(hash.as_phc()).is_ok());
        assert!(PasswordHash::from_phc("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA").is_err());
        assert!(PasswordHash::from_phc("plaintext").is_err());
        assert!(!PasswordHash::verify_dummy("anything"));
    }

    #[test]
    fn usernames_and_accounts() {
        assert_eq!(normalize_username(" Alice ").unwrap(), "alice");
        assert!(normalize_username("a b").is_err());
        assert!(normalize_username("<script>").is_err());
        assert!(normalize_username("").is_err());
        assert!(is_account_id("22289"));
        assert!(!is_account_id("22 289"));
    }
}
