//! The outbox's delivery worker: delivers due entries one at a time, on start, on schedule,
//! when a new entry arrives and when the network comes back; keeps the tray's pending count
//! current; and tells the user when a saved ticket has been filed.

use std::time::Duration;

use helpdesk_core::outbox::DeliveryResult;
use helpdesk_core::secrets::OsKeychain;
use helpdesk_core::submit::{self, RetryPolicy};
use tauri::AppHandle;

/// The longest the worker sleeps while entries wait, so entries saved by the CLI or while the
/// network was down are picked up.
const MAX_IDLE: Duration = Duration::from_secs(300);
/// How often the network is probed while entries wait for it.
const PROBE_EVERY: Duration = Duration::from_secs(30);

/// How often the tickets' status is checked, before jitter.
const POLL_EVERY: Duration = Duration::from_secs(600);

/// Starts the poller of "My tickets" on the app's async runtime: a polite cycle every
/// 10 minutes (±20 % jitter, so a fleet does not poll in step), or at once when asked.
pub fn spawn_poller(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = crate::app_state(&app);
        let Some(outbox) = state.outbox.clone() else {
            return;
        };
        loop {
            let settings = state.settings();
            if let Ok(client) = submit::connect(&state.paths, &settings, &OsKeychain) {
                match outbox.poll_tickets(&client).await {
                    Ok(changes) => crate::tickets::notify_changes(&app, &changes),
                    Err(e) => {
                        tracing::info!(error = %e, "checking the tickets' status failed; next cycle")
                    }
                }
            }
            let jitter = 0.8
                + 0.4
                    * (std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or(0) as f64
                        / 1e9);
            tokio::select! {
                () = tokio::time::sleep(POLL_EVERY.mul_f64(jitter)) => {}
                () = state.poll_now.notified() => {}
            }
            let _ = tauri::Emitter::emit_to(
                &app,
                crate::tickets::TICKETS_WINDOW,
                "tickets-changed",
                (),
            );
        }
    });
}

/// Starts the worker on the app's async runtime.
pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = crate::app_state(&app);
        let Some(outbox) = state.outbox.clone() else {
            return;
        };
        loop {
            let settings = state.reload_settings();
            let mut waiting_for_network = false;
            match submit::connect(&state.paths, &settings, &OsKeychain) {
                Ok(client) => {
                    // Counted so an update never restarts the app in the middle of a delivery.
                    state
                        .sending
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let delivered = outbox
                        .deliver_due(
                            &client,
                            &settings,
                            crate::APP_VERSION,
                            &RetryPolicy::default(),
                            false,
                        )
                        .await;
                    state
                        .sending
                        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    crate::idle::poke(&app);
                    match delivered {
                        Ok(results) => {
                            for result in &results {
                                match result {
                                    DeliveryResult::Sent { outcome, .. } => {
                                        notify_sent(&app, outcome.ticket_id, &outcome.ticket_number)
                                    }
                                    DeliveryResult::Retrying { error, .. } => {
                                        waiting_for_network |= matches!(error, submit::SubmitError::Atera(e) if e.is_retryable());
                                    }
                                    DeliveryResult::Failed { .. } => {}
                                }
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "the outbox could not be read"),
                    }
                }
                Err(e) => tracing::debug!(error = %e, "not configured; saved tickets wait"),
            }
            refresh_pending(&app);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let wait = match outbox.next_due_at() {
                Ok(Some(due)) => {
                    Duration::from_secs(due.saturating_sub(now).max(1) as u64).min(MAX_IDLE)
                }
                _ => MAX_IDLE,
            };
            let wait = if waiting_for_network {
                wait.min(PROBE_EVERY)
            } else {
                wait
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    // While the network is down, a cheap connection probe decides whether the
                    // saved tickets are due now rather than at their backoff time.
                    if waiting_for_network && network_is_back(&settings).await {
                        tracing::info!("the network is back; sending saved tickets");
                        let _ = outbox.retry(None);
                    }
                }
                () = state.deliveries.notified() => {}
            }
        }
    });
}

async fn network_is_back(settings: &helpdesk_core::settings::Settings) -> bool {
    let Ok(endpoint) = settings.endpoint() else {
        return false;
    };
    let url = endpoint.base_url();
    let (Some(host), Some(port)) = (
        url.host_str().map(str::to_string),
        url.port_or_known_default(),
    ) else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect((host.as_str(), port))
        )
        .await,
        Ok(Ok(_))
    )
}

fn notify_sent(app: &AppHandle, ticket_id: i64, ticket_number: &str) {
    crate::tickets::show_notification(
        app,
        "Your ticket was sent",
        &format!("Ticket #{ticket_number} reached your IT support. They will get back to you."),
        Some(ticket_id),
    );
}

/// Updates the tray's count of tickets waiting to be sent.
pub fn refresh_pending(app: &AppHandle) {
    let state = crate::app_state(app);
    let count = state
        .outbox
        .as_ref()
        .and_then(|o| o.unsent_count().ok())
        .unwrap_or(0);
    crate::tray::show_pending(app, count);
}
