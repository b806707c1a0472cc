//! The outbox's delivery worker: delivers due entries one at a time, on start, on schedule,
//! when a new entry arrives and when the network comes back; keeps the tray's pending count
//! current; and tells the user when a saved ticket has been filed.

use std::time::Duration;

use std::sync::atomic::Ordering;

use helpdesk_core::outbox::worker::{Probe, ProbeFuture, TcpProbe, Worker};
use helpdesk_core::outbox::DeliveryResult;
use helpdesk_core::secrets::OsKeychain;
use helpdesk_core::submit::{self, RetryPolicy};
use tauri::AppHandle;

/// How old the relay's cached form settings may get before they are fetched again.
const PUSHED_SETTINGS_MAX_AGE: Duration = Duration::from_secs(15 * 60);

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
        // A relay PC follows its tickets on the relay (which polls Atera once for the fleet).
        let mut relay_seen: Option<(u64, Vec<helpdesk_core::relay::protocol::TicketStatus>)> = None;
        loop {
            let settings = state.settings();
            if settings.relay.enabled() {
                relay_seen = follow_relay(&app, &state, relay_seen).await;
                continue;
            }
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

/// One long poll of the relay's events for this PC; on a change, the new list, and a
/// notification per new status or reply. Returns what was seen; waits a minute after a failure.
async fn follow_relay(
    app: &AppHandle,
    state: &crate::AppState,
    seen: Option<(u64, Vec<helpdesk_core::relay::protocol::TicketStatus>)>,
) -> Option<(u64, Vec<helpdesk_core::relay::protocol::TicketStatus>)> {
    let credentials = helpdesk_core::secrets::OsKeychainEntry::device_credential(&state.paths);
    let settings = state.settings();
    let relay =
        match helpdesk_core::relay::device::connect(&state.paths, &settings, &credentials).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "not enrolled with the relay yet");
                tokio::time::sleep(Duration::from_secs(60)).await;
                return seen;
            }
        };
    let after = seen.as_ref().map_or(u64::MAX, |(seq, _)| *seq);
    let events = match relay.events(after, Duration::from_secs(30)).await {
        Ok(e) => e,
        Err(e) => {
            tracing::info!(error = %e, "the relay's events failed; trying again in a minute");
            tokio::time::sleep(Duration::from_secs(60)).await;
            return seen;
        }
    };
    if !events.changed {
        return seen;
    }
    match relay.tickets().await {
        Ok(list) => {
            if let Some((_, before)) = &seen {
                let changes = helpdesk_core::relay::device::changes(before, &list.tickets);
                crate::tickets::notify_changes(app, &changes);
            }
            let _ =
                tauri::Emitter::emit_to(app, crate::tickets::TICKETS_WINDOW, "tickets-changed", ());
            Some((events.seq, list.tickets))
        }
        Err(e) => {
            tracing::info!(error = %e, "the relay's list failed; trying again in a minute");
            tokio::time::sleep(Duration::from_secs(60)).await;
            seen
        }
    }
}

/// Starts the worker on the app's async runtime. The schedule itself is the core's
/// ([`helpdesk_core::outbox::worker`]): this loop sleeps for the wait each cycle returns (on the
/// monotonic clock), or until a new ticket is saved.
pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = crate::app_state(&app);
        let Some(outbox) = state.outbox.clone() else {
            return;
        };
        let worker = Worker::new(&outbox);
        loop {
            let settings = state.reload_settings();
            let rules = crate::rules_config(&state.paths);
            let target = crate::target(&state.paths, &settings)
                .await
                .inspect_err(|e| tracing::debug!(error = %e, "not connected; saved tickets wait"))
                .ok();
            // A relay PC's form follows the relay's settings (cached, so they hold offline too).
            if let Some(helpdesk_core::submit::Target::Relay(relay)) = &target {
                if let Err(e) = helpdesk_core::relay::device::refresh_pushed_settings(
                    &state.paths,
                    relay,
                    PUSHED_SETTINGS_MAX_AGE,
                )
                .await
                {
                    tracing::info!(error = %e, "the relay's form settings could not be fetched; keeping the cached ones");
                }
            }
            let delivery = target.as_ref().map(|t| {
                t.delivery(
                    &settings,
                    rules.as_ref(),
                    crate::APP_VERSION,
                    RetryPolicy::default(),
                )
            });
            let probe = settings.delivery_url().and_then(|u| TcpProbe::for_url(&u));
            let probe: &dyn Probe = match &probe {
                Some(p) => p,
                None => &Unreachable,
            };
            // Counted so an update never restarts the app in the middle of a delivery.
            state.sending.fetch_add(1, Ordering::SeqCst);
            let cycle = worker.cycle(delivery.as_ref(), probe).await;
            state.sending.fetch_sub(1, Ordering::SeqCst);
            crate::idle::poke(&app);
            for result in &cycle.results {
                match result {
                    DeliveryResult::Sent { outcome, .. } if outcome.held_by_relay => {
                        crate::tickets::show_notification(
                            &app,
                            "Your ticket was sent",
                            "Your IT provider's helpdesk has your ticket. They will get back to you.",
                            None,
                        )
                    }
                    DeliveryResult::Sent { outcome, .. } => {
                        notify_sent(&app, outcome.ticket_id, &outcome.ticket_number)
                    }
                    DeliveryResult::Blocked { reason, .. } => crate::tickets::show_notification(
                        &app,
                        "Your ticket was not sent",
                        &format!("{reason} Open My tickets to see it."),
                        None,
                    ),
                    _ => {}
                }
            }
            refresh_pending(&app);
            tokio::select! {
                () = tokio::time::sleep(cycle.wait) => {}
                () = state.deliveries.notified() => {}
            }
        }
    });
}

/// The probe when no endpoint is set: nothing can be reached.
struct Unreachable;

impl Probe for Unreachable {
    fn reachable(&self) -> ProbeFuture<'_> {
        Box::pin(async { false })
    }
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
