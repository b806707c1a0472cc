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
const DEVICE_FALLBACK_FILE: &str = "relay-device.secret";

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
    #[error("the stored API key cannot be read on this computer (was the file copied from another one?): save the key again with `helpdesk-button settings set-api-key`")]
    Unreadable,
}

/// Marks a sealed fallback file.
const SEALED_PREFIX: &str = "hbk1:";

/// The fallback file's key stream: SHA-256 in counter mode over a secret bound to this machine,
/// this user and this file. This is not a keychain — anyone who can run code as this user can
/// recompute it — but the key is never on disk in clear, a plain `grep` does not find it, and
/// the file is useless on another computer.
fn keystream_block(path: &std::path::Path, nonce: &[u8], counter: u64) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let machine = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/var/lib/dbus/machine-id"))
        .unwrap_or_else(|_| whoami::hostname().unwrap_or_default());
    let mut h = Sha256::new();
    h.update(b"helpdesk-button fallback key v1\0");
    h.update(machine.trim().as_bytes());
    h.update(whoami::username().unwrap_or_default().as_bytes());
    h.update(path.to_string_lossy().as_bytes());
    h.update(nonce);
    h.update(counter.to_le_bytes());
    h.finalize().into()
}

fn xor_stream(path: &std::path::Path, nonce: &[u8], data: &[u8]) -> Vec<u8> {
    data.chunks(32)
        .enumerate()
        .flat_map(|(i, chunk)| {
            let block = keystream_block(path, nonce, i as u64);
            chunk
                .iter()
                .zip(block)
                .map(|(b, k)| b ^ k)
                .collect::<Vec<u8>>()
        })
        .collect()
}

fn seal(key: &str, path: &std::path::Path) -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    use base64::Engine as _;
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    // A check value lets a wrong machine be told apart from a corrupt file.
    let mut plain = b"HBK:".to_vec();
    plain.extend_from_slice(key.as_bytes());
    let mut out = nonce.to_vec();
    out.extend(xor_stream(path, &nonce, &plain));
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn unseal(sealed: &str, path: &std::path::Path) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed.trim())
        .ok()?;
    let (nonce, body) = (bytes.get(..16)?, bytes.get(16..)?);
    let plain = xor_stream(path, nonce, body);
    String::from_utf8(plain.strip_prefix(b"HBK:")?.to_vec()).ok()
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
        let tail: String = key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
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
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
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
    File {
        path: PathBuf,
    },
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
/// on Linux, Credential Manager on Windows, Keychain on macOS. The app's Atera key.
pub struct OsKeychain;

impl Keychain for OsKeychain {
    fn get(&self) -> Result<Option<String>, String> {
        OsKeychainEntry(KEYCHAIN_USER.into()).get()
    }

    fn set(&self, key: &str) -> Result<(), String> {
        OsKeychainEntry(KEYCHAIN_USER.into()).set(key)
    }

    fn delete(&self) -> Result<(), String> {
        OsKeychainEntry(KEYCHAIN_USER.into()).delete()
    }
}

/// One named secret of this product's in the OS keychain.
pub struct OsKeychainEntry(pub String);

impl OsKeychainEntry {
    fn entry(&self) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYCHAIN_SERVICE, &self.0).map_err(|e| e.to_string())
    }

    /// The relay device credential of the installation whose settings live in `paths`: one
    /// entry per config directory, so two installations (or test runs) never share one.
    pub fn device_credential(paths: &AppPaths) -> Self {
        Self(format!(
            "relay-device-credential:{}",
            paths.config_dir.display()
        ))
    }
}

impl Keychain for OsKeychainEntry {
    fn get(&self) -> Result<Option<String>, String> {
        match self.entry()?.get_password() {
            Ok(key) => Ok(Some(key)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, key: &str) -> Result<(), String> {
        self.entry()?.set_password(key).map_err(|e| e.to_string())
    }

    fn delete(&self) -> Result<(), String> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Reads and stores the key: environment, keychain, then the fallback file.
pub struct KeyVault<'a> {
    keychain: &'a dyn Keychain,
    fallback_file: PathBuf,
    /// The environment variable read first, if any.
    env: Option<&'static str>,
}

impl<'a> KeyVault<'a> {
    /// A vault over `keychain` with its fallback file in the config directory.
    pub fn new(keychain: &'a dyn Keychain, paths: &AppPaths) -> Self {
        Self {
            keychain,
            fallback_file: paths.config_dir.join(FALLBACK_FILE),
            env: Some(API_KEY_ENV),
        }
    }

    /// The vault of this PC's relay device credential: `keychain` (see
    /// [`OsKeychainEntry::device_credential`]), then a user-only sealed file; never the
    /// environment.
    pub fn device_credential(keychain: &'a dyn Keychain, paths: &AppPaths) -> Self {
        Self {
            keychain,
            fallback_file: paths.config_dir.join(DEVICE_FALLBACK_FILE),
            env: None,
        }
    }

    /// The key in use and where it came from, or `None` when none is configured.
    ///
    /// # Errors
    /// When the fallback file exists but cannot be read, or holds a malformed key.
    pub fn load(&self) -> Result<Option<(ApiKey, KeySource)>, SecretsError> {
        if let Some(raw) = self
            .env
            .and_then(|name| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
        {
            return Ok(Some((ApiKey::new(&raw)?, KeySource::Environment)));
        }
        match self.keychain.get() {
            Ok(Some(raw)) => return Ok(Some((ApiKey::new(&raw)?, KeySource::Keychain))),
            Ok(None) => {}
            Err(reason) => {
                tracing::debug!(%reason, "keychain unavailable; trying the fallback file")
            }
        }
        match read_optional(&self.fallback_file)? {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let raw = match text.trim().strip_prefix(SEALED_PREFIX) {
                    Some(sealed) => {
                        unseal(sealed, &self.fallback_file).ok_or(SecretsError::Unreadable)?
                    }
                    None => text.into_owned(),
                };
                let key = ApiKey::new(&raw)?;
                Ok(Some((
                    key,
                    KeySource::File {
                        path: self.fallback_file.clone(),
                    },
                )))
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
                let sealed = format!("{SEALED_PREFIX}{}", seal(key.expose(), &self.fallback_file));
                write_atomic(&self.fallback_file, sealed.as_bytes(), Some(0o600))?;
                Ok(KeySource::File {
                    path: self.fallback_file.clone(),
                })
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
            if self.available {
                Ok(self.value.lock().unwrap().clone())
            } else {
                Err("no daemon".into())
            }
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
        assert!(matches!(
            ApiKey::new("abc def"),
            Err(SecretsError::Malformed)
        ));
    }

    #[test]
    fn jwt_shape_is_detected() {
        assert!(
            ApiKey::new("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
                .unwrap()
                .looks_like_jwt()
        );
        assert!(!ApiKey::new("0123456789abcdef0123456789abcdef")
            .unwrap()
            .looks_like_jwt());
    }

    #[test]
    fn without_a_keychain_the_key_goes_to_a_user_only_file_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let keychain = FakeKeychain {
            available: false,
            value: Mutex::new(None),
        };
        let vault = KeyVault::new(&keychain, &paths);
        let source = vault
            .store(&ApiKey::new("secret-key-123456").unwrap())
            .unwrap();
        let KeySource::File { path } = &source else {
            panic!("expected the file fallback, got {source:?}")
        };
        assert!(source.warning().unwrap().contains("No OS keychain"));
        let on_disk = std::fs::read_to_string(path).unwrap();
        assert!(
            on_disk.starts_with("hbk1:") && !on_disk.contains("secret-key-123456"),
            "never in clear: {on_disk}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (key, loaded_from) = vault.load().unwrap().unwrap();
        assert_eq!(key.expose(), "secret-key-123456");
        assert_eq!(loaded_from, source);
    }

    #[test]
    fn a_sealed_file_from_elsewhere_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let keychain = FakeKeychain {
            available: false,
            value: Mutex::new(None),
        };
        let vault = KeyVault::new(&keychain, &paths);
        vault
            .store(&ApiKey::new("secret-key-123456").unwrap())
            .unwrap();
        // The same bytes at another path (as on another machine or account) do not open.
        let copy = dir.path().join("elsewhere");
        std::fs::create_dir(&copy).unwrap();
        std::fs::copy(
            paths.config_dir.join(FALLBACK_FILE),
            copy.join(FALLBACK_FILE),
        )
        .unwrap();
        let other = KeyVault::new(&keychain, &AppPaths::isolated(copy));
        let err = other.load().unwrap_err().to_string();
        assert!(err.contains("settings set-api-key"), "{err}");
    }

    #[test]
    fn with_a_keychain_the_key_goes_there_and_the_old_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let down = FakeKeychain {
            available: false,
            value: Mutex::new(None),
        };
        KeyVault::new(&down, &paths)
            .store(&ApiKey::new("old-key-0000000").unwrap())
            .unwrap();
        let up = FakeKeychain {
            available: true,
            value: Mutex::new(None),
        };
        let vault = KeyVault::new(&up, &paths);
        assert_eq!(
            vault
                .store(&ApiKey::new("new-key-1111111").unwrap())
                .unwrap(),
            KeySource::Keychain
        );
        assert!(!paths.config_dir.join(FALLBACK_FILE).exists());
        let (key, source) = vault.load().unwrap().unwrap();
        assert_eq!(
            (key.expose(), source),
            ("new-key-1111111", KeySource::Keychain)
        );
    }
}
