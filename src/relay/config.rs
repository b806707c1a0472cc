//! `relay.toml`: where the relay listens, keeps its data and finds the Atera key, and the limits
//! it holds each device to. Unknown keys are refused, so a typo never silently loosens a limit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::ApiKey;
use crate::settings::{AuthMode, Settings};

/// The environment variable the relay reads its Atera key from, before `key_file` and the
/// keychain.
pub const RELAY_KEY_ENV: &str = "HELPDESK_RELAY_ATERA_KEY";
/// The relay's keychain entry (`helpdesk-relay key set` writes it).
pub const RELAY_KEYCHAIN_USER: &str = "relay-atera-api-key";

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the relay configuration {path} cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the relay configuration {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no Atera key: set {RELAY_KEY_ENV}, point atera.key_file at a file only the relay's user can read, or run `helpdesk-relay key set`")]
    NoKey,
    #[error(
        "the key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    KeyFileOpen { path: PathBuf, mode: u32 },
    #[error("the key in {path} is not a valid key: {reason}")]
    BadKey { path: String, reason: String },
    #[error("storage.postgres_url holds a password; a config file is no place for it. Use peer authentication on the local socket, or put the URL in {RELAY_POSTGRES_ENV} (for systemd, in an EnvironmentFile only the relay's user can read)")]
    PasswordInConfig,
    #[error("the Postgres URL is not valid: {0}")]
    BadPostgresUrl(String),
    #[error("this helpdesk-relay was built without Postgres; build it with `cargo build --release -p helpdesk-core --bin helpdesk-relay` (Postgres is a default feature)")]
    NoPostgres,
}

/// Whether a Postgres URL holds a password (and is valid at all).
fn postgres_password(url: &str) -> Result<bool, ConfigError> {
    #[cfg(feature = "postgres")]
    {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| ConfigError::BadPostgresUrl(e.to_string()))?;
        Ok(config.get_password().is_some())
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = url;
        Err(ConfigError::NoPostgres)
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// `127.0.0.1:8787` behind a reverse proxy, or any address with `[tls]`.
    pub listen: SocketAddr,
    /// The database and the lock file.
    pub data_dir: PathBuf,
    #[serde(default)]
    pub atera: AteraSection,
    #[serde(default)]
    pub tls: Option<TlsSection>,
    /// A Helpdesk Button settings file (the app's format) for the form, defaults and branding
    /// pushed to the devices, and the fallback contact.
    #[serde(default)]
    pub settings_file: Option<PathBuf>,
    /// The dispatcher rules, run here for every device.
    #[serde(default)]
    pub rules_file: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub storage: StorageSection,
}

/// Where the relay keeps its records: SQLite in `data_dir` (one instance), or Postgres shared by
/// several instances behind a load balancer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `postgres://relay@%2Frun%2Fpostgresql/helpdesk` (peer authentication on the local
    /// socket), or `host=db.internal user=relay dbname=helpdesk`. A password does not belong in
    /// this file: put the whole URL in [`RELAY_POSTGRES_ENV`] instead.
    pub postgres_url: Option<String>,
}

/// The environment variable with the Postgres URL (it may hold a password); it wins over
/// `storage.postgres_url`.
pub const RELAY_POSTGRES_ENV: &str = "HELPDESK_RELAY_POSTGRES_URL";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AteraSection {
    /// `app.atera.com`, or a loopback `127.0.0.1:PORT` for the sandbox.
    pub endpoint: String,
    pub auth_mode: AuthMode,
    /// A file holding only the key, readable by the relay's user alone.
    pub key_file: Option<PathBuf>,
    /// How often the relay reads Atera's changes for every device's tickets (at least 30).
    pub poll_seconds: u64,
    /// The secret part of the webhook URL `https://relay/v1/atera-webhook/<secret>` to give
    /// Atera (at least 32 characters); without it the relay only polls.
    pub webhook_secret: Option<String>,
}

impl Default for AteraSection {
    fn default() -> Self {
        Self {
            endpoint: "app.atera.com".into(),
            auth_mode: AuthMode::Auto,
            key_file: None,
            poll_seconds: 120,
            webhook_secret: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What one device may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Tickets a device may submit per hour (retries of one reference count once).
    pub submissions_per_hour: u32,
    /// Requests of any kind a device may make per minute.
    pub requests_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            submissions_per_hour: 30,
            requests_per_minute: 120,
        }
    }
}

impl RelayConfig {
    /// Reads and checks `path`.
    ///
    /// # Errors
    /// [`ConfigError`] saying what is wrong and how to fix it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut config: Self = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        // Relative paths are relative to the configuration file.
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.data_dir);
        for p in [
            config.settings_file.as_mut(),
            config.rules_file.as_mut(),
            config.atera.key_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            resolve(p);
        }
        if let Some(tls) = config.tls.as_mut() {
            resolve(&mut tls.cert);
            resolve(&mut tls.key);
        }
        if config.tls.is_none() && !config.listen.ip().is_loopback() {
            return Err(invalid(format!(
                "listen = \"{}\" without [tls] would send device credentials in the clear; \
                 listen on 127.0.0.1 behind a reverse proxy that terminates TLS, or add [tls] cert and key",
                config.listen
            )));
        }
        if config.atera.poll_seconds < 30 {
            return Err(invalid(
                "atera.poll_seconds must be at least 30, so the fleet stays polite to Atera".into(),
            ));
        }
        if let Some(secret) = &config.atera.webhook_secret {
            let ok = secret.len() >= 32
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(invalid("atera.webhook_secret must be at least 32 letters, digits, '-' or '_' (e.g. `openssl rand -hex 24`)".into()));
            }
        }
        if config.limits.submissions_per_hour == 0 || config.limits.requests_per_minute == 0 {
            return Err(invalid("limits must be at least 1".into()));
        }
        Ok(config)
    }

    /// The relay's behaviour beyond its store.
    pub fn options(&self) -> super::server::RelayOptions {
        super::server::RelayOptions {
            limits: self.limits.clone(),
            poll_every: std::time::Duration::from_secs(self.atera.poll_seconds),
            webhook_secret: self.atera.webhook_secret.clone(),
        }
    }

    /// The Postgres URL, when the relay's records are shared in Postgres.
    ///
    /// # Errors
    /// A password in the config file, a URL that does not parse, or a relay built without
    /// Postgres.
    pub fn postgres_url(&self) -> Result<Option<String>, ConfigError> {
        let from_env = std::env::var(RELAY_POSTGRES_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let url = match (from_env, &self.storage.postgres_url) {
            (Some(url), _) => url,
            (None, Some(url)) => {
                if postgres_password(url)? {
                    return Err(ConfigError::PasswordInConfig);
                }
                url.clone()
            }
            (None, None) => return Ok(None),
        };
        postgres_password(&url)?;
        if cfg!(feature = "postgres") {
            Ok(Some(url))
        } else {
            Err(ConfigError::NoPostgres)
        }
    }

    /// The relay's database.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("relay.sqlite3")
    }

    /// The settings the relay files tickets with and pushes to devices.
    ///
    /// # Errors
    /// When the settings file exists but is not valid.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut settings = match &self.settings_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let mut table: toml::Table =
                    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                crate::settings::migrate(&mut table);
                let settings: Settings =
                    table
                        .try_into()
                        .map_err(|e: toml::de::Error| ConfigError::Invalid {
                            path: path.clone(),
                            message: e.to_string(),
                        })?;
                settings.validate().map_err(|e| ConfigError::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                settings
            }
            None => Settings::default(),
        };
        settings.atera.endpoint = self.atera.endpoint.clone();
        settings.atera.auth_mode = self.atera.auth_mode;
        Ok(settings)
    }

    /// The dispatcher rules' text, when there are any.
    ///
    /// # Errors
    /// When the rules file cannot be read.
    pub fn rules(&self) -> Result<Option<String>, ConfigError> {
        match &self.rules_file {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Some(s).filter(|s| !s.trim().is_empty()))
                .map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                }),
        }
    }

    /// The Atera key: the environment, then `key_file` (refused when others can read it), then
    /// the relay's keychain entry.
    ///
    /// # Errors
    /// [`ConfigError::NoKey`] when none is configured, or why the one configured is refused.
    pub fn key(&self) -> Result<ApiKey, ConfigError> {
        let bad = |path: &str, e: crate::secrets::SecretsError| ConfigError::BadKey {
            path: path.into(),
            reason: e.to_string(),
        };
        if let Some(raw) = std::env::var(RELAY_KEY_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            return ApiKey::new(&raw).map_err(|e| bad(RELAY_KEY_ENV, e));
        }
        if let Some(path) = &self.atera.key_file {
            let read = |source| ConfigError::Read {
                path: path.clone(),
                source,
            };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(read)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(ConfigError::KeyFileOpen {
                        path: path.clone(),
                        mode,
                    });
                }
            }
            let raw = std::fs::read_to_string(path).map_err(read)?;
            return ApiKey::new(&raw).map_err(|e| bad(&path.display().to_string(), e));
        }
        use crate::secrets::Keychain as _;
        match crate::secrets::OsKeychainEntry(RELAY_KEYCHAIN_USER.into()).get() {
            Ok(Some(raw)) => ApiKey::new(&raw).map_err(|e| bad("the keychain", e)),
            _ => Err(ConfigError::NoKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RelayConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, text).unwrap();
        RelayConfig::load(&path)
    }

    #[test]
    fn the_shipped_example_configuration_loads() {
        let config = load(include_str!("deploy/relay.example.toml")).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(config.limits.submissions_per_hour, 30);
    }

    #[test]
    fn a_postgres_password_in_the_config_file_is_refused_with_where_it_belongs() {
        let base = "listen = \"127.0.0.1:1\"\ndata_dir = \"d\"\n[storage]\n";
        let peer = load(&format!(
            "{base}postgres_url = \"host=/run/postgresql user=relay dbname=hb\"\n"
        ))
        .unwrap();
        assert_eq!(
            peer.postgres_url().unwrap().as_deref(),
            Some("host=/run/postgresql user=relay dbname=hb")
        );
        let secret = load(&format!(
            "{base}postgres_url = \"postgres://relay:s3cret@db.internal/hb\"\n"
        ))
        .unwrap();
        let err = secret.postgres_url().unwrap_err().to_string();
        assert!(
            err.contains(RELAY_POSTGRES_ENV) && !err.contains("s3cret"),
            "{err}"
        );
        let broken = load(&format!("{base}postgres_url = \"host=/x port=notaport\"\n")).unwrap();
        assert!(matches!(
            broken.postgres_url(),
            Err(ConfigError::BadPostgresUrl(_))
        ));
    }

    #[test]
    fn a_network_address_without_tls_and_unknown_keys_are_refused() {
        let open = load("listen = \"0.0.0.0:8443\"\ndata_dir = \"d\"\n").unwrap_err();
        assert!(open.to_string().contains("[tls]"), "{open}");
        let typo =
            load("listen = \"127.0.0.1:1\"\ndata_dir = \"d\"\n[limits]\nsubmisions_per_hour = 5\n")
                .unwrap_err();
        assert!(typo.to_string().contains("submisions_per_hour"), "{typo}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_and_a_private_one_is_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("atera.key");
        std::fs::write(&key, "k3y-from-the-file\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\ndata_dir = \"d\"\n[atera]\nkey_file = \"atera.key\"\n",
        )
        .unwrap();
        let config = RelayConfig::load(&path).unwrap();
        if std::env::var(RELAY_KEY_ENV).is_ok() {
            return; // The environment would take precedence.
        }
        let refused = config.key().unwrap_err();
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(config.key().unwrap().expose(), "k3y-from-the-file");
    }
}
