//! One press of the button: capture the screens and collect the inventory *before* the form
//! window exists, then open the form. The captured data lives here until the window closes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use helpdesk_core::capture::{self, Capture, XcapSource};
use helpdesk_core::inventory::{self, Inventory};
use helpdesk_core::paths::AppPaths;
use helpdesk_core::settings::Settings;
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};

/// The form window's label.
pub const FORM_WINDOW: &str = "form";
/// How long CPU use is sampled for the inventory's process list.
const CPU_SAMPLE_WINDOW: Duration = Duration::from_millis(250);

/// What one trigger captured.
pub struct FormSession {
    pub id: u64,
    pub triggered_at: Instant,
    pub settings: Settings,
    pub capture: Capture,
    pub capture_error: Option<String>,
    pub inventory: Option<Inventory>,
    /// False while the screens are being captured (the form's page waits for it).
    pub captured: bool,
}

/// Shared app state.
pub struct AppState {
    pub paths: AppPaths,
    /// The durable outbox; `None` only if its file cannot be opened (then tickets are sent
    /// directly, and the failure is logged).
    pub outbox: Option<std::sync::Arc<helpdesk_core::outbox::Outbox>>,
    /// Wakes the delivery worker (a new entry, a manual retry).
    pub deliveries: tokio::sync::Notify,
    /// Asks for a poll of the tickets' status now (the My tickets window's Refresh).
    pub poll_now: tokio::sync::Notify,
    /// A ticket the My tickets window should open once it has loaded (a notification click).
    pub open_ticket: Mutex<Option<i64>>,
    /// Wakes the form's page waiting for the capture of its session.
    pub capture_done: tokio::sync::Notify,
    /// Tickets being sent by the delivery worker right now (an update never restarts the app
    /// while this is above zero).
    pub sending: std::sync::atomic::AtomicUsize,
    settings: RwLock<Settings>,
    session: Mutex<Option<FormSession>>,
    triggering: AtomicBool,
    next_session: AtomicU64,
}

impl AppState {
    /// State over the given directories, with the settings loaded (defaults when unreadable).
    pub fn new(paths: AppPaths) -> Self {
        let settings = Settings::load(&paths).unwrap_or_else(|e| {
            tracing::error!(error = %e, "settings unreadable: running on the policy's values over the defaults until the file is fixed");
            Settings::policy_defaults(&paths)
        });
        let outbox = match helpdesk_core::outbox::Outbox::open(&helpdesk_core::outbox::outbox_file(
            &paths.data_dir,
        )) {
            Ok(o) => Some(std::sync::Arc::new(o)),
            Err(e) => {
                tracing::error!(error = %e, "the outbox cannot be opened; tickets are sent directly");
                None
            }
        };
        Self {
            outbox,
            deliveries: tokio::sync::Notify::new(),
            poll_now: tokio::sync::Notify::new(),
            open_ticket: Mutex::new(None),
            capture_done: tokio::sync::Notify::new(),
            sending: std::sync::atomic::AtomicUsize::new(0),
            paths,
            settings: RwLock::new(settings),
            session: Mutex::new(None),
            triggering: AtomicBool::new(false),
            next_session: AtomicU64::new(1),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Re-reads the settings file so a change applies to the next form without a restart.
    pub fn reload_settings(&self) -> Settings {
        match Settings::load(&self.paths) {
            Ok(s) => {
                if let Ok(mut guard) = self.settings.write() {
                    *guard = s.clone();
                }
                s
            }
            Err(e) => {
                tracing::error!(error = %e, "settings unreadable; keeping the previous ones");
                self.settings()
            }
        }
    }

    /// The current session, if a form is open.
    pub fn session(&self) -> MutexGuard<'_, Option<FormSession>> {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Handles a press of the button from any trigger (hotkey, tray, second launch, link).
/// If the form is already open it is brought to the front; otherwise the screens and the
/// inventory are captured first and the form opens afterwards.
pub fn trigger(app: AppHandle) {
    let state = crate::app_state(&app);
    if state.triggering.load(Ordering::SeqCst) {
        return; // a capture is under way; its form shows when it is done
    }
    if let Some(window) = app.get_webview_window(FORM_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    if state.triggering.swap(true, Ordering::SeqCst) {
        return; // a capture is already under way
    }
    std::thread::spawn(move || {
        let triggered_at = Instant::now();
        let settings = state.reload_settings();
        let id = state.next_session.fetch_add(1, Ordering::SeqCst);
        *state.session() = Some(FormSession {
            id,
            triggered_at,
            settings: settings.clone(),
            capture: Capture::default(),
            capture_error: None,
            inventory: None,
            captured: false,
        });
        spawn_inventory(app.clone(), id);
        // The form's window is created hidden first, so WebKit starts and loads the page while
        // the screens are captured; a hidden (unmapped) window is not in the captured image. It
        // is shown once the capture is done, and its page waits for the capture (get_form_state).
        let window = match open_form_window(&app, &settings) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, "the form window could not be opened");
                None
            }
        };
        let captured = capture::capture(&XcapSource, settings.screenshots.mode);
        let grabbed_ms = triggered_at.elapsed().as_millis() as u64;
        if let Some(session) = state.session().as_mut().filter(|s| s.id == id) {
            match captured {
                Ok(c) => {
                    tracing::info!(
                        session = id,
                        monitors = c.screenshots.len(),
                        ms = grabbed_ms,
                        "screens captured"
                    );
                    session.capture = c;
                }
                Err(e) => {
                    tracing::warn!(session = id, error = %e, "screens not captured");
                    session.capture_error = Some(format!(
                        "The screens could not be captured ({e}). You can still send the ticket."
                    ));
                }
            }
            session.captured = true;
        }
        state.capture_done.notify_waiters();
        match window {
            Some(window) => {
                let _ = window.show();
                let _ = window.set_focus();
            }
            None => *state.session() = None,
        }
        state.triggering.store(false, Ordering::SeqCst);
    });
}

fn spawn_inventory(app: AppHandle, id: u64) {
    std::thread::spawn(move || {
        let inv = inventory::collect(crate::APP_VERSION, CPU_SAMPLE_WINDOW);
        let state = crate::app_state(&app);
        let payload = crate::commands::inventory_view(&inv);
        let mut guard = state.session();
        if let Some(session) = guard.as_mut().filter(|s| s.id == id) {
            session.inventory = Some(inv);
            drop(guard);
            let _ = app.emit_to(FORM_WINDOW, "inventory-ready", payload);
        }
    });
}

fn open_form_window(app: &AppHandle, settings: &Settings) -> tauri::Result<tauri::WebviewWindow> {
    let title = format!("{} · Report a problem", settings.branding.company_name);
    let window = WebviewWindowBuilder::new(app, FORM_WINDOW, WebviewUrl::App("index.html".into()))
        .title(title)
        .inner_size(720.0, 820.0)
        .min_inner_size(480.0, 520.0)
        .center()
        .visible(false)
        .focused(true)
        .build()?;
    let handle = app.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::Destroyed = event {
            // Free the captured frames as soon as the form is gone.
            *crate::app_state(&handle).session() = None;
        }
    });
    Ok(window)
}
