//! The admin window's Rules section in relay mode: the rules run on the relay for every PC, so
//! the window reads, checks, tests and saves them there (the relay's admin API), with the same
//! editor and Test Rules view as the local rules.
//!
//! The admin signs in with a relay admin token (`helpdesk-relay admin create`). It is held in
//! memory only while the settings are unlocked ([`crate::admin::AdminGate`]) and never written.

use helpdesk_core::relay::admin_client::{admin_message, RelayAdmin};
use helpdesk_core::relay::protocol::{Refusal, RulesDocument};
use helpdesk_core::relay::RelayError;
use helpdesk_core::rules::{RuleInput, RuleOutcome};
use helpdesk_core::secrets::ApiKey;
use serde_json::{json, Value};

use crate::admin::{require_unlocked, AdminError, AppStateArc, Gate};

/// The relay of this PC's machine policy.
fn relay_url(state: &crate::AppState) -> Result<String, AdminError> {
    let settings = state.reload_settings();
    if settings.relay.enabled() {
        Ok(settings.relay.url)
    } else {
        Err(AdminError::new(
            "relay",
            "This PC is not in relay mode (no [settings.relay] in the machine policy): its rules run here.",
        ))
    }
}

fn relay_error(e: &RelayError) -> AdminError {
    let kind = match e {
        RelayError::Refused {
            code: Refusal::Unauthenticated | Refusal::Forbidden,
            ..
        } => "relay-signed-out",
        RelayError::Refused {
            code: Refusal::Conflict,
            ..
        } => "relay-conflict",
        _ => "relay",
    };
    AdminError::new(kind, admin_message(e))
}

/// The signed-in admin's client.
fn client(
    state: &crate::AppState,
    gate: &crate::admin::AdminGate,
) -> Result<RelayAdmin, AdminError> {
    let token = gate.relay_token().ok_or_else(|| {
        AdminError::new(
            "relay-signed-out",
            "Sign in to the relay with an admin token first.",
        )
    })?;
    RelayAdmin::new(&relay_url(state)?, &token).map_err(|e| relay_error(&e))
}

/// A failed admin request: a refused token is forgotten (the window asks for it again), and the
/// error says what happened.
fn failed(gate: &crate::admin::AdminGate, e: &RelayError) -> AdminError {
    if matches!(
        e,
        RelayError::Refused {
            code: Refusal::Unauthenticated | Refusal::Forbidden,
            ..
        }
    ) {
        gate.set_relay_token(None);
    }
    relay_error(e)
}

fn document(doc: &RulesDocument, url: &str) -> Value {
    json!({
        "script": doc.script,
        "version": doc.version,
        "editable": doc.editable,
        "source": doc.source,
        "saved_at": doc.saved_at.map(helpdesk_core::clock::rfc3339),
        "saved_by": doc.saved_by,
        "admin": doc.admin,
        "url": url,
    })
}

/// Signs in with `token`: it is kept (in memory) only when the relay takes it.
#[tauri::command]
pub async fn admin_relay_sign_in(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    token: String,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let session = gate.session();
    let url = relay_url(&state)?;
    let token = ApiKey::new(&token).map_err(|_| {
        AdminError::invalid_field(
            "relay_token",
            "Paste the admin token that `helpdesk-relay admin create` printed (it starts with hba1.).",
        )
    })?;
    let admin = RelayAdmin::new(&url, &token)
        .map_err(|e| AdminError::invalid_field("relay_token", admin_message(&e)))?;
    let doc = admin.rules().await.map_err(|e| match &e {
        RelayError::Refused {
            code: Refusal::Unauthenticated | Refusal::Forbidden,
            ..
        } => AdminError::invalid_field("relay_token", admin_message(&e)),
        _ => relay_error(&e),
    })?;
    if !gate.keep_relay_token(session, token) {
        return Err(AdminError::new(
            "locked",
            "The settings locked while the relay answered. Enter the admin password, then sign in again.",
        ));
    }
    tracing::info!(relay = url, "signed in to the relay's admin API");
    Ok(document(&doc, &url))
}

#[tauri::command]
pub fn admin_relay_sign_out(gate: Gate<'_>) -> Result<(), AdminError> {
    require_unlocked(&gate)?;
    gate.set_relay_token(None);
    Ok(())
}

/// The relay's rules, their version and who saved them.
#[tauri::command]
pub async fn admin_relay_rules(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let url = relay_url(&state)?;
    let doc = client(&state, &gate)?
        .rules()
        .await
        .map_err(|e| failed(&gate, &e))?;
    Ok(document(&doc, &url))
}

/// The relay's syntax check, in the shape of the local one (`admin_check_rules`).
#[tauri::command]
pub async fn admin_relay_check_rules(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    script: String,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let check = client(&state, &gate)?
        .check(&script)
        .await
        .map_err(|e| failed(&gate, &e))?;
    Ok(json!({ "ok": check.ok, "diagnostics": check.diagnostics }))
}

/// Test Rules on the relay: the same answer as the local `admin_test_rules`.
#[tauri::command]
pub async fn admin_relay_test_rules(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    script: String,
    input: RuleInput,
) -> Result<RuleOutcome, AdminError> {
    require_unlocked(&gate)?;
    client(&state, &gate)?
        .test(&script, &input)
        .await
        .map_err(|e| failed(&gate, &e))
}

/// Saves on the relay on top of `version`; a script that cannot run is refused there, as here.
#[tauri::command]
pub async fn admin_relay_save_rules(
    state: AppStateArc<'_>,
    gate: Gate<'_>,
    script: String,
    version: i64,
) -> Result<Value, AdminError> {
    require_unlocked(&gate)?;
    let url = relay_url(&state)?;
    let doc = client(&state, &gate)?
        .save(&script, version)
        .await
        .map_err(|e| match &e {
            RelayError::Refused {
                code: Refusal::Invalid,
                ..
            } => AdminError::invalid_field("rules", admin_message(&e)),
            _ => failed(&gate, &e),
        })?;
    tracing::info!(
        version = doc.version,
        "rules saved on the relay from the admin window"
    );
    Ok(document(&doc, &url))
}
