//! Settings: a versioned serde struct with defaults, validation, dotted-key editing and atomic
//! writes.
//!
//! The Atera key is not a setting: it lives in the keychain (see [`crate::secrets`]) and never
//! reaches this file.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::paths::{read_optional, write_atomic, AppPaths, PathsError};
use crate::values::{AteraChoice, Impact, Priority, TicketType};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors loading, changing or saving settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Io(#[from] PathsError),
    #[error("the settings file {path} is not valid: {message}. Fix it, or delete it to start from the defaults.")]
    Parse { path: String, message: String },
    #[error(
        "there is no setting called `{0}`. Run `helpdesk-button settings show` to see them all."
    )]
    UnknownKey(String),
    #[error("`{key}` cannot be set to {value:?}: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Endpoint(#[from] EndpointError),
}

/// How the key is sent to Atera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// JWT-shaped tokens as `Authorization: Bearer`, anything else as `X-API-KEY`.
    #[default]
    Auto,
    /// Always `X-API-KEY`.
    ApiKey,
    /// Always `Authorization: Bearer`.
    Bearer,
}

/// Values a new ticket starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketDefaults {
    pub priority: Priority,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub impact: Impact,
    pub status: String,
}

impl Default for TicketDefaults {
    fn default() -> Self {
        Self {
            priority: Priority::Medium,
            ticket_type: TicketType::Incident,
            impact: Impact::Minor,
            status: crate::values::DEFAULT_STATUS.to_string(),
        }
    }
}

/// The Atera connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AteraSettings {
    /// A host such as `app.atera.com`, or a loopback `127.0.0.1:PORT` for the sandbox.
    pub endpoint: String,
    pub auth_mode: AuthMode,
    pub defaults: TicketDefaults,
    /// Email of an existing Atera contact used when the requester is unknown to Atera and this
    /// machine's customer cannot be found. Empty: send the requester's name and email instead.
    pub fallback_contact_email: String,
}

impl Default for AteraSettings {
    fn default() -> Self {
        Self {
            endpoint: "app.atera.com".into(),
            auth_mode: AuthMode::Auto,
            defaults: TicketDefaults::default(),
            fallback_contact_email: String::new(),
        }
    }
}

/// A radio group on the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RadioGroup {
    pub label: String,
    pub options: Vec<String>,
}

/// What the form shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormSettings {
    pub checkboxes: Vec<String>,
    pub radio_groups: Vec<RadioGroup>,
    pub require_phone: bool,
}

impl Default for FormSettings {
    fn default() -> Self {
        Self {
            checkboxes: vec![
                "This is a recurring issue".into(),
                "This is an emergency".into(),
                "This is about another device, not this PC".into(),
            ],
            radio_groups: vec![
                RadioGroup {
                    label: "How should we contact you?".into(),
                    options: vec![
                        "Connect to my computer".into(),
                        "Call me".into(),
                        "Visit on site".into(),
                    ],
                },
                RadioGroup {
                    label: "Who is affected?".into(),
                    options: vec![
                        "Only me".into(),
                        "Several people".into(),
                        "Everyone here".into(),
                    ],
                },
            ],
            require_phone: false,
        }
    }
}

/// Which monitors are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScreenshotMode {
    #[default]
    AllMonitors,
    PrimaryOnly,
    Off,
}

/// Screenshot policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScreenshotSettings {
    pub mode: ScreenshotMode,
    /// Whether users may untick a monitor in the form.
    pub allow_exclude: bool,
    /// Cap on the inline JPEG bytes of all screenshots in one ticket body.
    pub max_total_bytes: usize,
}

impl Default for ScreenshotSettings {
    fn default() -> Self {
        Self {
            mode: ScreenshotMode::AllMonitors,
            allow_exclude: true,
            max_total_bytes: crate::ticket::DEFAULT_SCREENSHOT_BUDGET,
        }
    }
}

/// The MSP's look on the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    pub company_name: String,
    /// `#rrggbb`.
    pub accent_color: String,
    /// A `data:image/png;base64,…` (or jpeg/svg+xml) logo for the form's header; empty for none.
    pub logo_data_url: String,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            company_name: "IT Support".into(),
            accent_color: "#2563eb".into(),
            logo_data_url: String::new(),
        }
    }
}

/// Ways to reach the MSP, shown on the form's success and error pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupportLinks {
    pub phone: String,
    pub email: String,
    pub url: String,
}

/// Which update channel this copy follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateChannel {
    #[default]
    Stable,
    Beta,
}

/// Where updates come from and how often the app looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateSettings {
    pub channel: UpdateChannel,
    /// The stable channel's manifest (`latest.json`), https.
    pub stable_url: String,
    /// The beta channel's manifest.
    pub beta_url: String,
    /// Hours between scheduled checks (1–168); each wait is shortened by up to 25 % at random.
    pub check_hours: u32,
    /// A public key pinned by the machine-wide policy; empty = the key built into the app.
    /// Only the policy file can set it: the value in a user's settings file is ignored.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pubkey: String,
}

impl Default for UpdateSettings {
    fn default() -> Self {
        Self {
            channel: UpdateChannel::Stable,
            stable_url: String::new(),
            beta_url: String::new(),
            check_hours: crate::update::DEFAULT_CHECK_HOURS,
            pubkey: String::new(),
        }
    }
}

/// The MSP's relay, set by the machine policy alone: when `url` is set, this PC files through
/// the relay and holds no Atera key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    /// `https://relay.example-msp.com/`, or a loopback `http://127.0.0.1:PORT/`.
    pub url: String,
    /// The enrollment token from `helpdesk-relay enroll create`; needed only until this PC has
    /// enrolled.
    pub enrollment_token: String,
}

impl RelaySettings {
    /// Whether this PC files through a relay.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// All settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub schema_version: u32,
    pub atera: AteraSettings,
    pub form: FormSettings,
    pub screenshots: ScreenshotSettings,
    pub branding: Branding,
    pub support: SupportLinks,
    pub updates: UpdateSettings,
    /// Policy only (see [`RelaySettings`]).
    pub relay: RelaySettings,
    /// The global hotkey, e.g. `Ctrl+Shift+F1` or a single `F9`.
    pub hotkey: String,
}

/// The default hotkey: F-keys with Ctrl+Shift are rarely bound by desktops or common apps, and it
/// avoids Ctrl+Alt, which is AltGr on many European keyboards.
pub const DEFAULT_HOTKEY: &str = "Ctrl+Shift+F1";

impl Default for Settings {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            atera: AteraSettings::default(),
            form: FormSettings::default(),
            screenshots: ScreenshotSettings::default(),
            branding: Branding::default(),
            support: SupportLinks::default(),
            updates: UpdateSettings::default(),
            relay: RelaySettings::default(),
            hotkey: DEFAULT_HOTKEY.into(),
        }
    }
}

impl Settings {
    /// Loads the settings file, or the defaults when there is none.
    ///
    /// # Errors
    /// [`SettingsError::Parse`] when the file exists but is not valid.
    pub fn load(paths: &AppPaths) -> Result<Self, SettingsError> {
        let policy = crate::policy::Policy::load_or_lock_down(&paths.policy_file);
        Self::load_with(paths, &policy)
    }

    /// The effective settings under a given policy: the defaults, then the policy's values, then
    /// the user's file (migrated to the current schema), then the policy's locked values on top.
    ///
    /// # Errors
    /// [`SettingsError::Parse`] when the user's file is not valid.
    pub fn load_with(
        paths: &AppPaths,
        policy: &crate::policy::Policy,
    ) -> Result<Self, SettingsError> {
        let path = paths.settings_file();
        let parse_err = |message: String| SettingsError::Parse {
            path: path.display().to_string(),
            message,
        };
        let mut user = match read_optional(&path)? {
            Some(bytes) => String::from_utf8_lossy(&bytes)
                .parse::<toml::Table>()
                .map_err(|e| parse_err(e.message().to_string()))?,
            None => toml::Table::new(),
        };
        migrate(&mut user);
        // The update key is trusted only from the machine-wide policy: a user (or anything
        // running as the user) must not be able to make this PC accept their own releases.
        if let Some(updates) = user.get_mut("updates").and_then(toml::Value::as_table_mut) {
            // Earlier versions wrote `pubkey = ""`: only a real key is worth a warning.
            let pinned = updates.remove("pubkey");
            if pinned.is_some_and(|k| k.as_str().is_none_or(|k| !k.trim().is_empty())) {
                tracing::warn!(file = %path.display(), "ignoring updates.pubkey in the user's settings: only the policy file can pin the update key");
            }
        }
        // Where tickets go is the policy's alone: a user's file cannot send them elsewhere.
        if user.remove("relay").is_some() {
            tracing::warn!(file = %path.display(), "ignoring [relay] in the user's settings: only the policy file sets the relay");
        }
        let defaults =
            toml::Table::try_from(Self::default()).map_err(|e| parse_err(e.to_string()))?;
        let merged = policy.apply(defaults, user);
        let mut settings: Self = merged
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(e.message().to_string()))?;
        settings.apply_pushed(paths, policy);
        settings.validate()?;
        Ok(settings)
    }

    /// On a relay PC, the form, ticket defaults and branding the relay pushes (its cached copy)
    /// override the local ones, as a policy's would; values the machine policy locks stay the
    /// policy's. A cache that cannot be read, or pushed values that are not valid, change nothing.
    fn apply_pushed(&mut self, paths: &AppPaths, policy: &crate::policy::Policy) {
        if !self.relay.enabled() {
            return;
        }
        let file = crate::relay::device::pushed_settings_file(paths);
        let Ok(Some(bytes)) = read_optional(&file) else {
            return;
        };
        let pushed: crate::relay::protocol::PushedSettings = match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "the relay's cached settings cannot be read; using the local ones");
                return;
            }
        };
        let mut next = self.clone();
        if !policy.is_locked("atera.defaults") {
            next.atera.defaults = pushed.defaults;
        }
        if !policy.is_locked("form") {
            next.form = pushed.form;
        }
        if !policy.is_locked("branding") {
            next.branding = pushed.branding;
        }
        match next.validate() {
            Ok(()) => *self = next,
            Err(e) => {
                tracing::warn!(error = %e, "the relay's settings are not valid here; using the local ones")
            }
        }
    }

    /// The settings to run on when the user's file cannot be read: the defaults under the
    /// machine policy, never the bare defaults (which would drop the policy's values and locks).
    pub fn policy_defaults(paths: &AppPaths) -> Self {
        let policy = crate::policy::Policy::load_or_lock_down(&paths.policy_file);
        toml::Table::try_from(Self::default())
            .ok()
            .map(|defaults| policy.apply(defaults, toml::Table::new()))
            .and_then(|merged| merged.try_into::<Self>().ok())
            .filter(|s| s.validate().is_ok())
            .unwrap_or_default()
    }

    /// Validates and writes the settings atomically.
    ///
    /// # Errors
    /// A validation error, or [`SettingsError::Io`] when the file cannot be written.
    ///
    /// Only what differs from the defaults under the machine policy is written, so settings keep
    /// their layers: a value the policy sets (locked or not) and the user did not change stays
    /// the policy's, and a later policy change reaches this PC. Locked values are never written.
    pub fn save(&self, paths: &AppPaths) -> Result<(), SettingsError> {
        let policy = crate::policy::Policy::load_or_lock_down(&paths.policy_file);
        self.save_under(paths, &policy)
    }

    /// [`Settings::save`] under a given policy.
    ///
    /// # Errors
    /// A validation error, or [`SettingsError::Io`] when the file cannot be written.
    pub fn save_under(
        &self,
        paths: &AppPaths,
        policy: &crate::policy::Policy,
    ) -> Result<(), SettingsError> {
        self.validate()?;
        if let Some(why) = policy
            .broken
            .as_ref()
            .and_then(|_| policy.refusal("settings"))
        {
            // Under a broken policy every key is locked: refuse rather than write an empty file.
            return Err(SettingsError::InvalidValue {
                key: "settings".into(),
                value: String::new(),
                reason: why,
            });
        }
        let invalid = |e: String| SettingsError::InvalidValue {
            key: "settings".into(),
            value: String::new(),
            reason: e,
        };
        // The update key is the policy's (see load_with); the user's file never carries it.
        let mut own = self.clone();
        own.updates.pubkey.clear();
        let mine = toml::Table::try_from(&own).map_err(|e| invalid(e.to_string()))?;
        let defaults =
            toml::Table::try_from(Self::default()).map_err(|e| invalid(e.to_string()))?;
        let baseline = policy.apply(defaults, toml::Table::new());
        let mut changed =
            crate::policy::difference(&mine, &baseline, "", &|key| policy.forces(key));
        changed.remove("relay");
        changed.insert(
            "schema_version".into(),
            toml::Value::Integer(i64::from(SCHEMA_VERSION)),
        );
        let text = toml::to_string_pretty(&changed).map_err(|e| invalid(e.to_string()))?;
        write_atomic(&paths.settings_file(), text.as_bytes(), Some(0o644))?;
        Ok(())
    }

    /// Checks values that serde cannot.
    ///
    /// # Errors
    /// The first invalid value, with the reason.
    pub fn validate(&self) -> Result<(), SettingsError> {
        Endpoint::parse(&self.atera.endpoint)?;
        if !is_hex_colour(&self.branding.accent_color) {
            return Err(invalid(
                "branding.accent_color",
                &self.branding.accent_color,
                "use a colour like #2563eb",
            ));
        }
        if self.hotkey.trim().is_empty() {
            return Err(invalid(
                "hotkey",
                &self.hotkey,
                "give a key such as F9 or Ctrl+Shift+F1",
            ));
        }
        let logo = &self.branding.logo_data_url;
        let logo_ok = [
            "data:image/png;base64,",
            "data:image/jpeg;base64,",
            "data:image/svg+xml;base64,",
        ]
        .iter()
        .any(|p| logo.starts_with(p));
        if !logo.is_empty() && !logo_ok {
            return Err(invalid(
                "branding.logo_data_url",
                "(logo)",
                "use a PNG, JPEG or SVG image",
            ));
        }
        if logo.len() > 300_000 {
            return Err(invalid(
                "branding.logo_data_url",
                "(logo)",
                "use an image under 200 KB",
            ));
        }
        let email = self.atera.fallback_contact_email.trim();
        if !email.is_empty() && !email.contains('@') {
            return Err(invalid(
                "atera.fallback_contact_email",
                email,
                "use an email address like frontdesk@yourcompany.com",
            ));
        }
        let url = self.support.url.trim();
        let url_ok = url.starts_with("https://") || url.starts_with("http://");
        if !url.is_empty() && !url_ok {
            return Err(invalid(
                "support.url",
                url,
                "start the address with https://",
            ));
        }
        for (key, url) in [
            ("updates.stable_url", &self.updates.stable_url),
            ("updates.beta_url", &self.updates.beta_url),
        ] {
            if let Err(e) = crate::update::parse_manifest_url(url) {
                return Err(invalid(key, url, &e.to_string()));
            }
        }
        if !(1..=crate::update::MAX_CHECK_HOURS).contains(&self.updates.check_hours) {
            return Err(invalid(
                "updates.check_hours",
                &self.updates.check_hours.to_string(),
                "use a number of hours from 1 to 168 (6 is a good default)",
            ));
        }
        if !self.updates.pubkey.trim().is_empty() {
            if let Err(e) = crate::update::validate_pubkey(&self.updates.pubkey) {
                return Err(invalid("updates.pubkey", "(key)", &e));
            }
        }
        if self.relay.enabled() {
            if let Err(e) = crate::relay::RelayClient::new(&self.relay.url, None) {
                return Err(invalid("relay.url", &self.relay.url, &e.to_string()));
            }
        }
        if self.screenshots.max_total_bytes < 50_000 {
            return Err(invalid(
                "screenshots.max_total_bytes",
                &self.screenshots.max_total_bytes.to_string(),
                "allow at least 50000 bytes",
            ));
        }
        Ok(())
    }

    /// Where deliveries go: the relay when the policy names one, else the Atera endpoint.
    pub fn delivery_url(&self) -> Option<Url> {
        if self.relay.enabled() {
            return Url::parse(self.relay.url.trim()).ok();
        }
        self.endpoint().ok().map(|e| e.base_url())
    }

    /// The Atera endpoint, parsed.
    ///
    /// # Errors
    /// When the stored endpoint is not valid.
    pub fn endpoint(&self) -> Result<Endpoint, EndpointError> {
        Endpoint::parse(&self.atera.endpoint).map(|(e, _)| e)
    }

    /// Sets one dotted key (`atera.endpoint`, `branding.company_name`, `form.checkboxes`) from
    /// text. Lists and objects take JSON; other values take plain text. Returns notes about how
    /// the value was cleaned up.
    ///
    /// # Errors
    /// [`SettingsError::UnknownKey`] or [`SettingsError::InvalidValue`] saying what to type.
    pub fn set(&mut self, key: &str, raw: &str) -> Result<Vec<String>, SettingsError> {
        if key.starts_with("relay.") {
            return Err(invalid(
                key,
                raw,
                "only the machine-wide policy file sets the relay ([settings.relay] url and enrollment_token in the policy file); see README, Running the relay",
            ));
        }
        if key == "updates.pubkey" {
            return Err(invalid(
                key,
                "(key)",
                "only the machine-wide policy file can pin the update key ([settings.updates] pubkey = \"...\" in the policy file); see README, Installers, updates and deployment",
            ));
        }
        let mut notes = Vec::new();
        let raw_value =
            match key {
                "atera.endpoint" => {
                    let (endpoint, endpoint_notes) = Endpoint::parse(raw)?;
                    notes = endpoint_notes;
                    endpoint.to_string()
                }
                // Defaults take people's names and legacy names too, like everywhere else.
                "atera.defaults.priority" => Priority::parse(raw)
                    .map_or_else(|| raw.to_string(), |v| v.api_value().to_string()),
                "atera.defaults.type" => TicketType::parse(raw)
                    .map_or_else(|| raw.to_string(), |v| v.api_value().to_string()),
                "atera.defaults.impact" => Impact::parse(raw)
                    .map_or_else(|| raw.to_string(), |v| v.api_value().to_string()),
                _ => raw.to_string(),
            };
        let mut tree =
            serde_json::to_value(&*self).map_err(|e| invalid(key, raw, &e.to_string()))?;
        let slot = key
            .split('.')
            .try_fold(&mut tree, |node, part| node.get_mut(part))
            .filter(|slot| key != "schema_version" && !slot.is_null())
            .ok_or_else(|| SettingsError::UnknownKey(key.to_string()))?;
        *slot = match slot {
            serde_json::Value::String(_) => serde_json::Value::String(raw_value.clone()),
            serde_json::Value::Bool(_) => match raw_value.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => serde_json::Value::Bool(true),
                "false" | "no" | "off" | "0" => serde_json::Value::Bool(false),
                _ => return Err(invalid(key, raw, "use true or false")),
            },
            _ => serde_json::from_str(&raw_value).map_err(|e| {
                invalid(key, raw, &format!("expected JSON of the same shape ({e})"))
            })?,
        };
        let updated: Self =
            serde_json::from_value(tree).map_err(|e| invalid(key, raw, &value_hint(key, &e)))?;
        updated.validate()?;
        *self = updated;
        Ok(notes)
    }
}

/// Brings a settings table written by an older version up to [`SCHEMA_VERSION`], one step at a
/// time, so old files keep working after an update.
pub fn migrate(table: &mut toml::Table) {
    let version = table
        .get("schema_version")
        .and_then(toml::Value::as_integer)
        .unwrap_or(0);
    if version < 1 {
        // Version 0 (before schema versions) called the default status "standing", as some of
        // Atera's older documentation does.
        if let Some(defaults) = table
            .get_mut("atera")
            .and_then(|a| a.get_mut("defaults"))
            .and_then(toml::Value::as_table_mut)
        {
            if let Some(standing) = defaults.remove("standing") {
                defaults.entry("status").or_insert(standing);
            }
        }
    }
    table.insert(
        "schema_version".into(),
        toml::Value::Integer(i64::from(SCHEMA_VERSION)),
    );
}

fn value_hint(key: &str, error: &serde_json::Error) -> String {
    let allowed: Option<Vec<&str>> = match key {
        "atera.defaults.priority" => Some(Priority::ALL.iter().map(|v| v.api_value()).collect()),
        "atera.defaults.type" => Some(TicketType::ALL.iter().map(|v| v.api_value()).collect()),
        "atera.defaults.impact" => Some(Impact::ALL.iter().map(|v| v.api_value()).collect()),
        "atera.auth_mode" => Some(vec!["auto", "api-key", "bearer"]),
        "screenshots.mode" => Some(vec!["all-monitors", "primary-only", "off"]),
        "updates.channel" => Some(vec!["stable", "beta"]),
        _ => None,
    };
    match allowed {
        Some(values) => format!("use one of: {}", values.join(", ")),
        None => error.to_string(),
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> SettingsError {
    SettingsError::InvalidValue {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn is_hex_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Why an endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the Atera endpoint is empty: enter the host you sign in to, usually app.atera.com")]
    Empty,
    #[error("the Atera endpoint {0:?} contains spaces: enter just the host, like app.atera.com")]
    Spaces(String),
    #[error("the Atera endpoint {0:?} is not a valid host name: check for typos such as a comma instead of a dot (app.atera.com)")]
    BadHost(String),
    #[error(
        "plain http is only allowed for this computer (127.0.0.1 or localhost); use https for {0}"
    )]
    PlainHttp(String),
    #[error(
        "a port is only allowed for this computer (127.0.0.1:PORT); remove \":{port}\" from {host}"
    )]
    PortOnPublicHost { host: String, port: u16 },
}

/// A validated Atera endpoint: a public host (always https) or a loopback host with a port
/// (http unless https was given), such as the local sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    host: String,
    port: Option<u16>,
    https: bool,
}

impl Endpoint {
    /// Parses what an admin typed. Accepts a pasted URL such as `https://app.atera.com/api/v3/`
    /// and returns notes saying what was removed.
    ///
    /// # Errors
    /// An [`EndpointError`] saying what is wrong and what to type instead.
    pub fn parse(input: &str) -> Result<(Self, Vec<String>), EndpointError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EndpointError::Empty);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(EndpointError::Spaces(trimmed.to_string()));
        }
        let mut notes = Vec::new();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest),
            None => (None, trimmed),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if scheme.as_deref() == Some("https") {
            notes.push("removed \"https://\": the app always uses https for Atera".to_string());
        }
        if !path.trim_matches('/').is_empty() {
            notes.push(format!(
                "removed the path {path:?}: the app adds /api/v3 itself"
            ));
        }
        let url = Url::parse(&format!("http://{authority}/"))
            .map_err(|_| EndpointError::BadHost(trimmed.into()))?;
        let host = url
            .host_str()
            .ok_or_else(|| EndpointError::BadHost(trimmed.into()))?
            .to_ascii_lowercase();
        // `Url` percent-encodes odd characters rather than refusing them; check the host text.
        let host_text = authority
            .rsplit_once(':')
            .filter(|(_, p)| p.parse::<u16>().is_ok())
            .map_or(authority, |(h, _)| h);
        let loopback = is_loopback(&host);
        let valid_chars = host_text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !valid_chars
            || (!loopback
                && (!host.contains('.')
                    || host.starts_with('.')
                    || host.ends_with('.')
                    || host.contains("..")))
        {
            return Err(EndpointError::BadHost(trimmed.into()));
        }
        let port = url.port();
        if !loopback {
            if let Some(port) = port {
                return Err(EndpointError::PortOnPublicHost { host, port });
            }
            if scheme.as_deref() == Some("http") {
                return Err(EndpointError::PlainHttp(host));
            }
        }
        if let Some(s) = scheme.as_deref() {
            if s != "http" && s != "https" {
                return Err(EndpointError::BadHost(trimmed.into()));
            }
        }
        let https = if loopback {
            scheme.as_deref() == Some("https")
        } else {
            true
        };
        if loopback {
            notes.retain(|n| !n.starts_with("removed \"https"));
        }
        Ok((Self { host, port, https }, notes))
    }

    /// Whether this is the local machine (the sandbox).
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.host)
    }

    /// The API base, e.g. `https://app.atera.com/api/v3/`.
    pub fn base_url(&self) -> Url {
        let scheme = if self.https { "https" } else { "http" };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        Url::parse(&format!("{scheme}://{host}{port}/api/v3/"))
            .expect("validated endpoint forms a URL")
    }
}

impl std::fmt::Display for Endpoint {
    /// The stored form: `app.atera.com` or `127.0.0.1:8765` (with `https://` for https loopback).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.https && self.is_loopback() {
            f.write_str("https://")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_api_url_becomes_the_host_with_a_note() {
        let (endpoint, notes) = Endpoint::parse(" https://app.atera.com/api/v3/ ").unwrap();
        assert_eq!(endpoint.to_string(), "app.atera.com");
        assert_eq!(
            endpoint.base_url().as_str(),
            "https://app.atera.com/api/v3/"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn loopback_with_port_uses_plain_http() {
        let (endpoint, _) = Endpoint::parse("127.0.0.1:8765").unwrap();
        assert_eq!(
            endpoint.base_url().as_str(),
            "http://127.0.0.1:8765/api/v3/"
        );
        assert!(endpoint.is_loopback());
        assert_eq!(endpoint.to_string(), "127.0.0.1:8765");
    }

    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        assert_eq!(
            Endpoint::parse("app.atera,com").unwrap_err(),
            EndpointError::BadHost("app.atera,com".into())
        );
        assert!(matches!(
            Endpoint::parse("app atera.com"),
            Err(EndpointError::Spaces(_))
        ));
        assert!(matches!(
            Endpoint::parse("http://app.atera.com"),
            Err(EndpointError::PlainHttp(_))
        ));
        assert!(matches!(
            Endpoint::parse("app.atera.com:8443"),
            Err(EndpointError::PortOnPublicHost { port: 8443, .. })
        ));
        assert!(matches!(
            Endpoint::parse("atera"),
            Err(EndpointError::BadHost(_))
        ));
        assert!(matches!(Endpoint::parse(""), Err(EndpointError::Empty)));
        assert!(matches!(
            Endpoint::parse("ftp://app.atera.com"),
            Err(EndpointError::BadHost(_))
        ));
    }

    #[test]
    fn set_by_dotted_key_validates_and_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let mut settings = Settings::load(&paths).unwrap();
        assert_eq!(settings, Settings::default());
        settings
            .set("atera.endpoint", "https://app.atera.com/api/v3")
            .unwrap();
        settings.set("branding.company_name", "Contoso IT").unwrap();
        settings.set("atera.defaults.impact", "SiteDown").unwrap();
        settings.set("form.require_phone", "yes").unwrap();
        settings.set("form.checkboxes", r#"["Only this"]"#).unwrap();
        settings.save(&paths).unwrap();
        let loaded = Settings::load(&paths).unwrap();
        assert_eq!(loaded.branding.company_name, "Contoso IT");
        assert_eq!(loaded.atera.defaults.impact, Impact::SiteDown);
        assert!(loaded.form.require_phone);
        assert_eq!(loaded.form.checkboxes, vec!["Only this".to_string()]);
    }

    #[test]
    fn the_users_file_never_carries_an_update_key() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        // The admin window saves the effective settings, which may hold the policy's key.
        let mut settings = Settings::default();
        settings.updates.pubkey = include_str!("../tests/fixtures/updater/test.key.pub")
            .trim()
            .into();
        settings.updates.check_hours = 12;
        settings.save(&paths).unwrap();
        let text = std::fs::read_to_string(paths.settings_file()).unwrap();
        assert!(!text.contains("pubkey"), "{text}");
        assert_eq!(Settings::load(&paths).unwrap().updates.check_hours, 12);
    }

    #[test]
    fn set_refuses_unknown_keys_and_bad_values_without_changing_anything() {
        let mut settings = Settings::default();
        assert!(matches!(
            settings.set("atera.nope", "x"),
            Err(SettingsError::UnknownKey(_))
        ));
        let err = settings
            .set("atera.defaults.priority", "Whenever")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Low, Medium, High, Critical"), "{err}");
        assert!(settings.set("branding.accent_color", "blue").is_err());
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn a_version_0_file_is_migrated_and_keeps_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        std::fs::write(
            paths.settings_file(),
            "hotkey = \"F9\"\n[atera.defaults]\nstanding = \"Pending\"\npriority = \"High\"\n",
        )
        .unwrap();
        let s = Settings::load(&paths).unwrap();
        assert_eq!(
            (
                s.schema_version,
                s.hotkey.as_str(),
                s.atera.defaults.status.as_str()
            ),
            (SCHEMA_VERSION, "F9", "Pending")
        );
        assert_eq!(s.atera.defaults.priority, Priority::High);
    }

    #[test]
    fn defaults_accept_peoples_names() {
        let mut s = Settings::default();
        s.set("atera.defaults.impact", "site down").unwrap();
        s.set("atera.defaults.type", "Service Request").unwrap();
        assert_eq!(
            (s.atera.defaults.impact, s.atera.defaults.ticket_type),
            (Impact::SiteDown, TicketType::Request)
        );
    }

    #[test]
    fn a_broken_settings_file_says_how_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        std::fs::write(paths.settings_file(), "hotkey = [").unwrap();
        let err = Settings::load(&paths).unwrap_err().to_string();
        assert!(
            err.contains("delete it to start from the defaults"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_user_settings_keep_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = AppPaths::isolated(dir.path().to_path_buf());
        paths.policy_file = dir.path().join("policy.toml");
        std::fs::write(
            &paths.policy_file,
            "locked = [\"atera.endpoint\"]\n[settings.atera]\nendpoint = \"msp.atera.example\"\n",
        )
        .unwrap();
        std::fs::write(paths.settings_file(), "[atera\nendpoint = ").unwrap();
        assert!(
            Settings::load(&paths).is_err(),
            "the broken file is an error"
        );
        assert_eq!(
            Settings::policy_defaults(&paths).atera.endpoint,
            "msp.atera.example"
        );
    }
}
