//! The bank's operators who sign in to the admin console: an admin changes registrations, a
//! viewer sees everything and changes nothing.

use std::str::FromStr;

use super::customer::normalize_username;
use super::status::Status;
use super::PasswordHash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Admin,
    Viewer,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    pub fn may_change(self) -> bool {
        self == Self::Admin
    }
}

impl FromStr for AdminRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Self::Admin),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!("unknown role {other:?} (admin, viewer)")),
        }
    }
}

/// An administrator as stored; the username is what they type, compared case-insensitively.
#[derive(Debug, Clone)]
pub struct Administrator {
    pub username: String,
    pub password: PasswordHash,
    pub role: AdminRole,
    pub status: Status,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Administrator {
    /// A new active administrator with an argon2id hash of `password`.
    pub fn register(username: &str, password: &str, role: AdminRole) -> Result<Self, String> {
        let now = crate::now();
        Ok(Self {
            username: normalize_username(username)?,
            password: PasswordHash::new(password)?,
            role,
            status: Status::Active,
            created_at: now,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_registration() {
        assert_eq!("viewer".parse::<AdminRole>(), Ok(AdminRole::Viewer));
        assert!("root".parse::<AdminRole>().is_err());
        assert!(!AdminRole::Viewer.may_change());
        let admin = Administrator::register(" Ops@Bank ", "correct horse", AdminRole::Admin).unwrap();
        assert_eq!(admin.username, "ops@bank");
        assert!(admin.password.verify("correct horse"));
        assert!(Administrator::register("ops", "short", AdminRole::Admin).is_err());
        assert!(Administrator::register("o\tps", "correct horse", AdminRole::Admin).is_err());
    }
}
