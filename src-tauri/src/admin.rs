//! The admin window: opened from the tray's *Settings…*, locked behind the admin password.
//! Every command here except status/unlock/lock/set-password refuses to work unless the admin
//! session is unlocked; the window's capability grants these commands to the admin window only.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use helpdesk_core::admin::{self, Throttle};
use helpdesk_core::check::{run_integration_test, CheckOptions};
use helpdesk_core::policy::Policy;
use helpdesk_core::secrets::{ApiKey, KeySource, KeyVault, OsKeychain};
use helpdesk_core::settings::Settings;
use helpdesk_core::values::{self, Impact, Priority, TicketType};
use helpdesk_core::{inventory, submit};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Manager, State, WebviewUrl, WebviewWindowBuilder};

use crate::AppState;

/// The admin window's label.
pub const ADMIN_WINDOW: &str = "admin";
/// An unlocked session ends after this long without an admin command.
const IDLE_LOCK: Duration = Duration::from_secs(15 * 60);

/// The admin session: unlocked or not, the wrong-password slowdown, and (in relay mode) the
/// relay admin token, held in memory only while the session is unlocked.
#[derive(Default)]
pub struct AdminGate {
    unlocked_until: Mutex<Option<Instant>>,
    throttle: Mutex<Throttle>,
    relay_token: Mutex<Option<ApiKey>>,
    /// Counts the sessions' ends, so a token that arrives after a lock is not kept.
    sessions_ended: std::sync::atomic::AtomicU64,
}

impl AdminGate {
    fn is_unlocked(&self) -> bool {
        let mut guard = self
            .unlocked_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *guard {
            Some(until) if until > Instant::now() => {
                *guard = Some(Instant::now() + IDLE_LOCK);
                true
            }
            _ => {
                if guard.take().is_some() {
                    self.end_session();
                }
                false
            }
        }
    }

    fn set_unlocked(&self, unlocked: bool) {
        *self
            .unlocked_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            unlocked.then(|| Instant::now() + IDLE_LOCK);
        if !unlocked {
            self.end_session();
        }
    }

    /// The relay admin token the admin signed in with, while unlocked.
    pub(crate) fn relay_token(&self) -> Option<ApiKey> {
        self.relay_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_relay_token(&self, token: Option<ApiKey>) {
        *self
            .relay_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    /// Which unlocked session this is (see [`AdminGate::keep_relay_token`]).
    pub(crate) fn session(&self) -> u64 {
        self.sessions_ended
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps `token` only if the session that asked for it (`session`) is still the unlocked
    /// one: a sign-in answered after a lock stores nothing.
    pub(crate) fn keep_relay_token(&self, session: u64, token: ApiKey) -> bool {
        if !self.is_unlocked() || self.session() != session {
            return false;
        }
        let mut held = self
            .relay_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked again under the token's lock: a lock that ran in between has bumped it.
        if self.session() != session {
            return false;
        }
        *held = Some(token);
        true
    }

    fn end_session(&self) {
        self.sessions_ended
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.set_relay_token(None);
    }
}

/// An admin command's error, as the window sees it.
#[derive(Debug, Serialize)]
pub struct AdminError {
    kind: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<serde_json::Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

impl AdminError {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: None,
            retry_after_ms: None,
        }
    }

    pub(crate) fn invalid_field(key: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = serde_json::Map::new();
        fields.insert(key.to_string(), Value::String(message.clone()));
        Self {
            kind: "invalid",
            message,
            fields: Some(fields),
            retry_after_ms: None,
        }
    }
}

pub(crate) type Gate<'a> = State<'a, AdminGate>;
pub(crate) type AppStateArc<'a> = State<'a, std::sync::Arc<AppState>>;

pub(crate) fn require_unlocked(gate: &AdminGate) -> Result<(), AdminError> {
    if gate.is_unlocked() {
        Ok(())
    } else {
        Err(AdminError::new(
            "locked",
            "The settings are locked. Enter the admin password.",
        ))
    }
}

/// The machine policy; a broken file locks everything (it never loosens anything).
fn policy(state: &AppState) -> Policy {
    Policy::load_or_lock_down(&state.paths.policy_file)
}

/// Refuses every change while the policy file is broken, saying which file and line.
fn refuse_if_broken(policy: &Policy) -> Result<(), AdminError> {
    match policy
        .refusal("settings")
        .filter(|_| policy.broken.is_some())
    {
        Some(why) => Err(AdminError::new("locked", capitalised(&why))),
        None => Ok(()),
    }
}

/// Opens (or focuses) the admin window.
pub fn open_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(ADMIN_WINDOW) {
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, ADMIN_WINDOW, WebviewUrl::App("admin.html".into()))
        .title("Helpdesk Button · Settings")
        .inner_size(980.0, 720.0)
        .min_inner_size(760.0, 520.0)
        .center()
        .focused(true)
        .build();
    match built {
        Ok(w) => {
            let app = app.clone();
            w.on_window_event(move |e| {
                if let tauri::WindowEvent::Destroyed = e {
                    // Closing the window locks the settings again.
                    app.state::<AdminGate>().set_unlocked(false);
                }
            });
        }
        Err(e) => tracing::error!(error = %e, "the settings window could not be opened"),
    }
}

#[tauri::command]
pub fn admin_status(state: AppStateArc<'_>, gate: Gate<'_>) -> Value {
    let policy = policy(&state);
    let stored = admin::stored_hash(&state.paths, &policy);
    let wait = gate
        .throttle
        .lock()
        .map(|t| t.wait(Instant::now()))
        .unwrap_or_default();
    json!({
        "password_set": stored.is_some(),
        "policy_sets_password": stored.as_ref().is_some_and(|(_, p)| *p),
        "unlocked": gate.is_unlocked(),
        "retry_after_ms": wait.as_millis() as u64,
    })
}

#[tauri::command]
pub fn admin_set_password(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    password: String,
) -> Result<(), AdminError> {
    let unlocked = gate.is_unlocked();
    admin::set_password(&state.paths, &policy(&state), &password, unlocked)
        .map_err(|e| AdminError::new("invalid", capitalised(&e.to_string())))?;
    gate.set_unlocked(true);
    tracing::info!("admin password set");
    Ok(())
}

#[tauri::command]
pub async fn admin_unlock(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    password: String,
) -> Result<(), AdminError> {
    let wait = gate
        .throttle
        .lock()
        .map(|t| t.wait(Instant::now()))
        .unwrap_or_default();
    if !wait.is_zero() {
        let mut e = AdminError::new(
            "wrong-password",
            format!(
                "Too many wrong passwords. Try again in {} s.",
                wait.as_secs().max(1)
            ),
        );
        e.retry_after_ms = Some(wait.as_millis() as u64);
        return Err(e);
    }
    let Some((hash, _)) = admin::stored_hash(&state.paths, &policy(&state)) else {
        return Err(AdminError::new(
            "invalid",
            "No admin password is set yet: set one first.",
        ));
    };
    // Argon2 takes a moment on purpose; keep it off the UI thread.
    let ok = tauri::async_runtime::spawn_blocking(move || admin::verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let mut throttle = gate
        .throttle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if ok {
        throttle.succeeded();
        gate.set_unlocked(true);
        tracing::info!("admin settings unlocked");
        Ok(())
    } else {
        let wait = throttle.failed(Instant::now());
        tracing::warn!(wait_s = wait.as_secs(), "wrong admin password");
        let mut e = AdminError::new(
            "wrong-password",
            if wait.is_zero() {
                "That is not the admin password.".to_string()
            } else {
                format!(
                    "That is not the admin password. Try again in {} s.",
                    wait.as_secs()
                )
            },
        );
        e.retry_after_ms = Some(wait.as_millis() as u64);
        Err(e)
    }
}

#[tauri::command]
pub fn admin_lock(gate: Gate<'_>) {
    gate.set_unlocked(false);
}

fn key_view(state: &AppState) -> Value {
    match KeyVault::new(&OsKeychain, &state.paths).load() {
        Ok(Some((key, source))) => {
            json!({ "configured": true, "masked": key.masked(), "source": source_label(&source), "warning": source.warning() })
        }
        Ok(None) => json!({ "configured": false, "masked": null, "source": null, "warning": null }),
        Err(e) => {
            json!({ "configured": false, "masked": null, "source": null, "warning": e.to_string() })
        }
    }
}

fn source_label(source: &KeySource) -> String {
    match source {
        KeySource::Environment => {
            "from the HELPDESK_BUTTON_ATERA_API_KEY environment variable".into()
        }
        KeySource::Keychain => "in the OS keychain".into(),
        KeySource::File { .. } => "in a file readable only by this user".into(),
    }
}

#[tauri::command]
pub fn admin_get_settings(state: AppStateArc<'_>, gate: Gate<'_>) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let policy = policy(&state);
    let settings = Settings::load_with(&state.paths, &policy)
        .map_err(|e| AdminError::new("invalid", e.to_string()))?;
    let rules = helpdesk_core::rules::effective_rules(&state.paths, &policy)
        .ok()
        .flatten()
        .unwrap_or_default();
    // In relay mode the rules that run are the relay's: the window edits those.
    let relay = settings.relay.enabled().then(|| {
        json!({
            "url": settings.relay.url,
            "signed_in": gate.relay_token().is_some(),
        })
    });
    Ok(json!({
        "settings": settings,
        "locked": policy.locked,
        "api_key": key_view(&state),
        "choices": {
            "priority": values::options::<Priority>(),
            "type": values::options::<TicketType>(),
            "impact": values::options::<Impact>(),
            "auth_mode": ["auto", "api-key", "bearer"],
            "screenshot_mode": ["all-monitors", "primary-only", "off"],
            "update_channel": ["stable", "beta"],
        },
        "about": {
            "version": crate::APP_VERSION,
            "config_dir": state.paths.config_dir,
            "data_dir": state.paths.data_dir,
            "policy_file": state.paths.policy_file,
            "policy_loaded": policy.source.is_some(),
            "policy_broken": policy.broken,
        },
        "rules": {
            "text": rules,
            "relay": relay,
        },
    }))
}

#[tauri::command]
pub fn admin_validate(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    key: String,
    value: String,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let policy = policy(&state);
    refuse_if_broken(&policy)?;
    if policy.is_locked(&key) {
        return Err(AdminError::invalid_field(
            &key,
            "This setting is locked by your organisation's policy.",
        ));
    }
    let mut settings = Settings::load_with(&state.paths, &policy).unwrap_or_default();
    let notes = settings
        .set(&key, &value)
        .map_err(|e| AdminError::invalid_field(&key, capitalised(&e.to_string())))?;
    Ok(json!({ "notes": notes }))
}

#[tauri::command]
pub fn admin_save(
    app: AppHandle,
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    settings: Value,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let policy = policy(&state);
    refuse_if_broken(&policy)?;
    let current = Settings::load_with(&state.paths, &policy)
        .map_err(|e| AdminError::new("invalid", capitalised(&e.to_string())))?;
    let mut new: Settings = serde_json::from_value(settings)
        .map_err(|e| AdminError::new("invalid", format!("The settings could not be read: {e}")))?;
    // Normalise the endpoint the same way `settings set` does, with notes.
    let endpoint = new.atera.endpoint.clone();
    let notes = new
        .set("atera.endpoint", &endpoint)
        .map_err(|e| AdminError::invalid_field("atera.endpoint", capitalised(&e.to_string())))?;
    new.schema_version = helpdesk_core::settings::SCHEMA_VERSION;
    // Locked values cannot change, whatever the window sent.
    let (cur, upd) = (
        serde_json::to_value(&current).unwrap_or_default(),
        serde_json::to_value(&new).unwrap_or_default(),
    );
    for key in &policy.locked {
        let pointer = format!("/{}", key.replace('.', "/"));
        if cur.pointer(&pointer) != upd.pointer(&pointer) {
            return Err(AdminError::invalid_field(
                key,
                "This setting is locked by your organisation's policy.",
            ));
        }
    }
    new.save(&state.paths)
        .map_err(|e| AdminError::new("invalid", capitalised(&e.to_string())))?;
    let hotkey_changed = new.hotkey != current.hotkey;
    state.reload_settings();
    if hotkey_changed {
        crate::rebind_hotkey(&app, &current.hotkey, &new.hotkey);
    }
    tracing::info!("settings saved from the admin window");
    Ok(json!({ "notes": notes }))
}

#[tauri::command]
pub fn admin_set_api_key(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    key: String,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    refuse_if_broken(&policy(&state))?;
    let key = ApiKey::new(&key)
        .map_err(|e| AdminError::invalid_field("api_key", capitalised(&e.to_string())))?;
    let source = KeyVault::new(&OsKeychain, &state.paths)
        .store(&key)
        .map_err(|e| AdminError::new("internal", e.to_string()))?;
    Ok(
        json!({ "masked": key.masked(), "source": source_label(&source), "warning": source.warning() }),
    )
}

#[tauri::command]
pub async fn admin_test_connection(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    email: String,
    send: bool,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let state = state.inner().clone();
    let settings = state.reload_settings();
    if settings.relay.enabled() {
        let credentials = helpdesk_core::secrets::OsKeychainEntry::device_credential(&state.paths);
        let steps =
            helpdesk_core::check::run_relay_check(&state.paths, &settings, &credentials, |_| {})
                .await;
        return Ok(serde_json::to_value(steps).unwrap_or_default());
    }
    let client = match submit::connect(&state.paths, &settings, &OsKeychain) {
        Ok(c) => c,
        Err(e) => {
            return Ok(
                json!([{ "name": "Settings", "status": "failed", "message": e.to_string() }]),
            )
        }
    };
    let inv = tauri::async_runtime::spawn_blocking(|| {
        inventory::collect(crate::APP_VERSION, Duration::ZERO)
    })
    .await
    .map_err(|e| AdminError::new("internal", e.to_string()))?;
    let steps = run_integration_test(
        &client,
        &settings,
        &inv,
        &CheckOptions {
            test_email: email,
            send,
        },
        crate::APP_VERSION,
        |_| {},
    )
    .await;
    Ok(serde_json::to_value(steps).unwrap_or_default())
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[tauri::command]
pub async fn admin_check_rules(gate: Gate<'_>, script: String) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    Ok(match check_rules(script).await? {
        Ok(warnings) => json!({ "ok": true, "diagnostics": warnings }),
        Err(error) => json!({ "ok": false, "diagnostics": [error] }),
    })
}

/// The syntax check, in the rules evaluator (the app does not contain the interpreter).
async fn check_rules(script: String) -> Result<helpdesk_core::rules::CheckAnswer, AdminError> {
    tauri::async_runtime::spawn_blocking(move || {
        helpdesk_core::rules::check_in_child(&crate::rules_evaluator(), &script)
    })
    .await
    .map_err(|e| AdminError::new("internal", e.to_string()))?
    .map_err(|e| AdminError::new("internal", format!("The rules could not be checked: {e}")))
}

#[tauri::command]
pub async fn admin_test_rules(
    gate: Gate<'_>,
    script: String,
    input: helpdesk_core::rules::RuleInput,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        helpdesk_core::rules::evaluate(
            &crate::rules_evaluator(),
            &script,
            &input,
            &helpdesk_core::rules::RuleLimits::default(),
        )
    })
    .await
    .map_err(|e| AdminError::new("internal", e.to_string()))?
    .map_err(|e| AdminError::new("internal", format!("The rules could not run: {e}")))?;
    Ok(serde_json::to_value(outcome).unwrap_or_default())
}

#[tauri::command]
pub async fn admin_save_rules(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    script: String,
) -> Result<(), AdminError> {
    require_unlocked(&gate)?;
    if let Some(why) = policy(&state).refusal("rules") {
        return Err(AdminError::invalid_field("rules", capitalised(&why)));
    }
    if let Err(e) = check_rules(script.clone()).await? {
        return Err(AdminError::invalid_field(
            "rules",
            format!(
                "Line {}, column {}: {}. Fix it before saving.",
                e.line, e.column, e.message
            ),
        ));
    }
    let path = helpdesk_core::rules::rules_file(&state.paths);
    helpdesk_core::paths::write_atomic(&path, script.as_bytes(), Some(0o644))
        .map_err(|e| AdminError::new("internal", e.to_string()))?;
    tracing::info!(bytes = script.len(), "rules saved from the admin window");
    Ok(())
}

#[tauri::command]
pub async fn admin_sample_input(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
) -> Result<helpdesk_core::rules::RuleInput, AdminError> {
    require_unlocked(&gate)?;
    let state = state.inner().clone();
    let settings = state.settings();
    let inv = tauri::async_runtime::spawn_blocking(|| {
        inventory::collect(crate::APP_VERSION, Duration::ZERO)
    })
    .await
    .map_err(|e| AdminError::new("internal", e.to_string()))?;
    let user = helpdesk_core::profile::load(
        &state.paths,
        inv.user.full_name.as_deref(),
        &inv.user.username,
    );
    let form = helpdesk_core::form::TicketForm {
        name: user.name,
        email: if user.email.is_empty() {
            "someone@example.com".into()
        } else {
            user.email
        },
        phone: user.phone,
        subject: "Printer on the 2nd floor is jammed".into(),
        description: "Printer on the 2nd floor is jammed again! Nothing prints.".into(),
        selections: vec!["This is an emergency".into(), "Call me".into()],
        ..Default::default()
    };
    let values = helpdesk_core::ticket::TicketValues::resolve(&form, &settings);
    Ok(submit::rule_input(&form, &values, Some(&inv), None))
}

/// The Updates section: version, channel, last check and its result, how this PC installs.
#[tauri::command]
pub fn admin_update_status(app: AppHandle, gate: Gate<'_>) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let status = app.state::<crate::updates::Updates>().status();
    Ok(serde_json::to_value(status).unwrap_or_default())
}

/// *Check now*: one check (manifest, download, signature), the same as the schedule's.
#[tauri::command]
pub async fn admin_check_updates(app: AppHandle, gate: Gate<'_>) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let status = crate::updates::check(&app, helpdesk_core::update::Trigger::Manual).await;
    Ok(serde_json::to_value(status).unwrap_or_default())
}

/// *Install now*: installs the downloaded, verified update (on a Linux package this asks for an
/// administrator password) and restarts into it.
#[tauri::command]
pub async fn admin_install_update(app: AppHandle, gate: Gate<'_>) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let version = crate::updates::install_pending(&app)
        .await
        .map_err(|message| AdminError::new("update", message))?;
    crate::updates::restart(&app);
    Ok(json!({ "installed": version }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> ApiKey {
        ApiKey::new("hba1.0123456789abcdef.secret").unwrap()
    }

    #[test]
    fn the_relay_admin_token_is_forgotten_when_the_settings_lock() {
        let gate = AdminGate::default();
        gate.set_unlocked(true);
        assert!(gate.keep_relay_token(gate.session(), token()));
        assert!(gate.relay_token().is_some());
        gate.set_unlocked(false);
        assert!(gate.relay_token().is_none());
    }

    #[test]
    fn the_relay_admin_token_is_forgotten_when_the_session_times_out() {
        let gate = AdminGate::default();
        gate.set_unlocked(true);
        assert!(gate.keep_relay_token(gate.session(), token()));
        // The idle deadline passed.
        *gate.unlocked_until.lock().unwrap() = Some(Instant::now() - Duration::from_secs(1));
        assert!(!gate.is_unlocked());
        assert!(gate.relay_token().is_none());
    }

    #[test]
    fn a_sign_in_answered_after_a_lock_keeps_nothing() {
        let gate = AdminGate::default();
        gate.set_unlocked(true);
        let asked_in = gate.session();
        // The relay is slow to answer; meanwhile the window locks and is unlocked again.
        gate.set_unlocked(false);
        gate.set_unlocked(true);
        assert!(!gate.keep_relay_token(asked_in, token()));
        assert!(gate.relay_token().is_none());
        // Locked: nothing is kept either.
        gate.set_unlocked(false);
        assert!(!gate.keep_relay_token(gate.session(), token()));
    }
}
