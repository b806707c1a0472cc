//! The "My tickets" window: the tickets filed from this PC with their status and the
//! technicians' replies, the thread of one, and a reply box. Also the notifications that replace
//! the webhooks Atera does not send to clients.

use helpdesk_core::secrets::OsKeychain;
use helpdesk_core::submit;
use helpdesk_core::tracking::{ChangeKind, TicketChange};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter, Manager, State, WebviewUrl, WebviewWindowBuilder};

use crate::AppState;

/// The window's label.
pub const TICKETS_WINDOW: &str = "tickets";

type AppStateArc<'a> = State<'a, std::sync::Arc<AppState>>;

/// An error as the window sees it.
#[derive(Debug, Serialize)]
pub struct TicketsError {
    kind: &'static str,
    message: String,
}

impl TicketsError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<helpdesk_core::tracking::TrackingError> for TicketsError {
    fn from(e: helpdesk_core::tracking::TrackingError) -> Self {
        use helpdesk_core::tracking::TrackingError;
        match &e {
            TrackingError::EmptyReply => Self::new("invalid", "Write a reply first."),
            TrackingError::Atera(a) => Self::new(
                if a.is_retryable() { "network" } else { "atera" },
                a.user_message(),
            ),
            _ => Self::new("internal", e.to_string()),
        }
    }
}

fn outbox(state: &AppState) -> Result<std::sync::Arc<helpdesk_core::outbox::Outbox>, TicketsError> {
    state.outbox.clone().ok_or_else(|| {
        TicketsError::new("internal", "The ticket store on this PC cannot be opened.")
    })
}

fn client(state: &AppState) -> Result<helpdesk_core::atera::AteraClient, TicketsError> {
    submit::connect(&state.paths, &state.settings(), &OsKeychain)
        .map_err(|e| TicketsError::new("atera", e.user_message()))
}

fn relay_error(e: &helpdesk_core::relay::RelayError) -> TicketsError {
    TicketsError::new(
        if e.is_retryable() { "network" } else { "atera" },
        e.user_message(),
    )
}

/// On a relay PC, its relay client (the PC reads its tickets there, never from Atera).
async fn relay_client(
    state: &AppState,
) -> Option<Result<helpdesk_core::relay::RelayClient, TicketsError>> {
    let settings = state.settings();
    if !settings.relay.enabled() {
        return None;
    }
    Some(
        helpdesk_core::relay::device::connect(
            &state.paths,
            &settings,
            &helpdesk_core::secrets::OsKeychainEntry::device_credential(&state.paths),
        )
        .await
        .map_err(|e| relay_error(&e)),
    )
}

/// The reference of one of this PC's tickets on the relay, by its Atera id, with the relay's
/// list it was found in.
async fn relay_reference(
    relay: &helpdesk_core::relay::RelayClient,
    ticket_id: i64,
) -> Result<(String, Vec<helpdesk_core::relay::protocol::TicketStatus>), TicketsError> {
    let known = relay.tickets().await.map_err(|e| relay_error(&e))?.tickets;
    let reference = known
        .iter()
        .find(|t| t.ticket_id == Some(ticket_id))
        .map(|t| t.reference.clone())
        .ok_or_else(|| TicketsError::new("atera", "This ticket is not one of this PC's."))?;
    Ok((reference, known))
}

/// Opens (or focuses) the window, optionally on one ticket.
pub fn open_window(app: &AppHandle, ticket_id: Option<i64>) {
    if let Some(w) = app.get_webview_window(TICKETS_WINDOW) {
        let _ = w.show();
        let _ = w.set_focus();
    } else if let Err(e) =
        WebviewWindowBuilder::new(app, TICKETS_WINDOW, WebviewUrl::App("tickets.html".into()))
            .title("My tickets")
            .inner_size(760.0, 640.0)
            .min_inner_size(480.0, 420.0)
            .center()
            .focused(true)
            .build()
    {
        tracing::error!(error = %e, "the My tickets window could not be opened");
        return;
    }
    if let Some(id) = ticket_id {
        // The page asks for the list when it loads; the event opens the thread once it listens.
        let _ = app.emit_to(TICKETS_WINDOW, "open-ticket", json!({ "ticket_id": id }));
        if let Ok(mut pending) = crate::app_state(app).open_ticket.lock() {
            *pending = Some(id);
        }
    }
}

#[tauri::command]
pub async fn my_tickets_list(state: AppStateArc<'_>) -> Result<Value, TicketsError> {
    let state = state.inner().clone();
    let settings = state.settings();
    let outbox = outbox(&state)?;
    let tickets = match relay_client(&state).await {
        // A relay PC: its outbox with what the relay knows (numbers, status, replies); offline,
        // the outbox alone.
        Some(Ok(relay)) => {
            let known = relay.tickets().await.map(|l| l.tickets).unwrap_or_default();
            helpdesk_core::relay::device::my_tickets(&outbox, &known)
        }
        _ => outbox.my_tickets(),
    }
    .map_err(|e| TicketsError::new("internal", e.to_string()))?;
    let open_ticket = state.open_ticket.lock().ok().and_then(|mut p| p.take());
    Ok(json!({
        "company_name": settings.branding.company_name,
        "accent_color": settings.branding.accent_color,
        "tickets": tickets,
        "open_ticket": open_ticket,
    }))
}

#[tauri::command]
pub async fn my_tickets_thread(
    app: AppHandle,
    state: AppStateArc<'_>,
    ticket_id: i64,
) -> Result<Value, TicketsError> {
    let state = state.inner().clone();
    let outbox = outbox(&state)?;
    let (comments, ticket) = match relay_client(&state).await {
        Some(relay) => {
            let relay = relay?;
            let (reference, known) = relay_reference(&relay, ticket_id).await?;
            let comments = relay
                .thread(&reference)
                .await
                .map_err(|e| relay_error(&e))?;
            let ticket = helpdesk_core::relay::device::my_tickets(&outbox, &known)
                .ok()
                .and_then(|all| all.into_iter().find(|t| t.reference == reference));
            (comments, ticket)
        }
        None => {
            let comments = outbox.thread(&client(&state)?, ticket_id).await?;
            let ticket = outbox
                .my_tickets()
                .ok()
                .and_then(|all| all.into_iter().find(|t| t.ticket_id == Some(ticket_id)));
            (comments, ticket)
        }
    };
    crate::worker::refresh_pending(&app);
    Ok(json!({
        "ticket_id": ticket_id,
        "ticket_number": ticket.as_ref().and_then(|t| t.ticket_number.clone()),
        "subject": ticket.as_ref().map(|t| t.subject.clone()),
        "status": ticket.and_then(|t| t.status),
        "comments": comments,
    }))
}

#[tauri::command]
pub async fn my_tickets_reply(
    state: AppStateArc<'_>,
    ticket_id: i64,
    text: String,
) -> Result<Value, TicketsError> {
    let state = state.inner().clone();
    match relay_client(&state).await {
        Some(relay) => {
            let relay = relay?;
            if text.trim().is_empty() {
                return Err(TicketsError::new("invalid", "Write a reply first."));
            }
            let (reference, _) = relay_reference(&relay, ticket_id).await?;
            relay
                .reply(&reference, text.trim())
                .await
                .map_err(|e| relay_error(&e))?;
        }
        None => {
            outbox(&state)?
                .reply(&client(&state)?, ticket_id, &text)
                .await?
        }
    }
    Ok(json!({ "ok": true }))
}

#[tauri::command]
pub fn my_tickets_retry(state: AppStateArc<'_>, reference: String) -> Result<(), TicketsError> {
    outbox(&state)?
        .retry(Some(&reference))
        .map_err(|e| TicketsError::new("internal", e.to_string()))?;
    state.deliveries.notify_one();
    Ok(())
}

#[tauri::command]
pub fn my_tickets_refresh(state: AppStateArc<'_>) {
    state.poll_now.notify_one();
    state.deliveries.notify_one();
}

/// Tells the user what changed, one notification per change; clicking one opens the ticket.
pub fn notify_changes(app: &AppHandle, changes: &[TicketChange]) {
    for change in changes {
        let (title, body) = match &change.kind {
            ChangeKind::Status { to, .. } => (
                format!("Ticket #{} is now {to}", change.ticket_number),
                change.subject.clone(),
            ),
            ChangeKind::Reply { by, text } => (
                format!("{by} replied to ticket #{}", change.ticket_number),
                excerpt(text),
            ),
        };
        show_notification(app, &title, &body, Some(change.ticket_id));
    }
    if !changes.is_empty() {
        let _ = app.emit_to(TICKETS_WINDOW, "tickets-changed", ());
    }
}

fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 140 {
        format!("{}…", flat.chars().take(140).collect::<String>())
    } else {
        flat
    }
}

/// A desktop notification; clicking it opens the ticket. On Linux the notification daemon
/// reports the click over D-Bus; on Windows the toast's activation does, for the app's
/// AppUserModelID (`identifier`, which the installer registers under that name). Elsewhere, or
/// when neither works, the plugin shows it without click handling.
pub fn show_notification(app: &AppHandle, title: &str, body: &str, ticket_id: Option<i64>) {
    #[cfg(target_os = "linux")]
    {
        let shown = notify_rust::Notification::new()
            .appname("Helpdesk Button")
            .summary(title)
            .body(body)
            .action("default", "Open")
            .show();
        match shown {
            Ok(handle) => {
                let app = app.clone();
                std::thread::spawn(move || {
                    handle.wait_for_action(|action| {
                        if action == "default" {
                            let inner = app.clone();
                            let _ = app.run_on_main_thread(move || open_window(&inner, ticket_id));
                        }
                    });
                });
                return;
            }
            Err(e) => tracing::debug!(error = %e, "no notification daemon; trying the plugin"),
        }
    }
    #[cfg(windows)]
    {
        use notify_rust::NotificationResponse;
        let shown = notify_rust::Notification::new()
            .summary(title)
            .body(body)
            .app_id(&app.config().identifier)
            .show();
        match shown {
            Ok(handle) => {
                let app = app.clone();
                std::thread::spawn(move || {
                    // Ends when the toast is clicked, dismissed or times out.
                    let _ = handle.wait_for_response(|response: &NotificationResponse| {
                        if matches!(
                            response,
                            NotificationResponse::Default | NotificationResponse::Action(_)
                        ) {
                            let inner = app.clone();
                            let _ = app.run_on_main_thread(move || open_window(&inner, ticket_id));
                        }
                    });
                });
                return;
            }
            Err(e) => tracing::debug!(error = %e, "no toast; trying the plugin"),
        }
    }
    use tauri_plugin_notification::NotificationExt;
    let _ = ticket_id;
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "could not show a notification");
    }
}
