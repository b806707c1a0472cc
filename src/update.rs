//! Update checks, without the GUI: which manifest a PC reads, when it checks, what it trusts,
//! and what an admin is told. The app crate drives tauri-plugin-updater with these decisions;
//! the plugin downloads and verifies the minisign signature.
//!
//! Trust: the public key is built into the app (`plugins.updater.pubkey` in tauri.conf.json). A
//! machine-wide policy can pin another one (`[settings.updates] pubkey`); a user's own settings
//! file cannot, so nobody without admin rights can make a PC trust their key.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::paths::{read_optional, write_atomic, AppPaths, PathsError};
use crate::settings::{Settings, UpdateChannel};

/// The default time between two scheduled checks.
pub const DEFAULT_CHECK_HOURS: u32 = 6;
/// Longest allowed interval between checks: a week.
pub const MAX_CHECK_HOURS: u32 = 168;

/// Why an update manifest URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestUrlError {
    #[error("{0:?} is not a web address: give the full URL of the channel's latest.json, like https://updates.example.com/helpdesk-button/stable/latest.json")]
    NotAUrl(String),
    #[error("{0:?} uses plain http: update manifests must use https (plain http is only allowed for 127.0.0.1 or localhost)")]
    PlainHttp(String),
    #[error("{0:?} is not an http(s) address: give an https URL")]
    Scheme(String),
}

/// Checks a channel's manifest URL: https, or plain http to this computer (a local test server).
/// An empty value means "no update server for this channel".
///
/// # Errors
/// [`ManifestUrlError`] saying what to type instead.
pub fn parse_manifest_url(raw: &str) -> Result<Option<Url>, ManifestUrlError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(raw).map_err(|_| ManifestUrlError::NotAUrl(raw.to_string()))?;
    match url.scheme() {
        "https" => Ok(Some(url)),
        "http" if is_loopback(&url) => Ok(Some(url)),
        "http" => Err(ManifestUrlError::PlainHttp(raw.to_string())),
        _ => Err(ManifestUrlError::Scheme(raw.to_string())),
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks that a public key is what `tauri signer generate` prints: base64 of a minisign
/// public key file (an untrusted comment line and an Ed25519 key line).
///
/// # Errors
/// A sentence saying what is wrong and where a valid key comes from.
pub fn validate_pubkey(key: &str) -> Result<(), String> {
    const HINT: &str = "use the public key printed by `release.sh keygen` (one base64 line, \
                        the contents of the .key.pub file)";
    let engine = base64::engine::general_purpose::STANDARD;
    let text = engine
        .decode(key.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| format!("the update public key is not base64: {HINT}"))?;
    let key_line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("untrusted comment:"))
        .ok_or_else(|| format!("the update public key has no key line: {HINT}"))?;
    match engine.decode(key_line.trim()) {
        Ok(raw) if raw.len() == 42 && raw.starts_with(b"Ed") => Ok(()),
        _ => Err(format!(
            "the update public key is not a minisign Ed25519 key: {HINT}"
        )),
    }
}

/// Where the trusted public key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum KeySource {
    /// The key this build was made with.
    BuiltIn,
    /// Pinned by the machine-wide policy file.
    Policy { file: String },
}

/// Everything one check needs, resolved from the effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPlan {
    pub channel: UpdateChannel,
    pub manifest_url: Url,
    pub pubkey: String,
    pub key_source: KeySource,
}

/// Why there is nothing to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("No update server is set for the {channel} channel. Set `updates.{channel}_url` in the admin window or the policy file.")]
    NoServer { channel: &'static str },
    #[error("The {channel} channel's update address is not valid: {source}")]
    BadUrl {
        channel: &'static str,
        source: ManifestUrlError,
    },
    #[error("The update key pinned by the policy file is not valid ({0}); no update is checked until it is fixed.")]
    BadPinnedKey(String),
    #[error("This build has no update key built in; set one with the policy file (`[settings.updates] pubkey`).")]
    NoKey,
}

/// The channel's name as written in settings and messages.
#[must_use]
pub fn channel_name(channel: UpdateChannel) -> &'static str {
    match channel {
        UpdateChannel::Stable => "stable",
        UpdateChannel::Beta => "beta",
    }
}

/// Resolves the manifest URL of the chosen channel and the key to trust.
///
/// # Errors
/// [`PlanError`] with the admin's fix.
pub fn plan(
    settings: &Settings,
    policy_file: Option<&Path>,
    built_in_key: &str,
) -> Result<CheckPlan, PlanError> {
    let channel = settings.updates.channel;
    let name = channel_name(channel);
    let raw = match channel {
        UpdateChannel::Stable => &settings.updates.stable_url,
        UpdateChannel::Beta => &settings.updates.beta_url,
    };
    let manifest_url = parse_manifest_url(raw)
        .map_err(|source| PlanError::BadUrl {
            channel: name,
            source,
        })?
        .ok_or(PlanError::NoServer { channel: name })?;
    let pinned = settings.updates.pubkey.trim();
    let (pubkey, key_source) = if pinned.is_empty() {
        if built_in_key.trim().is_empty() {
            return Err(PlanError::NoKey);
        }
        (built_in_key.trim().to_string(), KeySource::BuiltIn)
    } else {
        validate_pubkey(pinned).map_err(PlanError::BadPinnedKey)?;
        let file = policy_file.map_or_else(String::new, |p| p.display().to_string());
        (pinned.to_string(), KeySource::Policy { file })
    };
    Ok(CheckPlan {
        channel,
        manifest_url,
        pubkey,
        key_source,
    })
}

/// A number in [0, 1) that differs between processes (and so between PCs), for jitter.
#[must_use]
pub fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // 53 random bits give every representable value in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    unit
}

/// The wait before the first check after start: 1 to 5 minutes, so PCs that boot together
/// (a Monday morning) do not all ask at once, and the start itself stays light.
#[must_use]
pub fn first_check_delay(unit: f64) -> Duration {
    Duration::from_secs_f64(60.0 + 240.0 * unit.clamp(0.0, 1.0))
}

/// The wait between scheduled checks: the interval, minus up to 25 % at random, so a fleet
/// spreads out instead of asking in lockstep.
#[must_use]
pub fn next_check_delay(check_hours: u32, unit: f64) -> Duration {
    let hours = f64::from(check_hours.clamp(1, MAX_CHECK_HOURS));
    Duration::from_secs_f64(hours * 3600.0 * (1.0 - 0.25 * unit.clamp(0.0, 1.0)))
}

/// What started a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Start,
    Schedule,
    /// The tray's *Check for updates*, the admin window, or `--check-updates`.
    Manual,
}

/// How this copy can install updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "message")]
pub enum InstallMode {
    /// Installs by itself at the next idle moment.
    Automatic,
    /// Needs an administrator: installed by the IT provider, or with *Install now*.
    NeedsAdmin(String),
    /// Cannot install at all (not installed from a package).
    Unsupported(String),
}

/// Why an update was refused or a check failed. Each says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    #[error("Version {version} was refused: its package does not match its signature (the file was changed after it was signed, or the download was corrupted). Nothing was installed. Re-publish the release, signed again.")]
    Tampered { version: String },
    #[error("Version {version} was refused: it is signed with a different key than the one this PC trusts ({trusted}). Nothing was installed. Sign releases with your release key, or pin the right public key in the policy file.")]
    WrongKey { version: String, trusted: String },
    #[error("Version {announced} was refused: its package is signed as version {signed}, so the manifest was altered. Nothing was installed.")]
    SignedVersionMismatch { announced: String, signed: String },
    #[error("Version {version} was refused: {detail}. Nothing was installed.")]
    BadSignature { version: String, detail: String },
    #[error("The {channel} channel offers version {offered}, older than the installed {current}. Downgrades are refused; publish a newer version to roll back.")]
    Downgrade {
        channel: String,
        offered: String,
        current: String,
    },
    #[error("The update manifest at {url} is not valid ({detail}). Nothing was installed. Regenerate it with `release.sh publish`.")]
    Malformed { url: String, detail: String },
    #[error("The update manifest has no package for this PC (it looked for {targets}). Publish one, or check the channel.")]
    NoPackage { targets: String },
    #[error(
        "The update server could not be reached ({detail}). The app tries again at the next check."
    )]
    Network { detail: String },
    #[error(
        "The update server answered {status} for {url}. The app tries again at the next check."
    )]
    Status { status: String, url: String },
    #[error(
        "Version {version} could not be installed: {detail}. The running version is unchanged."
    )]
    InstallFailed { version: String, detail: String },
}

/// The result of the last check, as the admin window and the tray show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Outcome {
    /// No check has run yet.
    NeverChecked,
    /// Nothing to check: the reason says what to configure.
    NotConfigured { message: String },
    /// The running version is current.
    UpToDate,
    /// A newer version was downloaded and its signature verified; it waits to be installed.
    Ready { version: String, notes: String },
    /// Installed; the app restarts into it.
    Installed { version: String },
    /// Refused or failed; the running version is unchanged.
    Failed { message: String, refused: bool },
}

/// What the Updates section shows; kept in a file so it survives restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    pub current_version: String,
    pub channel: String,
    pub manifest_url: Option<String>,
    /// How many checks have finished (lets a caller wait for the next one).
    pub checks: u64,
    /// RFC 3339, UTC.
    pub last_check: Option<String>,
    pub last_trigger: Option<Trigger>,
    pub outcome: Outcome,
    pub install_mode: InstallMode,
    pub key_source: Option<String>,
}

impl UpdateStatus {
    /// A status before any check.
    #[must_use]
    pub fn new(current_version: &str, install_mode: InstallMode) -> Self {
        Self {
            current_version: current_version.to_string(),
            channel: "stable".into(),
            manifest_url: None,
            checks: 0,
            last_check: None,
            last_trigger: None,
            outcome: Outcome::NeverChecked,
            install_mode,
            key_source: None,
        }
    }

    /// Loads the saved status, keeping its history but describing this running copy.
    #[must_use]
    pub fn load(paths: &AppPaths, current_version: &str, install_mode: InstallMode) -> Self {
        let saved = read_optional(&status_file(paths))
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Self>(&b).ok());
        let mut status = saved.unwrap_or_else(|| Self::new(current_version, install_mode.clone()));
        if status.current_version != current_version {
            // A new version is running: whatever was pending is done.
            if matches!(
                status.outcome,
                Outcome::Ready { .. } | Outcome::Installed { .. }
            ) {
                status.outcome = Outcome::UpToDate;
            }
            status.current_version = current_version.to_string();
        }
        status.install_mode = install_mode;
        status
    }

    /// Records a finished check.
    pub fn record(&mut self, trigger: Trigger, channel: &str, url: Option<&Url>, outcome: Outcome) {
        self.checks += 1;
        self.last_check =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.last_trigger = Some(trigger);
        self.channel = channel.to_string();
        self.manifest_url = url.map(ToString::to_string);
        self.outcome = outcome;
    }

    /// Writes the status atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, paths: &AppPaths) -> Result<(), PathsError> {
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_atomic(&status_file(paths), &json, Some(0o644))
    }
}

/// Where the update status is kept.
#[must_use]
pub fn status_file(paths: &AppPaths) -> PathBuf {
    paths.data_dir.join("update-status.json")
}

/// Compares two versions as semver (a leading `v` allowed); `None` when either is not semver.
#[must_use]
pub fn compare_versions(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    fn parse(v: &str) -> Option<(u64, u64, u64, String)> {
        let v = v.trim().trim_start_matches('v');
        let (core, pre) = v.split_once('-').unwrap_or((v, ""));
        let core = core.split_once('+').map_or(core, |(c, _)| c);
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let t = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        Some((t.0, t.1, t.2, pre.to_string()))
    }
    let (a, b) = (parse(a)?, parse(b)?);
    Some(
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            // A pre-release sorts before its release; two pre-releases by text.
            .then_with(|| match (a.3.is_empty(), b.3.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => a.3.cmp(&b.3),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real `tauri signer generate` public key (the test key in tests/fixtures/updater).
    const KEY: &str = include_str!("../tests/fixtures/updater/test.key.pub");

    fn settings(channel: UpdateChannel, stable: &str, beta: &str) -> Settings {
        let mut s = Settings::default();
        s.updates.channel = channel;
        s.updates.stable_url = stable.into();
        s.updates.beta_url = beta.into();
        s
    }

    #[test]
    fn manifest_urls_must_be_https_except_on_this_computer() {
        assert!(parse_manifest_url("").unwrap().is_none());
        assert!(
            parse_manifest_url("https://u.example.com/stable/latest.json")
                .unwrap()
                .is_some()
        );
        assert!(parse_manifest_url("http://127.0.0.1:8080/latest.json")
            .unwrap()
            .is_some());
        assert!(parse_manifest_url("http://localhost/latest.json")
            .unwrap()
            .is_some());
        assert!(matches!(
            parse_manifest_url("http://u.example.com/latest.json"),
            Err(ManifestUrlError::PlainHttp(_))
        ));
        assert!(matches!(
            parse_manifest_url("ftp://x/latest.json"),
            Err(ManifestUrlError::Scheme(_))
        ));
        let e = parse_manifest_url("updates.example.com/latest.json").unwrap_err();
        assert!(e.to_string().contains("https://updates.example.com"), "{e}");
    }

    #[test]
    fn the_channel_picks_the_manifest() {
        let s = settings(
            UpdateChannel::Stable,
            "https://u.example/stable/latest.json",
            "https://u.example/beta/latest.json",
        );
        assert_eq!(
            plan(&s, None, KEY).unwrap().manifest_url.path(),
            "/stable/latest.json"
        );
        let s = settings(
            UpdateChannel::Beta,
            "https://u.example/stable/latest.json",
            "https://u.example/beta/latest.json",
        );
        assert_eq!(
            plan(&s, None, KEY).unwrap().manifest_url.path(),
            "/beta/latest.json"
        );
        let s = settings(
            UpdateChannel::Beta,
            "https://u.example/stable/latest.json",
            "",
        );
        let e = plan(&s, None, KEY).unwrap_err();
        assert!(e.to_string().contains("updates.beta_url"), "{e}");
    }

    #[test]
    fn a_pinned_key_replaces_the_built_in_one_and_must_be_valid() {
        let mut s = settings(UpdateChannel::Stable, "https://u.example/latest.json", "");
        let p = plan(&s, None, "BUILTIN").unwrap();
        assert_eq!(
            (p.pubkey.as_str(), p.key_source),
            ("BUILTIN", KeySource::BuiltIn)
        );
        s.updates.pubkey = KEY.trim().into();
        let p = plan(
            &s,
            Some(Path::new("/etc/helpdesk-button/policy.toml")),
            "BUILTIN",
        )
        .unwrap();
        assert_eq!(p.pubkey, KEY.trim());
        assert!(matches!(p.key_source, KeySource::Policy { .. }));
        s.updates.pubkey = "bm90IGEga2V5".into();
        assert!(matches!(
            plan(&s, None, "BUILTIN"),
            Err(PlanError::BadPinnedKey(_))
        ));
        s.updates.pubkey = String::new();
        assert_eq!(plan(&s, None, " "), Err(PlanError::NoKey));
    }

    #[test]
    fn checks_are_spread_out() {
        assert_eq!(first_check_delay(0.0), Duration::from_secs(60));
        assert_eq!(first_check_delay(1.0), Duration::from_secs(300));
        assert_eq!(next_check_delay(6, 0.0), Duration::from_secs(6 * 3600));
        assert_eq!(next_check_delay(6, 1.0), Duration::from_secs(6 * 2700));
        assert_eq!(
            next_check_delay(0, 0.0),
            Duration::from_secs(3600),
            "at least an hour"
        );
        let a: Vec<f64> = (0..50).map(|_| random_unit()).collect();
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
        let distinct = a
            .iter()
            .map(|u| u.to_bits())
            .collect::<std::collections::HashSet<_>>();
        assert!(
            distinct.len() > 45,
            "jitter must differ between draws: {distinct:?}"
        );
    }

    #[test]
    fn versions_compare_as_semver() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("0.1.10", "0.1.9"), Some(Greater));
        assert_eq!(compare_versions("v1.0.0", "1.0.0"), Some(Equal));
        assert_eq!(compare_versions("1.0.0-beta.1", "1.0.0"), Some(Less));
        assert_eq!(compare_versions("1.0", "1.0.0"), None);
    }

    #[test]
    fn the_status_survives_a_restart_and_a_new_version_clears_the_pending_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let mut s = UpdateStatus::load(&paths, "0.1.0", InstallMode::Automatic);
        assert_eq!(s.outcome, Outcome::NeverChecked);
        let url = Url::parse("https://u.example/latest.json").unwrap();
        s.record(
            Trigger::Manual,
            "beta",
            Some(&url),
            Outcome::Ready {
                version: "0.2.0".into(),
                notes: String::new(),
            },
        );
        s.save(&paths).unwrap();
        let again = UpdateStatus::load(&paths, "0.1.0", InstallMode::Automatic);
        assert_eq!(again, s);
        let after = UpdateStatus::load(&paths, "0.2.0", InstallMode::Automatic);
        assert_eq!((after.outcome, after.checks), (Outcome::UpToDate, 1));
    }

    #[test]
    fn the_built_in_test_key_is_accepted_and_garbage_is_explained() {
        validate_pubkey(KEY).unwrap();
        let e = validate_pubkey("!!").unwrap_err();
        assert!(e.contains("release.sh keygen"), "{e}");
    }
}
