//! The admin password that guards the settings: stored as an argon2id hash (set on first use,
//! or by the fleet policy), checked with a slowdown after repeated wrong guesses.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::paths::{read_optional, write_atomic, AppPaths};
use crate::policy::Policy;

/// The shortest admin password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Wrong guesses allowed before each further one waits.
const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Errors about the admin password.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("use at least {MIN_PASSWORD_CHARS} characters for the admin password")]
    TooShort,
    #[error("the admin password is set by your organisation's policy and cannot be changed here")]
    SetByPolicy,
    #[error("the admin password is already set; unlock the settings to change it")]
    AlreadySet,
    #[error("the admin password could not be stored: {0}")]
    Store(#[from] crate::paths::PathsError),
    #[error("the admin password could not be hashed: {0}")]
    Hash(String),
    #[error("an admin password protects these settings: give it in HELPDESK_BUTTON_ADMIN_PASSWORD (RMM scripts) or run this from a terminal to be asked for it")]
    PasswordNeeded,
    #[error("wrong admin password; nothing was changed")]
    WrongPassword,
    #[error("{0}")]
    PolicyBroken(String),
}

/// The environment variable RMM scripts give the admin password in.
pub const PASSWORD_ENV: &str = "HELPDESK_BUTTON_ADMIN_PASSWORD";

/// Whether a change may go ahead: always when no admin password is set; otherwise only with
/// the right password (`supplied` is what the caller asked for, None when it could not ask).
///
/// # Errors
/// [`AdminError::PasswordNeeded`] or [`AdminError::WrongPassword`].
pub fn authorize(
    paths: &AppPaths,
    policy: &Policy,
    supplied: impl FnOnce() -> Option<String>,
) -> Result<(), AdminError> {
    let Some((hash, _)) = stored_hash(paths, policy) else {
        return Ok(());
    };
    let password = supplied().ok_or(AdminError::PasswordNeeded)?;
    if verify_password(&hash, password.trim_end_matches(['\r', '\n'])) {
        Ok(())
    } else {
        Err(AdminError::WrongPassword)
    }
}

fn password_file(paths: &AppPaths) -> PathBuf {
    paths.config_dir.join("admin-password.hash")
}

/// The stored hash, and whether it comes from the policy (which wins).
pub fn stored_hash(paths: &AppPaths, policy: &Policy) -> Option<(String, bool)> {
    if let Some(h) = &policy.admin_password_hash {
        return Some((h.clone(), true));
    }
    read_optional(&password_file(paths))
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|h| !h.is_empty())
        .map(|h| (h, false))
}

/// An argon2id hash of `password`, in PHC string form (what the policy's
/// `admin_password_hash` takes).
///
/// # Errors
/// [`AdminError::TooShort`].
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Hash(e.to_string()))
}

/// Whether `password` matches `hash`. A malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Stores a new admin password. `may_replace` is true only for an unlocked admin session.
///
/// # Errors
/// When the policy sets the password, one is set and `may_replace` is false, or it is too short.
pub fn set_password(
    paths: &AppPaths,
    policy: &Policy,
    password: &str,
    may_replace: bool,
) -> Result<(), AdminError> {
    // A broken policy may be the one that sets the password: never let one be set meanwhile.
    if let Some(why) = policy
        .broken
        .as_ref()
        .and_then(|_| policy.refusal("admin_password"))
    {
        return Err(AdminError::PolicyBroken(why));
    }
    match stored_hash(paths, policy) {
        Some((_, true)) => return Err(AdminError::SetByPolicy),
        Some((_, false)) if !may_replace => return Err(AdminError::AlreadySet),
        _ => {}
    }
    let hash = hash_password(password)?;
    write_atomic(&password_file(paths), hash.as_bytes(), Some(0o600))?;
    Ok(())
}

/// Slows down repeated wrong passwords: three free tries, then 2 s, 4 s, 8 s … up to 5 min.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: u32,
    blocked_until: Option<Instant>,
}

impl Throttle {
    /// How long until the next guess is allowed; zero when it is allowed now.
    pub fn wait(&self, now: Instant) -> Duration {
        self.blocked_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// Records a wrong guess and returns the wait before the next one.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures += 1;
        let wait = if self.failures <= FREE_FAILURES {
            Duration::ZERO
        } else {
            Duration::from_secs(1u64 << (self.failures - FREE_FAILURES).min(9)).min(MAX_WAIT)
        };
        self.blocked_until = Some(now + wait);
        wait
    }

    /// Records a right guess.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_and_verified() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(matches!(hash_password("short"), Err(AdminError::TooShort)));
    }

    #[test]
    fn first_use_sets_it_then_only_an_unlocked_admin_or_nobody_if_policy() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let none = Policy::default();
        set_password(&paths, &none, "first password", false).unwrap();
        assert!(matches!(
            set_password(&paths, &none, "second password", false),
            Err(AdminError::AlreadySet)
        ));
        set_password(&paths, &none, "second password", true).unwrap();
        let (hash, from_policy) = stored_hash(&paths, &none).unwrap();
        assert!(!from_policy && verify_password(&hash, "second password"));
        let policy = Policy {
            admin_password_hash: Some(hash_password("fleet password").unwrap()),
            ..Policy::default()
        };
        assert!(matches!(
            set_password(&paths, &policy, "x".repeat(12).as_str(), true),
            Err(AdminError::SetByPolicy)
        ));
        assert!(verify_password(
            &stored_hash(&paths, &policy).unwrap().0,
            "fleet password"
        ));
    }

    #[test]
    fn repeated_wrong_guesses_slow_down() {
        let now = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(
            [t.failed(now), t.failed(now), t.failed(now)],
            [Duration::ZERO; 3]
        );
        assert_eq!(t.failed(now), Duration::from_secs(2));
        assert_eq!(t.failed(now), Duration::from_secs(4));
        assert_eq!(t.wait(now), Duration::from_secs(4));
        assert_eq!(t.wait(now + Duration::from_secs(5)), Duration::ZERO);
        for _ in 0..20 {
            t.failed(now);
        }
        assert_eq!(t.wait(now), MAX_WAIT);
        t.succeeded();
        assert_eq!(t.wait(now), Duration::ZERO);
    }
}
