//! Settings that must never reach a log line, a `{:?}` or a panic message: the inline
//! key-encryption key, and the database URL's password.

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;

use crate::jose::KekSource;

/// A secret string; `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A database URL (`sqlite://…`, `postgres://user:password@host/db`). It reads as the URL it
/// is; `Debug` and `Display` mask the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with any password in its authority replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                let masked = if userinfo.contains(':') {
                    format!("{user}:***")
                } else {
                    user.to_string()
                };
                format!("{scheme}://{masked}@{host}{tail}")
            }
            None => self.0.clone(),
        }
    }
}

impl DatabaseUrl {
    pub fn to_owned_string(&self) -> String {
        self.0.clone()
    }
}

impl Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Whether the key-encryption key's file sits in the same directory as a SQLite database: one
/// copied directory (a backup, a stolen volume) would then hold the sealed signing keys and
/// the key that opens them.
pub fn kek_beside_database(kek: &KekSource, database: &DatabaseUrl) -> bool {
    let KekSource::File(kek) = kek else { return false };
    let Some(path) = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
    else {
        return false;
    };
    let db = Path::new(path.split('?').next().unwrap_or(path));
    let dir = |p: &Path| {
        let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::canonicalize(&parent).unwrap_or(parent)
    };
    dir(db) == dir(kek)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kek_beside_the_database_is_noticed() {
        let db = DatabaseUrl::from("sqlite://data/certbound.db?mode=rwc".to_string());
        assert!(kek_beside_database(&KekSource::File("data/kek".into()), &db));
        assert!(!kek_beside_database(&KekSource::File("/run/secrets/kek".into()), &db));
        assert!(!kek_beside_database(&KekSource::Inline("x".into()), &db));
        let pg = DatabaseUrl::from("postgres://h/db".to_string());
        assert!(!kek_beside_database(&KekSource::File("data/kek".into()), &pg));
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::from("postgres://bank:s3cr3t@db.internal:5432/certbound?sslmode=require".to_string());
        assert_eq!(
            &*url,
            "postgres://bank:s3cr3t@db.internal:5432/certbound?sslmode=require"
        );
        let shown = format!("{url:?} {url}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("postgres://bank:***@db.internal:5432/certbound"),
            "{shown}"
        );
        let at_in_password = DatabaseUrl::from("postgres://u:p@ss@h/db".to_string());
        assert!(!format!("{at_in_password:?}").contains("ss@"), "{at_in_password:?}");
        assert_eq!(
            DatabaseUrl::from("sqlite://data/c.db?mode=rwc".to_string()).redacted(),
            "sqlite://data/c.db?mode=rwc"
        );
        let secret = Secret::from("kek-base64".to_string());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "kek-base64");
    }
}
