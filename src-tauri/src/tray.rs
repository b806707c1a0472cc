//! The tray icon and its menu: New ticket…, My tickets…, the outbox and hotkey status,
//! Settings…, Check for updates, Quit.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

/// The menu item showing how many tickets wait in the outbox.
struct PendingItem(MenuItem<tauri::Wry>);
/// The menu item showing the hotkey's status.
struct HotkeyItem(MenuItem<tauri::Wry>);

use crate::HotkeyStatus;

/// Creates the tray icon.
///
/// # Errors
/// When the desktop has no tray or the icon cannot be loaded.
pub fn create(app: &AppHandle, hotkey: &HotkeyStatus) -> tauri::Result<()> {
    let new_ticket = MenuItem::with_id(app, "new-ticket", "New ticket…", true, None::<&str>)?;
    let hotkey_item = MenuItem::with_id(
        app,
        "hotkey-status",
        hotkey_text(hotkey),
        false,
        None::<&str>,
    )?;
    let settings = MenuItem::with_id(app, "settings", "Settings…", true, None::<&str>)?;
    let my_tickets = MenuItem::with_id(app, "my-tickets", "My tickets…", true, None::<&str>)?;
    let pending = MenuItem::with_id(app, "pending", pending_text(0), false, None::<&str>)?;
    let check_updates = MenuItem::with_id(
        app,
        "check-updates",
        "Check for updates",
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &new_ticket,
            &my_tickets,
            &pending,
            &hotkey_item,
            &separator,
            &settings,
            &check_updates,
            &separator2,
            &quit,
        ],
    )?;
    app.manage(PendingItem(pending));
    app.manage(HotkeyItem(hotkey_item));
    let icon = match hotkey {
        HotkeyStatus::Registered(_) => Image::from_bytes(include_bytes!("../../icons/tray.png"))?,
        HotkeyStatus::Failed { .. } => {
            Image::from_bytes(include_bytes!("../../icons/tray-warning.png"))?
        }
    };
    TrayIconBuilder::with_id("main")
        .icon(icon)
        .tooltip("Helpdesk Button: report a problem")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "new-ticket" => crate::session::trigger(app.clone()),
            "settings" => crate::admin::open_window(app),
            "my-tickets" => crate::tickets::open_window(app, None),
            "check-updates" => crate::updates::check_from_tray(app),
            "quit" => {
                crate::updates::install_on_quit(app);
                app.exit(0);
            }
            _ => {}
        })
        .build(app)?;
    Ok(())
}

fn pending_text(count: usize) -> String {
    match count {
        0 => "All tickets sent".into(),
        1 => "1 ticket waiting to be sent".into(),
        n => format!("{n} tickets waiting to be sent"),
    }
}

/// Shows the outbox's pending count in the tray menu and tooltip.
pub fn show_pending(app: &AppHandle, count: usize) {
    if let Some(item) = app.try_state::<PendingItem>() {
        let _ = item.0.set_text(pending_text(count));
    }
    if let Some(tray) = app.tray_by_id("main") {
        let tip = if count == 0 {
            "Helpdesk Button: report a problem".to_string()
        } else {
            format!("Helpdesk Button: {}", pending_text(count))
        };
        let _ = tray.set_tooltip(Some(tip));
    }
}

fn hotkey_text(status: &HotkeyStatus) -> String {
    match status {
        HotkeyStatus::Registered(k) => format!("Hotkey: {k}"),
        HotkeyStatus::Failed { hotkey, .. } => {
            format!("Hotkey {hotkey} unavailable (in use by another app?)")
        }
    }
}

/// Shows a new hotkey status in the tray menu.
pub fn show_hotkey(app: &AppHandle, status: &HotkeyStatus) {
    if let Some(item) = app.try_state::<HotkeyItem>() {
        let _ = item.0.set_text(hotkey_text(status));
    }
}
