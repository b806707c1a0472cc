//! The form window's commands. Each is a short adapter: unpack, call the core, map the error to
//! `{ kind, message, fields }` so the form can tell "fix this field" from "it failed".

use std::collections::BTreeMap;

use base64::Engine as _;
use helpdesk_core::draft::{self, Draft};
use helpdesk_core::form::TicketForm;
use helpdesk_core::inventory::Inventory;
use helpdesk_core::outbox::{self, Submitted};
use helpdesk_core::profile::{self, RequesterProfile};
use helpdesk_core::submit::{self, Submission, SubmitError};
use helpdesk_core::values::{self, Impact, Priority, TicketType};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Manager, State};

use crate::session::FORM_WINDOW;
use crate::AppState;

type AppStateArc<'a> = State<'a, std::sync::Arc<AppState>>;

/// Every command. Which window may call which is decided by the capabilities: the form window
/// gets the form's commands (`permissions/form.toml`), the admin window the admin ones
/// (`permissions/admin.toml`), and admin commands also refuse to work while locked.
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    use crate::admin::*;
    use crate::admin_relay::*;
    use crate::tickets::*;
    tauri::generate_handler![
        get_form_state,
        get_screenshot,
        save_draft,
        submit_ticket,
        close_form,
        form_painted,
        admin_status,
        admin_set_password,
        admin_unlock,
        admin_lock,
        admin_get_settings,
        admin_validate,
        admin_save,
        admin_set_api_key,
        admin_test_connection,
        admin_check_rules,
        admin_test_rules,
        admin_save_rules,
        admin_sample_input,
        admin_relay_sign_in,
        admin_relay_sign_out,
        admin_relay_rules,
        admin_relay_check_rules,
        admin_relay_test_rules,
        admin_relay_save_rules,
        admin_update_status,
        admin_check_updates,
        admin_install_update,
        my_tickets_list,
        my_tickets_thread,
        my_tickets_reply,
        my_tickets_retry,
        my_tickets_refresh,
    ]
}

/// An error as the UI sees it.
#[derive(Debug, Serialize)]
pub struct CommandError {
    kind: &'static str,
    message: String,
    /// What an admin can act on.
    detail: Option<String>,
    fields: Option<BTreeMap<String, String>>,
}

impl CommandError {
    fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: "internal",
            message: message.into(),
            detail: None,
            fields: None,
        }
    }
}

impl From<SubmitError> for CommandError {
    fn from(e: SubmitError) -> Self {
        Self {
            kind: e.kind(),
            message: e.user_message(),
            detail: Some(e.to_string()),
            fields: e.fields().map(|f| f.0.clone()),
        }
    }
}

fn data_url(jpeg: &[u8]) -> String {
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    )
}

/// The inventory as the form's disclosure shows it.
pub fn inventory_view(inv: &Inventory) -> Value {
    json!({ "sections": inv.display_sections() })
}

#[tauri::command]
async fn get_form_state(state: AppStateArc<'_>) -> Result<Value, CommandError> {
    if let Some(s) = state.session().as_ref() {
        tracing::debug!(
            session = s.id,
            ms = s.triggered_at.elapsed().as_millis() as u64,
            captured = s.captured,
            "the form's page asks for its state"
        );
    }
    // The page loads while the screens are captured (session::trigger): wait for the capture.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let done = state.capture_done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if state.session().as_ref().is_none_or(|s| s.captured) {
            break;
        }
        if tokio::time::timeout_at(deadline, done).await.is_err() {
            break;
        }
    }
    let guard = state.session();
    let session = guard.as_ref().ok_or_else(|| {
        CommandError::internal("The form has no capture session. Press the button again.")
    })?;
    let s = &session.settings;
    let os_user = whoami::username().unwrap_or_default();
    let os_name = whoami::realname().ok();
    let prefill: RequesterProfile = profile::load(&state.paths, os_name.as_deref(), &os_user);
    let draft = draft::load(&state.paths)
        .ok()
        .flatten()
        .filter(Draft::has_content);
    let screenshots: Vec<Value> = session
        .capture
        .screenshots
        .iter()
        .map(|shot| {
            json!({
                "id": shot.id,
                "monitor": shot.monitor.name,
                "width": shot.monitor.width,
                "height": shot.monitor.height,
                "primary": shot.monitor.is_primary,
                "thumbnail": data_url(&shot.thumbnail),
            })
        })
        .collect();
    Ok(json!({
        "session_id": session.id,
        "company_name": s.branding.company_name,
        "accent_color": s.branding.accent_color,
        "logo_data_url": Some(&s.branding.logo_data_url).filter(|l| !l.is_empty()),
        "support": {
            "phone": Some(&s.support.phone).filter(|v| !v.is_empty()),
            "email": Some(&s.support.email).filter(|v| !v.is_empty()),
            "url": Some(&s.support.url).filter(|v| !v.is_empty()),
        },
        "allow_exclude": s.screenshots.allow_exclude,
        "prefill": prefill,
        "draft": draft,
        "checkboxes": s.form.checkboxes,
        "radio_groups": s.form.radio_groups,
        "choices": {
            "priority": values::options::<Priority>(),
            "type": values::options::<TicketType>(),
            "impact": values::options::<Impact>(),
        },
        "defaults": {
            "priority": s.atera.defaults.priority,
            "type": s.atera.defaults.ticket_type,
            "impact": s.atera.defaults.impact,
        },
        "required": { "name": true, "email": true, "phone": s.form.require_phone, "description": true },
        "screenshots": screenshots,
        "capture_error": session.capture_error,
        "inventory": session.inventory.as_ref().map(inventory_view),
    }))
}

#[tauri::command]
fn get_screenshot(state: AppStateArc<'_>, id: u32) -> Result<String, CommandError> {
    let guard = state.session();
    guard
        .as_ref()
        .and_then(|s| s.capture.screenshots.iter().find(|shot| shot.id == id))
        .map(|shot| data_url(&shot.jpeg))
        .ok_or_else(|| CommandError::internal(format!("There is no screenshot {id}.")))
}

#[tauri::command]
fn save_draft(state: AppStateArc<'_>, draft: Draft) -> Result<(), CommandError> {
    draft::save(&state.paths, &draft)
        .map_err(|e| CommandError::internal(format!("Your draft could not be saved: {e}")))
}

#[tauri::command]
async fn submit_ticket(
    app: AppHandle,
    state: AppStateArc<'_>,
    form: TicketForm,
) -> Result<Value, CommandError> {
    let state = state.inner().clone();
    let (settings, screenshots, inventory) = {
        let guard = state.session();
        let session = guard.as_ref().ok_or_else(|| {
            CommandError::internal("The form has no capture session. Press the button again.")
        })?;
        (
            session.settings.clone(),
            session.capture.screenshots.clone(),
            session.inventory.clone(),
        )
    };
    let target = crate::target(&state.paths, &settings).await;
    let rules = crate::rules_config(&state.paths);
    let submission = Submission {
        form: form.clone(),
        reference: submit::new_reference(),
        screenshots: &screenshots,
        inventory: inventory.as_ref(),
    };
    let delivery = target.as_ref().map(|t| {
        t.delivery(
            &settings,
            rules.as_ref(),
            crate::APP_VERSION,
            outbox::INTERACTIVE_POLICY,
        )
    });
    // Without a durable outbox (its file cannot be opened) the same pipeline runs in memory:
    // the ticket can still be filed now, but it cannot wait on this PC.
    let durable = state.outbox.is_some();
    let outbox = match state.outbox.clone() {
        Some(o) => o,
        None => std::sync::Arc::new(outbox::Outbox::in_memory().map_err(|e| {
            CommandError::internal(format!(
                "Your ticket could not be sent or saved ({e}). Please call your IT support."
            ))
        })?),
    };
    state
        .sending
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let result = outbox::submit(
        &outbox,
        &settings,
        submission,
        delivery.as_ref().map_err(|e| *e),
    )
    .await;
    state
        .sending
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let result = result?;
    if let (false, Submitted::Queued { reason, .. }) = (durable, &result) {
        return Err(CommandError::internal(format!(
            "{reason} Your ticket could not be saved on this PC either (its outbox cannot be opened), so please keep this window open and try again, or call your IT support."
        )));
    }
    draft::clear(&state.paths);
    let requester = RequesterProfile {
        name: form.name.trim().into(),
        email: form.email.trim().into(),
        phone: form.phone.trim().into(),
    };
    if let Err(e) = profile::save(&state.paths, &requester) {
        tracing::warn!(error = %e, "could not remember the requester");
    }
    crate::worker::refresh_pending(&app);
    Ok(match result {
        Submitted::Sent(outcome) if outcome.held_by_relay => json!({
            "outcome": "sent",
            "ticket_number": null,
            "reference": outcome.reference,
            "message": format!("Your IT provider's helpdesk has your ticket (reference {}) and is filing it. A technician will get back to you. You can close this window.", outcome.reference),
        }),
        Submitted::Sent(outcome) => json!({
            "outcome": "sent",
            "ticket_id": outcome.ticket_id,
            "ticket_number": outcome.ticket_number,
            "reference": outcome.reference,
            "message": "A technician will get back to you. You can close this window.",
        }),
        Submitted::Queued {
            reference,
            reason,
            waits_for_admin,
            confirming,
            ..
        } => {
            state.deliveries.notify_one();
            let message = if confirming {
                "Saved — confirming with Atera. The ticket went out but the answer was lost; this PC checks that it arrived (and sends it again only if it did not). You'll get a notification with its number.".to_string()
            } else if waits_for_admin {
                format!("{reason} Your ticket is saved on this PC and will be sent as soon as the connection is fixed.")
            } else {
                format!("{reason} Your ticket is saved on this PC and will be sent automatically; you'll get a notification with its number.")
            };
            json!({ "outcome": "queued", "reference": reference, "message": message })
        }
    })
}

#[tauri::command]
fn close_form(app: AppHandle) {
    if let Some(window) = app.get_webview_window(FORM_WINDOW) {
        let _ = window.destroy();
    }
}

#[tauri::command]
fn form_painted(state: AppStateArc<'_>, session_id: u64) {
    if let Some(session) = state.session().as_ref().filter(|s| s.id == session_id) {
        let ms = session.triggered_at.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            session = session_id,
            ms = format!("{ms:.0}"),
            "form visible (trigger to first paint)"
        );
    }
}
