//! This PC as a relay device: it enrolls once with the policy's token and keeps the credential it
//! gets in the OS keychain (a user-only sealed file where there is none). The token is not needed
//! again, and the PC never holds the Atera key.

use crate::paths::AppPaths;
use crate::secrets::{ApiKey, KeyVault, Keychain};
use crate::settings::Settings;

use super::protocol::{EnrollRequest, Refusal};
use super::{RelayClient, RelayError};

/// One enrollment at a time in this process (the worker and the form may both need one).
static ENROLLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The relay client of this PC, authenticated as its device; enrolls first when the PC has no
/// credential yet. `credentials` is where the credential lives
/// ([`crate::secrets::OsKeychainEntry::device_credential`] in the app).
///
/// # Errors
/// [`RelayError::NotEnrolled`] without a credential or token; the relay's refusal of the token;
/// any failure to reach it.
pub async fn connect(
    paths: &AppPaths,
    settings: &Settings,
    credentials: &dyn Keychain,
) -> Result<RelayClient, RelayError> {
    let url = settings.relay.url.trim();
    let vault = KeyVault::device_credential(credentials, paths);
    let stored = |vault: &KeyVault<'_>| {
        vault
            .load()
            .map_err(|e| {
                RelayError::NotEnrolled(format!("the stored credential cannot be read ({e})"))
            })
            .map(|found| found.map(|(key, _)| key))
    };
    if let Some(credential) = stored(&vault)? {
        return RelayClient::new(url, Some(&credential));
    }
    let _one = ENROLLING.lock().await;
    // Enrolled by another caller while this one waited.
    if let Some(credential) = stored(&vault)? {
        return RelayClient::new(url, Some(&credential));
    }
    let token = settings.relay.enrollment_token.trim();
    if token.is_empty() {
        return Err(RelayError::NotEnrolled(
            "the machine policy names a relay but no enrollment_token; add one from `helpdesk-relay enroll create`".into(),
        ));
    }
    let anonymous = RelayClient::new(url, None)?;
    let (hostname, mac) = tokio::task::spawn_blocking(crate::inventory::machine_identity)
        .await
        .unwrap_or_else(|_| ("unknown".into(), None));
    let enrolled = anonymous
        .enroll(&EnrollRequest {
            token: token.to_string(),
            hostname,
            mac,
            app_version: env!("CARGO_PKG_VERSION").into(),
        })
        .await?;
    let credential = ApiKey::new(&enrolled.credential)
        .map_err(|_| RelayError::Unreadable("the relay sent an unusable credential".into()))?;
    vault.store(&credential).map_err(|e| {
        RelayError::NotEnrolled(format!(
            "the credential could not be stored on this PC ({e})"
        ))
    })?;
    tracing::info!(
        device = enrolled.identity.device_id,
        customer = enrolled.identity.customer_id,
        "enrolled with the relay"
    );
    RelayClient::new(url, Some(&credential))
}

/// The relay's pushed form settings, cached on this PC (they apply offline too).
pub fn pushed_settings_file(paths: &AppPaths) -> std::path::PathBuf {
    paths.config_dir.join("relay-settings.json")
}

/// Fetches the form settings the relay pushes and caches them, when the cache is older than
/// `max_age` (or missing). Returns whether they were fetched.
///
/// # Errors
/// A [`RelayError`], or a cache that cannot be written.
pub async fn refresh_pushed_settings(
    paths: &AppPaths,
    client: &RelayClient,
    max_age: std::time::Duration,
) -> Result<bool, RelayError> {
    let file = pushed_settings_file(paths);
    let fresh = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < max_age);
    if fresh {
        return Ok(false);
    }
    let pushed = client.settings().await?;
    let json =
        serde_json::to_vec_pretty(&pushed).map_err(|e| RelayError::Unreadable(e.to_string()))?;
    crate::paths::write_atomic(&file, &json, Some(0o644)).map_err(|e| {
        RelayError::NotEnrolled(format!("the relay's settings could not be cached ({e})"))
    })?;
    Ok(true)
}

/// Forgets this PC's credential (after the relay refused it for good, an admin can enroll the PC
/// again with a new token).
///
/// # Errors
/// When the keychain refuses.
pub fn forget(paths: &AppPaths, credentials: &dyn Keychain) -> Result<(), String> {
    KeyVault::device_credential(credentials, paths)
        .delete()
        .map_err(|e| e.to_string())
}

/// Whether a refusal means this PC's credential is not (or no longer) good.
pub fn credential_refused(error: &RelayError) -> bool {
    matches!(
        error,
        RelayError::Refused {
            code: Refusal::Unauthenticated | Refusal::DeviceRevoked,
            ..
        }
    )
}

/// "My tickets" on a relay PC: this PC's outbox (what has not reached the relay yet, and what
/// has), with what the relay knows of each (its ticket number, Atera's status, the latest
/// reply). `relay` is the relay's list for this device.
///
/// # Errors
/// When the outbox cannot be read.
pub fn my_tickets(
    outbox: &crate::outbox::Outbox,
    relay: &[super::protocol::TicketStatus],
) -> Result<Vec<crate::tracking::MyTicket>, crate::outbox::OutboxError> {
    use super::protocol::RelayedState;
    use crate::outbox::EntryState;
    let mut mine = outbox.my_tickets()?;
    for t in &mut mine {
        let Some(r) = relay.iter().find(|r| r.reference == t.reference) else {
            continue;
        };
        t.ticket_id = r.ticket_id.or(t.ticket_id);
        t.ticket_number = r.ticket_number.clone().or(t.ticket_number.take());
        t.status = r.status.clone();
        t.last_reply = r.last_reply.clone();
        t.unread = r.unread;
        match r.state {
            RelayedState::Filed => {}
            // Handed over, not in Atera yet: being sent, as the user sees it.
            RelayedState::Queued => t.state = EntryState::Sending,
            RelayedState::Failed | RelayedState::Blocked => {
                t.state = EntryState::Failed;
                t.last_error = r.reason.clone();
            }
        }
    }
    Ok(mine)
}

/// What changed between two of the relay's lists for this device: new statuses and new replies,
/// for notifications.
pub fn changes(
    before: &[super::protocol::TicketStatus],
    after: &[super::protocol::TicketStatus],
) -> Vec<crate::tracking::TicketChange> {
    use crate::tracking::{ChangeKind, TicketChange};
    let mut out = Vec::new();
    for now in after {
        let (Some(ticket_id), Some(was)) = (
            now.ticket_id,
            before.iter().find(|b| b.reference == now.reference),
        ) else {
            continue;
        };
        let number = now
            .ticket_number
            .clone()
            .unwrap_or_else(|| ticket_id.to_string());
        if let (Some(from), Some(to)) = (&was.status, &now.status) {
            if from != to {
                out.push(TicketChange {
                    ticket_id,
                    ticket_number: number.clone(),
                    subject: now.subject.clone(),
                    kind: ChangeKind::Status {
                        from: from.clone(),
                        to: to.clone(),
                    },
                });
            }
        }
        if let Some(reply) = &now.last_reply {
            if was.last_reply.as_ref() != Some(reply) {
                out.push(TicketChange {
                    ticket_id,
                    ticket_number: number,
                    subject: now.subject.clone(),
                    kind: ChangeKind::Reply {
                        by: reply.by.clone(),
                        text: reply.text.clone(),
                    },
                });
            }
        }
    }
    out
}
