//! The global hotkey on X11, without polling.
//!
//! The global-shortcut plugin's X11 backend wakes every 50 ms to look for key events: 20 wakeups
//! a second while the app sits idle on every PC, and 25 ms of delay on average between the key
//! press and the trigger. Here a thread blocks on the X connection instead and wakes only for
//! the hotkey itself. The key is grabbed the same way (`XGrabKey` on the root window, also with
//! NumLock and CapsLock on). Elsewhere (Windows, macOS, no X server) the plugin is used.

use std::sync::{Arc, Mutex};

use tauri_plugin_global_shortcut::{Code, Modifiers, Shortcut};
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::errors::ReplyError;
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, GrabMode, KeyButMask, ModMask};
use x11rb::protocol::{ErrorKind, Event};
use x11rb::rust_connection::RustConnection;

/// The grabbed key: keycode and modifiers.
type Binding = (u8, ModMask);

/// An X connection that grabs one hotkey.
pub struct X11Hotkey {
    conn: Arc<RustConnection>,
    root: u32,
    bound: Arc<Mutex<Option<Binding>>>,
}

impl X11Hotkey {
    /// Connects to the X server named by `DISPLAY`.
    ///
    /// # Errors
    /// When there is no X server (Wayland-only sessions, no display).
    pub fn connect() -> Result<Self, String> {
        let (conn, screen) = RustConnection::connect(None).map_err(|e| e.to_string())?;
        // Detectable auto-repeat: holding the key sends one press, not a stream.
        if conn
            .extension_information(xkb::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some()
        {
            let _ = conn
                .xkb_use_extension(1, 0)
                .map_err(|e| e.to_string())?
                .reply();
            let _ = conn
                .xkb_per_client_flags(
                    xkb::ID::USE_CORE_KBD.into(),
                    xkb::PerClientFlag::DETECTABLE_AUTO_REPEAT,
                    xkb::PerClientFlag::DETECTABLE_AUTO_REPEAT,
                    Default::default(),
                    Default::default(),
                    Default::default(),
                )
                .map_err(|e| e.to_string())?
                .reply();
        }
        let root = conn.setup().roots[screen].root;
        Ok(Self {
            conn: Arc::new(conn),
            root,
            bound: Arc::default(),
        })
    }

    /// Starts the thread that waits for the hotkey and calls `on_press` once per press.
    pub fn listen(&self, on_press: impl Fn() + Send + 'static) {
        let conn = self.conn.clone();
        let bound = self.bound.clone();
        let relevant =
            KeyButMask::CONTROL | KeyButMask::SHIFT | KeyButMask::MOD1 | KeyButMask::MOD4;
        let spawned = std::thread::Builder::new()
            .name("x11-hotkey".into())
            .spawn(move || {
                let mut pressed = false;
                loop {
                    match conn.wait_for_event() {
                        Ok(Event::KeyPress(e)) => {
                            let binding = *bound.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            let mods = ModMask::from(u16::from(e.state & relevant));
                            if binding == Some((e.detail, mods)) && !pressed {
                                pressed = true;
                                on_press();
                            }
                        }
                        Ok(Event::KeyRelease(_)) => pressed = false,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "the X connection for the hotkey closed; the tray menu still works");
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the hotkey thread could not start");
        }
    }

    /// Grabs `shortcut` instead of the key grabbed before.
    ///
    /// # Errors
    /// A sentence saying why (no such key here, another program holds it); the previous key is
    /// released either way.
    pub fn bind(&self, shortcut: &Shortcut) -> Result<(), String> {
        self.unbind();
        let keysym = keysym(shortcut.key).ok_or_else(|| {
            format!(
                "{:?} cannot be used as a hotkey here; pick an F-key",
                shortcut.key
            )
        })?;
        let keycode = self.keycode(keysym)?.ok_or_else(|| {
            format!(
                "no key on this keyboard produces {:?}; pick an F-key",
                shortcut.key
            )
        })?;
        let mods = x11_mods(shortcut.mods);
        for extra in lock_mods() {
            let cookie = self
                .conn
                .grab_key(
                    false,
                    self.root,
                    mods | extra,
                    keycode,
                    GrabMode::ASYNC,
                    GrabMode::ASYNC,
                )
                .map_err(|e| e.to_string())?;
            if let Err(e) = cookie.check() {
                self.ungrab((keycode, mods));
                return Err(match e {
                    ReplyError::X11Error(x) if x.error_kind == ErrorKind::Access => {
                        "another program already uses this key combination".into()
                    }
                    other => other.to_string(),
                });
            }
        }
        *self
            .bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((keycode, mods));
        Ok(())
    }

    /// Releases the grabbed key, if any.
    pub fn unbind(&self) {
        let old = self
            .bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(binding) = old {
            self.ungrab(binding);
        }
    }

    fn ungrab(&self, (keycode, mods): Binding) {
        for extra in lock_mods() {
            if let Ok(cookie) = self.conn.ungrab_key(keycode, self.root, mods | extra) {
                cookie.ignore_error();
            }
        }
        let _ = self.conn.flush();
    }

    fn keycode(&self, keysym: u32) -> Result<Option<u8>, String> {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let mapping = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        let per = usize::from(mapping.keysyms_per_keycode).max(1);
        Ok(mapping
            .keysyms
            .chunks(per)
            .position(|syms| syms.contains(&keysym))
            .and_then(|i| u8::try_from(i).ok())
            .map(|i| min + i))
    }
}

/// XGrabKey matches the exact modifier state, and NumLock (Mod2) and CapsLock count: grab the
/// key with each of them on as well.
fn lock_mods() -> [ModMask; 4] {
    [
        ModMask::default(),
        ModMask::M2,
        ModMask::LOCK,
        ModMask::M2 | ModMask::LOCK,
    ]
}

fn x11_mods(m: Modifiers) -> ModMask {
    let mut x = ModMask::default();
    if m.contains(Modifiers::SHIFT) {
        x |= ModMask::SHIFT;
    }
    if m.contains(Modifiers::CONTROL) {
        x |= ModMask::CONTROL;
    }
    if m.contains(Modifiers::ALT) {
        x |= ModMask::M1;
    }
    if m.intersects(Modifiers::SUPER | Modifiers::META) {
        x |= ModMask::M4;
    }
    x
}

/// The X keysym of a key (X11/keysymdef.h), for the keys a hotkey can sensibly use.
fn keysym(code: Code) -> Option<u32> {
    let name = format!("{code:?}");
    if let Some(letter) = name.strip_prefix("Key").filter(|l| l.len() == 1) {
        return letter
            .chars()
            .next()
            .map(|c| u32::from(c.to_ascii_lowercase()));
    }
    if let Some(digit) = name.strip_prefix("Digit").filter(|d| d.len() == 1) {
        return digit.chars().next().map(u32::from);
    }
    if let Some(n) = name.strip_prefix("F").and_then(|n| n.parse::<u32>().ok()) {
        return (1..=35).contains(&n).then(|| 0xffbe + n - 1);
    }
    if let Some(n) = name
        .strip_prefix("Numpad")
        .and_then(|n| n.parse::<u32>().ok())
    {
        return (n <= 9).then(|| 0xffb0 + n);
    }
    Some(match name.as_str() {
        "Space" => 0x20,
        "Backquote" => 0x60,
        "Minus" => 0x2d,
        "Equal" => 0x3d,
        "BracketLeft" => 0x5b,
        "BracketRight" => 0x5d,
        "Backslash" => 0x5c,
        "Semicolon" => 0x3b,
        "Quote" => 0x27,
        "Comma" => 0x2c,
        "Period" => 0x2e,
        "Slash" => 0x2f,
        "Escape" => 0xff1b,
        "Enter" => 0xff0d,
        "Tab" => 0xff09,
        "Backspace" => 0xff08,
        "Insert" => 0xff63,
        "Delete" => 0xffff,
        "Home" => 0xff50,
        "End" => 0xff57,
        "PageUp" => 0xff55,
        "PageDown" => 0xff56,
        "ArrowLeft" => 0xff51,
        "ArrowUp" => 0xff52,
        "ArrowRight" => 0xff53,
        "ArrowDown" => 0xff54,
        "Pause" => 0xff13,
        "ScrollLock" => 0xff14,
        "PrintScreen" => 0xff61,
        "Help" => 0xff6a,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotkeys_map_to_the_x_keysyms_of_keysymdef() {
        let sym = |s: &str| keysym(s.parse::<Shortcut>().unwrap().key);
        assert_eq!(sym("F1"), Some(0xffbe));
        assert_eq!(sym("Ctrl+Shift+F12"), Some(0xffc9));
        assert_eq!(sym("Alt+H"), Some(u32::from(b'h')));
        assert_eq!(sym("Ctrl+7"), Some(u32::from(b'7')));
        assert_eq!(sym("Pause"), Some(0xff13));
        let s: Shortcut = "Ctrl+Shift+F1".parse().unwrap();
        assert_eq!(x11_mods(s.mods), ModMask::CONTROL | ModMask::SHIFT);
    }
}
