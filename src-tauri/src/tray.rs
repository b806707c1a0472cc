//! The tray icon and its menu: New ticket…, the hotkey's status, Quit.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::AppHandle;

use crate::HotkeyStatus;

/// Creates the tray icon.
///
/// # Errors
/// When the desktop has no tray or the icon cannot be loaded.
pub fn create(app: &AppHandle, hotkey: &HotkeyStatus) -> tauri::Result<()> {
    let new_ticket = MenuItem::with_id(app, "new-ticket", "New ticket…", true, None::<&str>)?;
    let hotkey_text = match hotkey {
        HotkeyStatus::Registered(k) => format!("Hotkey: {k}"),
        HotkeyStatus::Failed { hotkey, .. } => format!("Hotkey {hotkey} unavailable (in use by another app?)"),
    };
    let hotkey_item = MenuItem::with_id(app, "hotkey-status", hotkey_text, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&new_ticket, &hotkey_item, &separator, &quit])?;
    let icon = match hotkey {
        HotkeyStatus::Registered(_) => Image::from_bytes(include_bytes!("../../icons/tray.png"))?,
        HotkeyStatus::Failed { .. } => Image::from_bytes(include_bytes!("../../icons/tray-warning.png"))?,
    };
    TrayIconBuilder::with_id("main")
        .icon(icon)
        .tooltip("Helpdesk Button: report a problem")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "new-ticket" => crate::session::trigger(app.clone()),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(())
}
