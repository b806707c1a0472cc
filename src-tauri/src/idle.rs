//! The app's idle moments: no window open, no form session, no ticket being sent. A waiting
//! update installs then, and the app gives memory back (`helpdesk_core::memory`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager};

/// How long the app must have been left alone (no poke) before it trims: the closed form's
/// WebKit processes have exited and its last callbacks have run by then.
const TRIM_AFTER: Duration = Duration::from_secs(5);
/// When the app was busy at the end of the quiet period, it looks again at the next poke, or
/// after this long if none comes.
const BUSY_RECHECK: Duration = Duration::from_secs(60);

/// Told whenever the app may have become idle (a window closed, a delivery finished).
pub struct Idle {
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Idle {
    fn default() -> Self {
        Self {
            changed: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Idle {
    /// Something that kept the app busy ended.
    pub fn poke(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves at each [`Idle::poke`] after this call (every
    /// subscriber sees every poke).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// Pokes the app's [`Idle`] state.
pub fn poke(app: &AppHandle) {
    app.state::<Idle>().poke();
}

/// True when nobody is using the app: no window open and no ticket being sent.
pub fn is_idle(app: &AppHandle) -> bool {
    let state = crate::app_state(app);
    app.webview_windows().is_empty()
        && state.session().is_none()
        && state.sending.load(Ordering::SeqCst) == 0
}

/// Gives memory back once the app has been left alone for [`TRIM_AFTER`] after the start or after
/// a moment it may have become idle, if it is idle then.
pub fn spawn_trim(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let mut pokes = app.state::<Idle>().subscribe();
        loop {
            // The quiet period starts again at every poke.
            loop {
                match tokio::time::timeout(TRIM_AFTER, pokes.changed()).await {
                    Err(_quiet) => break,
                    Ok(Ok(())) => continue,
                    Ok(Err(_closed)) => return,
                }
            }
            if !is_idle(&app) {
                // Busy (a form is open, a ticket is being sent): look again after the next
                // poke's quiet period, or after BUSY_RECHECK.
                match tokio::time::timeout(BUSY_RECHECK, pokes.changed()).await {
                    Ok(Err(_closed)) => return,
                    Ok(Ok(())) | Err(_) => continue,
                }
            }
            let started = Instant::now();
            match tauri::async_runtime::spawn_blocking(helpdesk_core::memory::trim).await {
                Ok(Ok(trimmed)) => tracing::debug!(
                    released_mb = format!("{:.1}", trimmed.file_bytes as f64 / 1e6),
                    mappings = trimmed.mappings,
                    ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
                    "idle: memory given back"
                ),
                Ok(Err(e)) => tracing::debug!(error = %e, "idle: memory could not be trimmed"),
                Err(e) => tracing::debug!(error = %e, "idle: the trim did not run"),
            }
            if pokes.changed().await.is_err() {
                return;
            }
        }
    });
}
