//! The Atera API key: in the OS keychain, in memory as a [`SecretString`], never in a settings
//! file, a log line, a `Debug` print or an error message.
//!
//! Lookup order: the `HELPDESK_BUTTON_ATERA_API_KEY` environment variable, then the keychain,
//! then a user-only fallback file (mode 0600) that is used on purpose, with a visible warning,
//! when no keychain is available (headless machines, no Secret Service daemon).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::paths::{read_optional, write_atomic, AppPaths, PathsError};

/// Overrides the stored key, for RMM scripts and CI.
pub const API_KEY_ENV: &str = "HELPDESK_BUTTON_ATERA_API_KEY";
/// The keychain service name: the app's bundle id.
pub const KEYCHAIN_SERVICE: &str = "com.helpdeskbutton.app";
const KEYCHAIN_USER: &str = "atera-api-key";
const FALLBACK_FILE: &str = "atera-api-key.secret";

/// Errors reading or storing the key. None of them contains the key.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the API key is empty: paste the key from Atera (Admin > API)")]
    Empty,
    #[error("the API key contains spaces or line breaks in the middle: copy it again from Atera (Admin > API)")]
    Malformed,
    #[error(transparent)]
    File(#[from] PathsError),
    #[error("the OS keychain refused to delete the key: {0}")]
    Keychain(String),
}

/// An Atera API key or token.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key after trimming it.
    ///
    /// # Errors
    /// [`SecretsError::Empty`] or [`SecretsError::Malformed`].
    pub fn new(raw: &str) -> Result<Self, SecretsError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(SecretsError::Empty);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(SecretsError::Malformed);
        }
        Ok(Self(SecretString::from(trimmed.to_string())))
    }

    /// The key itself, for the one place that puts it in a request header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `••••` and the last four characters, the only form ever shown after saving.
    pub fn masked(&self) -> String {
        let key = self.expose();
        let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        if key.chars().count() <= 8 {
            "••••".to_string()
        } else {
            format!("••••{tail}")
        }
    }

    /// Whether it has the shape of a JWT (three base64url parts, the first starting `eyJ`).
    pub fn looks_like_jwt(&self) -> bool {
        let parts: Vec<&str> = self.expose().split('.').collect();
        parts.len() == 3
            && parts[0].starts_with("eyJ")
            && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeySource {
    Environment,
    Keychain,
    /// The user-only fallback file; shown with a warning.
    File { path: PathBuf },
}

impl KeySource {
    /// A warning to show to admins, when the source deserves one.
    pub fn warning(&self) -> Option<String> {
        match self {
            KeySource::File { path } => Some(format!(
                "No OS keychain is available, so the API key is stored in {} (readable only by this user). \
                 Install or unlock a keychain (GNOME Keyring, KWallet) and save the key again to move it there.",
                path.display()
            )),
            KeySource::Environment => Some(format!("The API key comes from the {API_KEY_ENV} environment variable.")),
            KeySource::Keychain => None,
        }
    }
}

/// A secret store the key can live in. The real keychain in the app; fakes in tests.
pub trait Keychain: Send + Sync {
    /// The stored key, `Ok(None)` when there is none.
    ///
    /// # Errors
    /// A description of why the keychain is unavailable.
    fn get(&self) -> Result<Option<String>, String>;
    /// Stores the key.
    ///
    /// # Errors
    /// A description of why the keychain is unavailable.
    fn set(&self, key: &str) -> Result<(), String>;
    /// Deletes the key; no entry is not an error.
    ///
    /// # Errors
    /// A description of why the keychain is unavailable.
    fn delete(&self) -> Result<(), String>;
}

/// The OS keychain through the `keyring` crate: Secret Service (persisted) with a keyutils cache
/// on Linux, Credential Manager on Windows, Keychain on macOS.
pub struct OsKeychain;

impl OsKeychain {
    fn entry() -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYCHAIN_SERVICE, KEYCHAIN_USER).map_err(|e| e.to_string())
    }
}

impl Keychain for OsKeychain {
    fn get(&self) -> Result<Option<String>, String> {
        match Self::entry()?.get_password() {
            Ok(key) => Ok(Some(key)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, key: &str) -> Result<(), String> {
        Self::entry()?.set_password(key).map_err(|e| e.to_string())
    }

    fn delete(&self) -> Result<(), String> {
        match Self::entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Reads and stores the key: environment, keychain, then the fallback file.
pub struct KeyVault<'a> {
    keychain: &'a dyn Keychain,
    fallback_file: PathBuf,
}

impl<'a> KeyVault<'a> {
    /// A vault over `keychain` with its fallback file in the config directory.
    pub fn new(keychain: &'a dyn Keychain, paths: &AppPaths) -> Self {
        Self { keychain, fallback_file: paths.config_dir.join(FALLBACK_FILE) }
    }

    /// The key in use and where it came from, or `None` when none is configured.
    ///
    /// # Errors
    /// When the fallback file exists but cannot be read, or holds a malformed key.
    pub fn load(&self) -> Result<Option<(ApiKey, KeySource)>, SecretsError> {
        if let Some(raw) = std::env::var(API_KEY_ENV).ok().filter(|v| !v.trim().is_empty()) {
            return Ok(Some((ApiKey::new(&raw)?, KeySource::Environment)));
        }
        match self.keychain.get() {
            Ok(Some(raw)) => return Ok(Some((ApiKey::new(&raw)?, KeySource::Keychain))),
            Ok(None) => {}
            Err(reason) => tracing::debug!(%reason, "keychain unavailable; trying the fallback file"),
        }
        match read_optional(&self.fallback_file)? {
            Some(bytes) => {
                let key = ApiKey::new(&String::from_utf8_lossy(&bytes))?;
                Ok(Some((key, KeySource::File { path: self.fallback_file.clone() })))
            }
            None => Ok(None),
        }
    }

    /// Stores the key in the keychain, or in the fallback file when there is no keychain.
    /// Returns where it went.
    ///
    /// # Errors
    /// When neither the keychain nor the fallback file can take it.
    pub fn store(&self, key: &ApiKey) -> Result<KeySource, SecretsError> {
        match self.keychain.set(key.expose()) {
            Ok(()) => {
                // A key in the keychain makes an older fallback file obsolete.
                let _ = std::fs::remove_file(&self.fallback_file);
                tracing::info!("API key stored in the OS keychain");
                Ok(KeySource::Keychain)
            }
            Err(reason) => {
                tracing::warn!(%reason, "no usable OS keychain; storing the API key in a user-only file");
                write_atomic(&self.fallback_file, key.expose().as_bytes(), Some(0o600))?;
                Ok(KeySource::File { path: self.fallback_file.clone() })
            }
        }
    }

    /// Removes the key from the keychain and the fallback file.
    ///
    /// # Errors
    /// When the keychain refuses.
    pub fn delete(&self) -> Result<(), SecretsError> {
        let _ = std::fs::remove_file(&self.fallback_file);
        self.keychain.delete().map_err(SecretsError::Keychain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct FakeKeychain {
        available: bool,
        value: Mutex<Option<String>>,
    }

    impl Keychain for FakeKeychain {
        fn get(&self) -> Result<Option<String>, String> {
            if self.available { Ok(self.value.lock().unwrap().clone()) } else { Err("no daemon".into()) }
        }
        fn set(&self, key: &str) -> Result<(), String> {
            if !self.available {
                return Err("no daemon".into());
            }
            *self.value.lock().unwrap() = Some(key.to_string());
            Ok(())
        }
        fn delete(&self) -> Result<(), String> {
            *self.value.lock().unwrap() = None;
            Ok(())
        }
    }

    #[test]
    fn key_is_masked_and_never_printed_by_debug() {
        let key = ApiKey::new("  abcdef0123456789wxyz \n").unwrap();
        assert_eq!(key.masked(), "••••wxyz");
        assert_eq!(format!("{key:?}"), "ApiKey(redacted)");
        assert!(matches!(ApiKey::new("  "), Err(SecretsError::Empty)));
        assert!(matches!(ApiKey::new("abc def"), Err(SecretsError::Malformed)));
    }

    #[test]
    fn jwt_shape_is_detected() {
        assert!(ApiKey::new("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl").unwrap().looks_like_jwt());
        assert!(!ApiKey::new("0123456789abcdef0123456789abcdef").unwrap().looks_like_jwt());
    }

    #[test]
    fn without_a_keychain_the_key_goes_to_a_user_only_file_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::in_one_dir(dir.path().to_path_buf());
        let keychain = FakeKeychain { available: false, value: Mutex::new(None) };
        let vault = KeyVault::new(&keychain, &paths);
        let source = vault.store(&ApiKey::new("secret-key-123456").unwrap()).unwrap();
        let KeySource::File { path } = &source else { panic!("expected the file fallback, got {source:?}") };
        assert!(source.warning().unwrap().contains("No OS keychain"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (key, loaded_from) = vault.load().unwrap().unwrap();
        assert_eq!(key.expose(), "secret-key-123456");
        assert_eq!(loaded_from, source);
    }

    #[test]
    fn with_a_keychain_the_key_goes_there_and_the_old_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::in_one_dir(dir.path().to_path_buf());
        let down = FakeKeychain { available: false, value: Mutex::new(None) };
        KeyVault::new(&down, &paths).store(&ApiKey::new("old-key-0000000").unwrap()).unwrap();
        let up = FakeKeychain { available: true, value: Mutex::new(None) };
        let vault = KeyVault::new(&up, &paths);
        assert_eq!(vault.store(&ApiKey::new("new-key-1111111").unwrap()).unwrap(), KeySource::Keychain);
        assert!(!paths.config_dir.join(FALLBACK_FILE).exists());
        let (key, source) = vault.load().unwrap().unwrap();
        assert_eq!((key.expose(), source), ("new-key-1111111", KeySource::Keychain));
    }
}
