//! The real [`WindowsSource`]: the registry, the tick count, the shell's property system, the
//! spooler and the event log, through the Windows API (`windows-sys`). Every buffer a call asks
//! for is bounded, and every failure becomes "not readable" with the reason, never a panic.
// The Windows API is C: each call is an unsafe block with the reason it holds.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_ACCESS_DENIED, ERROR_INSUFFICIENT_BUFFER, ERROR_NO_MORE_ITEMS,
    ERROR_SUCCESS, FILETIME, PROPERTYKEY,
};
use windows_sys::Win32::Graphics::Printing::{
    EnumPrintersW, GetDefaultPrinterW, PRINTER_ENUM_CONNECTIONS, PRINTER_ENUM_LOCAL,
    PRINTER_INFO_2W,
};
use windows_sys::Win32::System::Com::{CoInitializeEx, CoUninitialize, COINIT_MULTITHREADED};
use windows_sys::Win32::System::EventLog::{
    EvtClose, EvtFormatMessage, EvtFormatMessageEvent, EvtNext, EvtOpenPublisherMetadata, EvtQuery,
    EvtQueryChannelPath, EvtQueryReverseDirection, EvtRender, EvtRenderEventXml, EVT_HANDLE,
};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegGetValueW, RegOpenKeyExW, HKEY, HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE,
    KEY_WOW64_64KEY, RRF_RT_REG_DWORD, RRF_RT_REG_MULTI_SZ, RRF_RT_REG_SZ, RRF_SUBKEY_WOW6464KEY,
};
use windows_sys::Win32::System::SystemInformation::GetTickCount64;
use windows_sys::Win32::System::Threading::GetSystemTimes;
use windows_sys::Win32::UI::Shell::PropertiesSystem::{
    PSGetPropertyKeyFromName, SHGetPropertyStoreFromParsingName, GPS_DEFAULT,
};

use super::windows::{RawEvent, RawPrinter, WindowsSource};

/// The largest registry value, spooler list, event XML and message read, in bytes.
const MAX_BUFFER: u32 = 1 << 20;
/// How long one read of an event log may wait for the service.
const EVENT_TIMEOUT_MS: u32 = 2_000;

/// This PC, through the Windows API.
pub struct SystemSource;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// A NUL-terminated UTF-16 string at `p`, at most `max` units; empty for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that lives for the call.
unsafe fn from_wide_ptr(p: *const u16, max: usize) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    while len < max && *p.add(len) != 0 {
        len += 1;
    }
    String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
}

fn from_wide(units: &[u16]) -> String {
    let end = units.iter().position(|u| *u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

/// A Windows error code in words, for "not readable: …".
fn describe(code: u32) -> String {
    let what = match code {
        5 => "access denied",
        120 => "not supported on this system",
        1722 | 1753 => "the Print Spooler service is not running",
        2 | 15007 => "no such log",
        _ => "failed",
    };
    format!("{what} (Windows error {code})")
}

impl SystemSource {
    /// The raw bytes of a value, at most [`MAX_BUFFER`].
    fn registry_value(&self, key: &str, value: &str, flags: u32) -> Option<Vec<u8>> {
        let (key, value) = (wide(key), wide(value));
        // The 64-bit view, whatever this build is.
        let flags = flags | RRF_SUBKEY_WOW6464KEY;
        let mut size = 0u32;
        // SAFETY: the strings are NUL-terminated and live for the calls; the data pointer is
        // null on the first call (size query) and a buffer of `size` bytes on the second.
        unsafe {
            let rc = RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                value.as_ptr(),
                flags,
                null_mut(),
                null_mut(),
                &mut size,
            );
            if rc != ERROR_SUCCESS || size == 0 || size > MAX_BUFFER {
                return None;
            }
            let mut buf = vec![0u8; size as usize];
            let rc = RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                value.as_ptr(),
                flags,
                null_mut(),
                buf.as_mut_ptr().cast(),
                &mut size,
            );
            if rc != ERROR_SUCCESS {
                return None;
            }
            buf.truncate(size as usize);
            Some(buf)
        }
    }
}

/// `(idle, kernel + user)` time of all processors so far, in 100 ns units.
pub fn cpu_times() -> Option<(u64, u64)> {
    let as_u64 = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (zero, zero, zero);
    // SAFETY: three writable FILETIMEs.
    if unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) } == 0 {
        return None;
    }
    Some((as_u64(idle), as_u64(kernel).saturating_add(as_u64(user))))
}

fn units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

impl WindowsSource for SystemSource {
    fn registry_string(&self, key: &str, value: &str) -> Option<String> {
        let bytes = self.registry_value(key, value, RRF_RT_REG_SZ)?;
        Some(from_wide(&units(&bytes)))
    }

    fn registry_dword(&self, key: &str, value: &str) -> Option<u32> {
        let bytes = self.registry_value(key, value, RRF_RT_REG_DWORD)?;
        Some(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
    }

    fn registry_multi_string(&self, key: &str, value: &str) -> Option<Vec<String>> {
        let bytes = self.registry_value(key, value, RRF_RT_REG_MULTI_SZ)?;
        Some(
            units(&bytes)
                .split(|u| *u == 0)
                .map(String::from_utf16_lossy)
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    fn registry_key_exists(&self, key: &str) -> bool {
        let key = wide(key);
        let mut handle: HKEY = null_mut();
        // SAFETY: `key` is NUL-terminated; the handle is closed when the open succeeded.
        unsafe {
            match RegOpenKeyExW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                0,
                KEY_QUERY_VALUE | KEY_WOW64_64KEY,
                &mut handle,
            ) {
                ERROR_SUCCESS => {
                    RegCloseKey(handle);
                    true
                }
                // There, but not ours to read: it exists all the same.
                ERROR_ACCESS_DENIED => true,
                _ => false,
            }
        }
    }

    fn uptime_ms(&self) -> Option<u64> {
        // SAFETY: no arguments, no failure.
        Some(unsafe { GetTickCount64() })
    }

    fn bitlocker_protection(&self, mount_point: &str) -> Option<u32> {
        bitlocker_protection(mount_point)
    }

    fn printers(&self) -> Result<Vec<RawPrinter>, String> {
        printers()
    }

    fn default_printer(&self) -> Option<String> {
        let mut len = 0u32;
        // SAFETY: the first call asks for the length; the second writes at most `len` units.
        unsafe {
            GetDefaultPrinterW(null_mut(), &mut len);
            if len == 0 || len > MAX_BUFFER / 2 {
                return None;
            }
            let mut buf = vec![0u16; len as usize];
            if GetDefaultPrinterW(buf.as_mut_ptr(), &mut len) == 0 {
                return None;
            }
            Some(from_wide(&buf))
        }
    }

    fn error_events(&self, log: &str, window_ms: u64, max: usize) -> Result<Vec<RawEvent>, String> {
        error_events(log, window_ms, max)
    }
}

/// `IPropertyStore`'s table of functions, as far as `GetValue`.
#[repr(C)]
struct PropertyStoreVtbl {
    query_interface: usize,
    add_ref: usize,
    release: unsafe extern "system" fn(*mut c_void) -> u32,
    get_count: usize,
    get_at: usize,
    get_value: unsafe extern "system" fn(*mut c_void, *const PROPERTYKEY, *mut PropVariant) -> i32,
}

/// A `PROPVARIANT`: the type tag, then the value (24 bytes on 64-bit Windows).
#[repr(C)]
struct PropVariant {
    vt: u16,
    reserved: [u16; 3],
    value: [u64; 2],
}

#[link(name = "ole32")]
extern "system" {
    fn PropVariantClear(pvar: *mut PropVariant) -> i32;
}

const IID_IPROPERTY_STORE: windows_sys::core::GUID =
    windows_sys::core::GUID::from_u128(0x886d8eeb_8cf2_4446_8d02_cdba1dbdcf99);

/// The shell's `System.Volume.BitLockerProtection` of `mount_point`: what Explorer shows on a
/// drive's icon, readable by the user (BitLocker's WMI class needs an administrator).
fn bitlocker_protection(mount_point: &str) -> Option<u32> {
    const VT_I4: u16 = 3;
    const VT_UI4: u16 = 19;
    const VT_INT: u16 = 22;
    const VT_UINT: u16 = 23;
    let name = wide("System.Volume.BitLockerProtection");
    let path = wide(mount_point);
    // SAFETY: COM is initialised for this thread for the duration and uninitialised only if
    // this call initialised it; the store is released once; the variant is cleared.
    unsafe {
        let init = CoInitializeEx(null(), COINIT_MULTITHREADED as u32);
        let result = (|| {
            let mut key: PROPERTYKEY = std::mem::zeroed();
            if PSGetPropertyKeyFromName(name.as_ptr(), &mut key) < 0 {
                return None;
            }
            let mut store: *mut c_void = null_mut();
            if SHGetPropertyStoreFromParsingName(
                path.as_ptr(),
                null_mut(),
                GPS_DEFAULT,
                &IID_IPROPERTY_STORE,
                &mut store,
            ) < 0
                || store.is_null()
            {
                return None;
            }
            let vtbl = &**(store as *const *const PropertyStoreVtbl);
            let mut value = PropVariant {
                vt: 0,
                reserved: [0; 3],
                value: [0; 2],
            };
            let hr = (vtbl.get_value)(store, &key, &mut value);
            let state = match value.vt {
                VT_I4 | VT_UI4 | VT_INT | VT_UINT if hr >= 0 => Some(value.value[0] as u32),
                _ => None,
            };
            PropVariantClear(&mut value);
            (vtbl.release)(store);
            state
        })();
        if init >= 0 {
            CoUninitialize();
        }
        result
    }
}

fn printers() -> Result<Vec<RawPrinter>, String> {
    let flags = PRINTER_ENUM_LOCAL | PRINTER_ENUM_CONNECTIONS;
    let (mut needed, mut count) = (0u32, 0u32);
    // SAFETY: the first call asks for the size; the second fills an 8-byte aligned buffer of
    // `needed` bytes with `count` PRINTER_INFO_2W records and the strings they point into.
    unsafe {
        if EnumPrintersW(flags, null(), 2, null_mut(), 0, &mut needed, &mut count) == 0 {
            let code = GetLastError();
            if code != ERROR_INSUFFICIENT_BUFFER {
                return Err(describe(code));
            }
        }
        if needed == 0 {
            return Ok(Vec::new());
        }
        // A printer added between the two calls makes the list longer: ask again, a few times.
        let mut buf = Vec::new();
        for attempt in 0..3 {
            if needed > MAX_BUFFER * 4 {
                return Err(format!("the printer list is too large ({needed} bytes)"));
            }
            buf = vec![0u64; (needed as usize).div_ceil(8)];
            let size = (buf.len() * 8) as u32;
            if EnumPrintersW(
                flags,
                null(),
                2,
                buf.as_mut_ptr().cast(),
                size,
                &mut needed,
                &mut count,
            ) != 0
            {
                break;
            }
            let code = GetLastError();
            if code != ERROR_INSUFFICIENT_BUFFER || attempt == 2 {
                return Err(describe(code));
            }
        }
        let fits = buf.len() * 8 / std::mem::size_of::<PRINTER_INFO_2W>();
        let infos = std::slice::from_raw_parts(
            buf.as_ptr().cast::<PRINTER_INFO_2W>(),
            (count as usize).min(fits),
        );
        Ok(infos
            .iter()
            .map(|p| RawPrinter {
                name: from_wide_ptr(p.pPrinterName, 1024),
                driver: from_wide_ptr(p.pDriverName, 1024),
                port: from_wide_ptr(p.pPortName, 1024),
                status: p.Status,
                attributes: p.Attributes,
            })
            .collect())
    }
}

/// Closes an event log handle when dropped.
struct Evt(EVT_HANDLE);

impl Drop for Evt {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: a handle from EvtQuery, EvtNext or EvtOpenPublisherMetadata, closed once.
            unsafe { EvtClose(self.0) };
        }
    }
}

fn error_events(log: &str, window_ms: u64, max: usize) -> Result<Vec<RawEvent>, String> {
    let query = wide(&format!(
        "*[System[(Level=1 or Level=2) and TimeCreated[timediff(@SystemTime) <= {window_ms}]]]"
    ));
    let path = wide(log);
    let max = max.clamp(1, 64);
    // SAFETY: the strings are NUL-terminated; every handle is owned by an `Evt` and closed.
    unsafe {
        let results = Evt(EvtQuery(
            0,
            path.as_ptr(),
            query.as_ptr(),
            EvtQueryChannelPath | EvtQueryReverseDirection,
        ));
        if results.0 == 0 {
            return Err(describe(GetLastError()));
        }
        let mut handles = vec![0isize; max];
        let mut returned = 0u32;
        if EvtNext(
            results.0,
            max as u32,
            handles.as_mut_ptr(),
            EVENT_TIMEOUT_MS,
            0,
            &mut returned,
        ) == 0
        {
            let code = GetLastError();
            return if code == ERROR_NO_MORE_ITEMS {
                Ok(Vec::new())
            } else {
                Err(describe(code))
            };
        }
        let events: Vec<Evt> = handles
            .into_iter()
            .take(returned as usize)
            .map(Evt)
            .collect();
        Ok(events
            .iter()
            .filter_map(|event| {
                let xml = render_xml(event.0)?;
                let message = super::windows::attribute(&xml, "Provider", "Name")
                    .and_then(|provider| format_message(&provider, event.0));
                Some(RawEvent { xml, message })
            })
            .collect())
    }
}

/// An event as XML.
///
/// # Safety
/// `event` is a live event handle.
unsafe fn render_xml(event: EVT_HANDLE) -> Option<String> {
    let (mut used, mut properties) = (0u32, 0u32);
    let sized = EvtRender(
        0,
        event,
        EvtRenderEventXml,
        0,
        null_mut(),
        &mut used,
        &mut properties,
    );
    if sized != 0 || GetLastError() != ERROR_INSUFFICIENT_BUFFER || used == 0 || used > MAX_BUFFER {
        return None;
    }
    let mut buf = vec![0u16; (used as usize).div_ceil(2)];
    if EvtRender(
        0,
        event,
        EvtRenderEventXml,
        used,
        buf.as_mut_ptr().cast(),
        &mut used,
        &mut properties,
    ) == 0
    {
        return None;
    }
    Some(from_wide(&buf))
}

/// An event's text, from its provider's message table.
///
/// # Safety
/// `event` is a live event handle.
unsafe fn format_message(provider: &str, event: EVT_HANDLE) -> Option<String> {
    let name = wide(provider);
    let metadata = Evt(EvtOpenPublisherMetadata(0, name.as_ptr(), null(), 0, 0));
    if metadata.0 == 0 {
        return None;
    }
    let mut used = 0u32;
    let sized = EvtFormatMessage(
        metadata.0,
        event,
        0,
        0,
        null(),
        EvtFormatMessageEvent,
        0,
        null_mut(),
        &mut used,
    );
    if sized != 0
        || GetLastError() != ERROR_INSUFFICIENT_BUFFER
        || used == 0
        || used > MAX_BUFFER / 2
    {
        return None;
    }
    let mut buf = vec![0u16; used as usize];
    if EvtFormatMessage(
        metadata.0,
        event,
        0,
        0,
        null(),
        EvtFormatMessageEvent,
        used,
        buf.as_mut_ptr(),
        &mut used,
    ) == 0
        // An insert the provider's template names but the event lacks still leaves the text in
        // the buffer (ERROR_EVT_UNRESOLVED_VALUE_INSERT, _PARAMETER_INSERT, _MAX_INSERTS_REACHED).
        && !matches!(GetLastError(), 15029..=15031)
    {
        return None;
    }
    Some(from_wide(&buf))
}
