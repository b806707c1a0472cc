//! The Helpdesk Button app: tray icon, global hotkey, single instance, and the form window.
//! This crate is glue: every decision about tickets lives in `helpdesk-core`.

mod admin;
mod admin_relay;
pub mod cli;
mod commands;
#[cfg(target_os = "linux")]
mod hotkey_x11;
mod idle;
mod rules_cli;
mod session;
mod tickets;
mod tray;
pub mod updates;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use helpdesk_core::paths::AppPaths;
use tauri::Manager;
use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};

pub use session::AppState;

/// The version reported in tickets, `--version` and to the updater. `release.sh build --version`
/// sets it (through build.rs) without touching Cargo.toml.
pub const APP_VERSION: &str = env!("HELPDESK_BUTTON_VERSION");

/// The link that opens the form: `helpdesk-button://new`.
pub fn is_new_ticket_link(arg: &str) -> bool {
    arg.trim_end_matches('/')
        .eq_ignore_ascii_case("helpdesk-button://new")
}

/// Installs the log subscriber once: stderr, filtered by `HELPDESK_BUTTON_LOG`.
/// The CLI defaults to `error` so its own messages are not repeated by log lines.
pub fn init_logging(default_filter: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HELPDESK_BUTTON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Runs the tray app until Quit.
pub fn run_gui(
    config_dir: Option<PathBuf>,
    open_form: bool,
    open_settings: bool,
    open_tickets: bool,
    check_updates: bool,
) -> std::process::ExitCode {
    let paths = match AppPaths::resolve(config_dir.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    helpdesk_core::atera::client::install_crypto_provider();
    let updates = updates::Updates::new(&paths, config_dir.clone());
    let state = Arc::new(AppState::new(paths));
    let mut context = tauri::generate_context!();
    // The version a release build was made for (see APP_VERSION), also for the updater.
    if let Ok(version) = APP_VERSION.parse() {
        context.package_info_mut().version = version;
    }
    let mut builder = tauri::Builder::default()
        // Must be first: a second launch hands its arguments to us and exits.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            if argv.iter().any(|a| a == "--check-updates") {
                tracing::info!("second launch: checking for updates");
                updates::check_from_tray(app);
            } else if argv.iter().any(|a| a == "--settings") {
                tracing::info!("second launch: opening the settings");
                admin::open_window(app);
            } else if argv.iter().any(|a| a == "--my-tickets") {
                tickets::open_window(app, None);
            } else {
                tracing::info!(args = argv.len(), "second launch: opening the form");
                session::trigger(app.clone());
            }
        }));
    // The hotkey: on X11 our own listener that sleeps until the key is pressed (hotkey_x11);
    // elsewhere the global-shortcut plugin.
    #[cfg(target_os = "linux")]
    let x11_hotkey = hotkey_x11::X11Hotkey::connect()
        .map_err(|e| tracing::info!(error = %e, "no X server for the hotkey; using the global-shortcut plugin"))
        .ok();
    #[cfg(not(target_os = "linux"))]
    let x11_hotkey: Option<()> = None;
    if let Some(x11) = x11_hotkey {
        builder = builder.manage(x11);
    } else {
        builder = builder.plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, _shortcut, event| {
                    if event.state == ShortcutState::Pressed {
                        session::trigger(app.clone());
                    }
                })
                .build(),
        );
    }
    let app = builder
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(state.clone())
        .manage(updates)
        .manage(idle::Idle::default())
        .manage(admin::AdminGate::default())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            #[cfg(target_os = "linux")]
            if let Some(x11) = app.try_state::<hotkey_x11::X11Hotkey>() {
                let handle = app.handle().clone();
                x11.listen(move || session::trigger(handle.clone()));
            }
            let hotkey_status = register_hotkey(app.handle(), &state.settings().hotkey);
            if let Err(e) = tray::create(app.handle(), &hotkey_status) {
                tracing::warn!(error = %e, "no tray icon (no system tray on this desktop?); the hotkey and the helpdesk-button://new link still work");
            }
            worker::spawn(app.handle().clone());
            worker::spawn_poller(app.handle().clone());
            updates::spawn_schedule(app.handle().clone());
            idle::spawn_trim(app.handle().clone());
            if check_updates {
                updates::check_from_tray(app.handle());
            }
            if open_form {
                session::trigger(app.handle().clone());
            }
            if open_settings {
                admin::open_window(app.handle());
            }
            if open_tickets {
                tickets::open_window(app.handle(), None);
            }
            Ok(())
        })
        .build(context);
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: the app could not start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    app.run(|app, event| match event {
        // A tray app keeps running with no window open; only Quit (an explicit exit code) ends it.
        tauri::RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        // A closed window may leave the app idle: a waiting update can install now, and the
        // memory the window used goes back.
        tauri::RunEvent::WindowEvent {
            event: tauri::WindowEvent::Destroyed,
            ..
        } => idle::poke(app),
        _ => {}
    });
    std::process::ExitCode::SUCCESS
}

/// What happened to the hotkey, shown in the tray menu.
#[derive(Debug, Clone)]
pub enum HotkeyStatus {
    Registered(String),
    Failed { hotkey: String, reason: String },
}

fn register_hotkey(app: &tauri::AppHandle, hotkey: &str) -> HotkeyStatus {
    let result = hotkey
        .parse::<tauri_plugin_global_shortcut::Shortcut>()
        .map_err(|e| format!("{hotkey:?} is not a key combination this app understands ({e})"))
        .and_then(|shortcut| {
            #[cfg(target_os = "linux")]
            if let Some(x11) = app.try_state::<hotkey_x11::X11Hotkey>() {
                return x11.bind(&shortcut);
            }
            app.global_shortcut()
                .register(shortcut)
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => {
            tracing::info!(hotkey, "hotkey registered");
            HotkeyStatus::Registered(hotkey.to_string())
        }
        Err(reason) => {
            tracing::warn!(hotkey, %reason, "the hotkey could not be registered; use the tray menu or the helpdesk-button://new link");
            HotkeyStatus::Failed {
                hotkey: hotkey.to_string(),
                reason,
            }
        }
    }
}

/// Moves the global hotkey after an admin changed it, without a restart.
pub(crate) fn rebind_hotkey(app: &tauri::AppHandle, old: &str, new: &str) {
    // On X11, grabbing the new key releases the old one (hotkey_x11::X11Hotkey::bind).
    #[cfg(target_os = "linux")]
    let plugin = app.try_state::<hotkey_x11::X11Hotkey>().is_none();
    #[cfg(not(target_os = "linux"))]
    let plugin = true;
    if let Some(old) = old
        .parse::<tauri_plugin_global_shortcut::Shortcut>()
        .ok()
        .filter(|_| plugin)
    {
        let _ = app.global_shortcut().unregister(old);
    }
    let status = register_hotkey(app, new);
    tray::show_hotkey(app, &status);
}

/// The installed dispatcher rules, run by re-running this executable in its rule mode.
pub fn rules_config(paths: &AppPaths) -> Option<helpdesk_core::submit::RulesConfig> {
    let policy = helpdesk_core::policy::Policy::load_or_lock_down(&paths.policy_file);
    let script = match helpdesk_core::rules::effective_rules(paths, &policy) {
        Ok(script) => script?,
        Err(e) => {
            tracing::error!(error = %e, "the rules file cannot be read; submitting without rules");
            return None;
        }
    };
    Some(helpdesk_core::submit::RulesConfig {
        exe: rules_evaluator(),
        script,
        limits: helpdesk_core::rules::RuleLimits::default(),
    })
}

/// Where this PC's tickets go (the relay when the machine policy names one, else Atera), with
/// the OS keychain for the Atera key and the relay device credential.
///
/// # Errors
/// As [`helpdesk_core::submit::connect_target`].
pub async fn target(
    paths: &helpdesk_core::paths::AppPaths,
    settings: &helpdesk_core::settings::Settings,
) -> Result<helpdesk_core::submit::Target, helpdesk_core::submit::SubmitError> {
    helpdesk_core::submit::connect_target(
        paths,
        settings,
        &helpdesk_core::secrets::OsKeychain,
        &helpdesk_core::secrets::OsKeychainEntry::device_credential(paths),
    )
    .await
}

/// The program that checks and evaluates rules: `helpdesk-button-rules`, installed next to the
/// app. It starts without loading GTK and WebKit, and the app itself does not contain the
/// interpreter (README, Performance).
pub fn rules_evaluator() -> std::path::PathBuf {
    let name = format!("helpdesk-button-rules{}", std::env::consts::EXE_SUFFIX);
    match std::env::current_exe() {
        Ok(exe) => exe.with_file_name(name),
        Err(_) => name.into(),
    }
}

/// Gets the shared state from any manager.
pub(crate) fn app_state<M: Manager<tauri::Wry>>(m: &M) -> Arc<AppState> {
    m.state::<Arc<AppState>>().inner().clone()
}
