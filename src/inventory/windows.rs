//! What a technician expects to know about a Windows PC beyond the cross-platform inventory:
//! edition and build, last boot, pending reboot, BitLocker per volume, printers, and the recent
//! errors of the Application and System event logs.
//!
//! The reading is split in two. [`WindowsSource`] is the raw Windows data (registry values, the
//! tick count, the shell's BitLocker property, the spooler's printers, the event log's XML);
//! [`details`] turns it into [`WindowsDetails`], bounded and in a technician's words. The real
//! source (`windows_api.rs`) calls the Windows API directly: no PowerShell and no command lines
//! that antivirus tools flag. The turning is tested on every platform with recorded Windows data
//! (the tests below), because Wine stands in for neither BitLocker nor the event log.

use serde::{Deserialize, Serialize};

/// Errors from one log kept in a ticket: a handful, newest first.
pub const EVENTS_PER_LOG: usize = 5;
/// How far back the event logs are read.
pub const EVENT_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// The logs read, in this order.
pub const EVENT_LOGS: [&str; 2] = ["System", "Application"];
/// A message longer than this is cut (event texts can run to kilobytes).
const MESSAGE_CHARS: usize = 240;
/// Printers listed at most (a print server can share hundreds).
const MAX_PRINTERS: usize = 20;
/// Any one registry or spooler string kept at most, in characters.
const FIELD_CHARS: usize = 120;

const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";

/// The Windows part of an inventory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WindowsDetails {
    /// `Windows 11 Pro` (the registry says "Windows 10" on Windows 11; the build decides).
    pub edition: String,
    /// The feature update, `23H2`; `None` before Windows 10 20H2 named them so.
    pub display_version: Option<String>,
    /// `22631.4460`: the build and its update revision.
    pub build: String,
    /// When Windows last started, RFC 3339 UTC.
    pub last_boot: Option<String>,
    /// Why a reboot is pending, e.g. `Windows Update`; empty when none is.
    pub pending_reboot: Vec<String>,
    /// BitLocker per volume, where Windows tells it to the user.
    pub bitlocker: Vec<VolumeProtection>,
    pub printers: Vec<Printer>,
    /// Why the printers could not be listed.
    pub printers_error: Option<String>,
    /// Critical and error events of the last 24 hours, newest first, a handful per log.
    pub recent_errors: Vec<EventEntry>,
    /// Why an event log could not be read.
    pub event_log_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeProtection {
    /// `C:\`, as in the inventory's disks.
    pub mount_point: String,
    /// `on`, `off`, `encrypting`, `decrypting`, `suspended`, `locked`, …
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Printer {
    pub name: String,
    pub driver: String,
    pub port: String,
    pub is_default: bool,
    /// `ready`, or what is wrong: `offline`, `paper jam, toner low`, …
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventEntry {
    /// `System` or `Application`.
    pub log: String,
    /// RFC 3339 UTC, second precision.
    pub time: String,
    /// The provider, e.g. `Microsoft-Windows-Kernel-Power`, `Application Error`.
    pub source: String,
    pub event_id: u32,
    /// `Critical` or `Error`.
    pub level: String,
    /// The event's text, on one line and cut to a few hundred characters.
    pub message: Option<String>,
}

/// A printer as the spooler lists it (`PRINTER_INFO_2`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RawPrinter {
    pub name: String,
    pub driver: String,
    pub port: String,
    /// `PRINTER_STATUS_*` bits.
    pub status: u32,
    /// `PRINTER_ATTRIBUTE_*` bits.
    pub attributes: u32,
}

/// One event as the event log renders it: its XML (`EvtRenderEventXml`) and its formatted text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RawEvent {
    pub xml: String,
    pub message: Option<String>,
}

/// The raw Windows data [`details`] is made from. Registry keys are under `HKEY_LOCAL_MACHINE`,
/// read from the 64-bit view.
pub trait WindowsSource {
    fn registry_string(&self, key: &str, value: &str) -> Option<String>;
    fn registry_dword(&self, key: &str, value: &str) -> Option<u32>;
    fn registry_multi_string(&self, key: &str, value: &str) -> Option<Vec<String>>;
    fn registry_key_exists(&self, key: &str) -> bool;
    /// Milliseconds since Windows started (`GetTickCount64`).
    fn uptime_ms(&self) -> Option<u64>;
    /// The shell's `System.Volume.BitLockerProtection` of a volume (`C:\`), `None` where Windows
    /// does not tell it.
    fn bitlocker_protection(&self, mount_point: &str) -> Option<u32>;
    fn printers(&self) -> Result<Vec<RawPrinter>, String>;
    fn default_printer(&self) -> Option<String>;
    /// At most `max` critical and error events of one log newer than `window_ms`, newest first.
    fn error_events(&self, log: &str, window_ms: u64, max: usize) -> Result<Vec<RawEvent>, String>;
}

/// The Windows details, from `source`, at `now` (Unix seconds). `mount_points` are the volumes
/// of the inventory's disks, whose BitLocker state is asked for.
pub fn details(source: &dyn WindowsSource, mount_points: &[&str], now: i64) -> WindowsDetails {
    let build_number = source.registry_string(CURRENT_VERSION, "CurrentBuildNumber");
    let build = match (&build_number, source.registry_dword(CURRENT_VERSION, "UBR")) {
        (Some(b), Some(ubr)) => format!("{}.{ubr}", clip(b)),
        (Some(b), None) => clip(b),
        (None, _) => String::new(),
    };
    let product = source
        .registry_string(CURRENT_VERSION, "ProductName")
        .map(|p| clip(&p))
        .unwrap_or_else(|| "Windows".into());
    let edition = windows_11_aware(&product, build_number.as_deref());
    let display_version = source
        .registry_string(CURRENT_VERSION, "DisplayVersion")
        .or_else(|| source.registry_string(CURRENT_VERSION, "ReleaseId"))
        .map(|v| clip(&v))
        .filter(|v| !v.is_empty());
    let last_boot = source
        .uptime_ms()
        .and_then(|ms| i64::try_from(ms / 1000).ok())
        .and_then(|secs| rfc3339(now.checked_sub(secs)?));

    let mut bitlocker = Vec::new();
    for mount in mount_points {
        if let Some(state) = source.bitlocker_protection(mount).and_then(bitlocker_state) {
            bitlocker.push(VolumeProtection {
                mount_point: (*mount).to_owned(),
                state: state.to_owned(),
            });
        }
    }

    let (printers, printers_error) = match source.printers() {
        Ok(raw) => {
            let default = source.default_printer();
            let mut list: Vec<(bool, RawPrinter)> = raw
                .into_iter()
                .map(|p| {
                    let is_default = default
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(&p.name));
                    (is_default, p)
                })
                .collect();
            // The default first, then by name; only then cut, so the default is always kept.
            list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
            let list = list
                .into_iter()
                .take(MAX_PRINTERS)
                .map(|(is_default, p)| Printer {
                    is_default,
                    status: printer_status(p.status, p.attributes),
                    name: clip(&p.name),
                    driver: clip(&p.driver),
                    port: clip(&p.port),
                })
                .collect();
            (list, None)
        }
        Err(e) => (Vec::new(), Some(e)),
    };

    let mut recent_errors = Vec::new();
    let mut event_errors = Vec::new();
    for log in EVENT_LOGS {
        match source.error_events(log, EVENT_WINDOW_MS, EVENTS_PER_LOG) {
            Ok(events) => recent_errors.extend(
                events
                    .iter()
                    .take(EVENTS_PER_LOG)
                    .filter_map(|e| parse_event(log, e)),
            ),
            Err(e) => event_errors.push(format!("{log}: {e}")),
        }
    }
    recent_errors.sort_by(|a, b| b.time.cmp(&a.time).then(a.log.cmp(&b.log)));

    WindowsDetails {
        edition,
        display_version,
        build,
        last_boot,
        pending_reboot: pending_reboot(source),
        bitlocker,
        printers,
        printers_error,
        recent_errors,
        event_log_error: (!event_errors.is_empty()).then(|| event_errors.join("; ")),
    }
}

/// The machine's busy share between two `(idle, kernel + user)` samples of `GetSystemTimes` (in
/// 100 ns units; kernel time includes idle time), in percent.
pub fn busy_percent(before: (u64, u64), after: (u64, u64)) -> f32 {
    let idle = after.0.saturating_sub(before.0);
    let total = after.1.saturating_sub(before.1);
    if total == 0 {
        return 0.0;
    }
    (100.0 * (1.0 - idle.min(total) as f64 / total as f64)) as f32
}

/// Windows 11 kept "Windows 10" in `ProductName`; build 22000 and later is Windows 11.
fn windows_11_aware(product: &str, build: Option<&str>) -> String {
    let is_11 = build
        .and_then(|b| b.trim().parse::<u32>().ok())
        .is_some_and(|b| b >= 22000);
    if is_11 && product.contains("Windows 10") {
        product.replacen("Windows 10", "Windows 11", 1)
    } else {
        product.to_owned()
    }
}

/// The places Windows records that it waits for a restart.
fn pending_reboot(source: &dyn WindowsSource) -> Vec<String> {
    let mut reasons = Vec::new();
    if source.registry_key_exists(
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    ) {
        reasons.push("Windows Update".to_owned());
    }
    if source.registry_key_exists(
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
    ) {
        reasons.push("component servicing".to_owned());
    }
    let renames = source.registry_multi_string(
        r"SYSTEM\CurrentControlSet\Control\Session Manager",
        "PendingFileRenameOperations",
    );
    if renames.is_some_and(|r| r.iter().any(|s| !s.is_empty())) {
        reasons.push("file rename operations".to_owned());
    }
    let active = source.registry_string(
        r"SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName",
        "ComputerName",
    );
    let pending = source.registry_string(
        r"SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName",
        "ComputerName",
    );
    if let (Some(active), Some(pending)) = (active, pending) {
        if !active.eq_ignore_ascii_case(&pending) {
            reasons.push(format!("computer rename to {}", clip(&pending)));
        }
    }
    reasons
}

/// `System.Volume.BitLockerProtection`, in words; `None` for a volume BitLocker cannot protect.
fn bitlocker_state(value: u32) -> Option<&'static str> {
    Some(match value {
        1 => "on",
        2 => "off",
        3 => "encrypting",
        4 => "decrypting",
        5 => "suspended",
        6 => "locked",
        8 => "waiting for activation",
        _ => return None,
    })
}

/// What is wrong with a printer, from its status and attribute bits; `ready` when nothing is.
fn printer_status(status: u32, attributes: u32) -> String {
    const STATUS: [(u32, &str); 14] = [
        (0x0000_0001, "paused"),
        (0x0000_0002, "error"),
        (0x0000_0008, "paper jam"),
        (0x0000_0010, "out of paper"),
        (0x0000_0040, "paper problem"),
        (0x0000_0080, "offline"),
        (0x0000_1000, "not available"),
        (0x0000_4000, "processing"),
        (0x0002_0000, "toner low"),
        (0x0004_0000, "out of toner"),
        (0x0010_0000, "needs attention"),
        (0x0020_0000, "out of memory"),
        (0x0040_0000, "door open"),
        (0x0080_0000, "server unknown"),
    ];
    const PRINTER_ATTRIBUTE_WORK_OFFLINE: u32 = 0x400;
    let mut words: Vec<&str> = STATUS
        .iter()
        .filter(|(bit, _)| status & bit != 0)
        .map(|(_, word)| *word)
        .collect();
    if attributes & PRINTER_ATTRIBUTE_WORK_OFFLINE != 0 && !words.contains(&"offline") {
        words.push("offline");
    }
    if words.is_empty() {
        "ready".into()
    } else {
        words.join(", ")
    }
}

/// One event from its rendered XML; `None` when the XML lacks what a technician needs.
fn parse_event(log: &str, raw: &RawEvent) -> Option<EventEntry> {
    let xml = raw.xml.as_str();
    let source = attribute(xml, "Provider", "Name")?;
    let event_id = element_text(xml, "EventID")?.trim().parse().ok()?;
    let level = match element_text(xml, "Level")?.trim() {
        "1" => "Critical",
        "2" => "Error",
        _ => return None,
    };
    let time = attribute(xml, "TimeCreated", "SystemTime")?;
    let time = time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| rfc3339(t.unix_timestamp()))?;
    let message = raw
        .message
        .as_deref()
        .map(one_line)
        .filter(|m| !m.is_empty());
    Some(EventEntry {
        log: log.to_owned(),
        time,
        source: clip(&source),
        event_id,
        level: level.to_owned(),
        message,
    })
}

/// The value of `name=` in the first `<tag …>` of `xml`, unescaped.
pub(super) fn attribute(xml: &str, tag: &str, name: &str) -> Option<String> {
    let open = opening_tag(xml, tag)?;
    let at = open.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &open[at..];
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = rest[1..].find(quote)?;
    Some(unescape(&rest[1..1 + end]))
}

/// The text inside the first `<tag …>…</tag>` of `xml`, unescaped.
fn element_text(xml: &str, tag: &str) -> Option<String> {
    let open = opening_tag(xml, tag)?;
    if open.ends_with('/') {
        return None;
    }
    // Where the opening tag found above ends (not a new search for its text, which can match
    // earlier, inside another tag's attribute), past its `>`.
    let start = (open.as_ptr() as usize - xml.as_ptr() as usize) + open.len() + 1;
    let end = xml.get(start..)?.find(&format!("</{tag}>"))?;
    Some(unescape(&xml[start..start + end]))
}

/// The inside of the first `<tag` opening tag (without `<` and `>`).
fn opening_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let needle = format!("<{tag}");
    let mut from = 0;
    while let Some(at) = xml[from..].find(&needle) {
        let begin = from + at + 1;
        let after = xml[begin + tag.len()..].chars().next()?;
        if after == '>' || after == '/' || after.is_whitespace() {
            let end = xml[begin..].find('>')?;
            return Some(&xml[begin..begin + end]);
        }
        from = begin;
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A message on one line, cut to [`MESSAGE_CHARS`].
fn one_line(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&flat, MESSAGE_CHARS)
}

fn clip(s: &str) -> String {
    cut(s.trim(), FIELD_CHARS)
}

fn cut(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", s[..at].trim_end()),
        None => s.to_owned(),
    }
}

fn rfc3339(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// `2026-12-03 21:14 UTC` from RFC 3339.
pub(super) fn short_time(rfc: &str) -> String {
    match rfc.get(..16) {
        Some(head) if rfc.len() >= 20 => format!("{} UTC", head.replacen('T', " ", 1)),
        _ => rfc.to_owned(),
    }
}

impl WindowsDetails {
    /// `Windows 11 Pro 23H2`: the "Operating system" a technician reads.
    pub(super) fn os_line(&self) -> String {
        match &self.display_version {
            Some(v) => format!("{} {v}", self.edition),
            None => self.edition.clone(),
        }
    }

    /// The "Windows" rows of the inventory's display.
    pub(super) fn summary_rows(&self) -> Vec<(String, String)> {
        let mut version = match &self.display_version {
            Some(v) => v.clone(),
            None => String::new(),
        };
        if !self.build.is_empty() {
            if !version.is_empty() {
                version.push_str(", ");
            }
            version.push_str(&format!("build {}", self.build));
        }
        let mut rows = vec![("Edition".to_owned(), self.edition.clone())];
        if !version.is_empty() {
            rows.push(("Version".into(), version));
        }
        if let Some(boot) = &self.last_boot {
            // GetTickCount64 goes on through Fast Startup's "shut down": the last full boot.
            rows.push(("Last full boot".into(), short_time(boot)));
        }
        rows.push((
            "Pending reboot".into(),
            if self.pending_reboot.is_empty() {
                "no".into()
            } else {
                format!("yes: {}", self.pending_reboot.join(", "))
            },
        ));
        rows
    }

    /// BitLocker's state of a volume, for its disk row.
    pub(super) fn bitlocker_of(&self, mount_point: &str) -> Option<&str> {
        self.bitlocker
            .iter()
            .find(|v| v.mount_point.eq_ignore_ascii_case(mount_point))
            .map(|v| v.state.as_str())
    }

    pub(super) fn printer_rows(&self) -> Vec<(String, String)> {
        if let Some(e) = &self.printers_error {
            return vec![("Printers".into(), format!("not readable: {e}"))];
        }
        if self.printers.is_empty() {
            return vec![("Printers".into(), "none installed".into())];
        }
        self.printers
            .iter()
            .map(|p| {
                let label = if p.is_default {
                    format!("{} (default)", p.name)
                } else {
                    p.name.clone()
                };
                let mut value = p.status.clone();
                for part in [&p.driver, &p.port] {
                    if !part.is_empty() {
                        value.push_str(" · ");
                        value.push_str(part);
                    }
                }
                (label, value)
            })
            .collect()
    }

    pub(super) fn event_rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .recent_errors
            .iter()
            .map(|e| {
                let label = format!(
                    "{} · {} · {} {}",
                    short_time(&e.time),
                    e.log,
                    e.source,
                    e.event_id
                );
                let value = match &e.message {
                    Some(m) => format!("{}: {m}", e.level),
                    None => e.level.clone(),
                };
                (label, value)
            })
            .collect();
        if rows.is_empty() && self.event_log_error.is_none() {
            rows.push(("Event log".into(), "no errors in the last 24 hours".into()));
        }
        if let Some(e) = &self.event_log_error {
            rows.push(("Event log".into(), format!("not readable: {e}")));
        }
        rows
    }
}

/// A [`WindowsSource`] from recorded data (the tests' Windows PCs). Registry keys are `key\value` (`key` alone for a key that exists).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordedSource {
    pub registry: std::collections::BTreeMap<String, RecordedValue>,
    pub uptime_ms: Option<u64>,
    pub bitlocker: std::collections::BTreeMap<String, u32>,
    pub printers: Option<Vec<RawPrinter>>,
    pub printers_error: Option<String>,
    pub default_printer: Option<String>,
    pub events: std::collections::BTreeMap<String, Vec<RawEvent>>,
    pub event_errors: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordedValue {
    Dword(u32),
    String(String),
    MultiString(Vec<String>),
    /// A key that exists (`{}`).
    Key {},
}

impl RecordedSource {
    fn value(&self, key: &str, value: &str) -> Option<&RecordedValue> {
        self.registry.get(&format!("{key}\\{value}"))
    }
}

impl WindowsSource for RecordedSource {
    fn registry_string(&self, key: &str, value: &str) -> Option<String> {
        match self.value(key, value)? {
            RecordedValue::String(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn registry_dword(&self, key: &str, value: &str) -> Option<u32> {
        match self.value(key, value)? {
            RecordedValue::Dword(d) => Some(*d),
            _ => None,
        }
    }
    fn registry_multi_string(&self, key: &str, value: &str) -> Option<Vec<String>> {
        match self.value(key, value)? {
            RecordedValue::MultiString(m) => Some(m.clone()),
            _ => None,
        }
    }
    fn registry_key_exists(&self, key: &str) -> bool {
        self.registry.contains_key(key)
            || self.registry.keys().any(|k| {
                k.len() > key.len() && k.starts_with(key) && k[key.len()..].starts_with('\\')
            })
    }
    fn uptime_ms(&self) -> Option<u64> {
        self.uptime_ms
    }
    fn bitlocker_protection(&self, mount_point: &str) -> Option<u32> {
        self.bitlocker.get(mount_point).copied()
    }
    fn printers(&self) -> Result<Vec<RawPrinter>, String> {
        match (&self.printers_error, &self.printers) {
            (Some(e), _) => Err(e.clone()),
            (None, list) => Ok(list.clone().unwrap_or_default()),
        }
    }
    fn default_printer(&self) -> Option<String> {
        self.default_printer.clone()
    }
    fn error_events(
        &self,
        log: &str,
        _window_ms: u64,
        max: usize,
    ) -> Result<Vec<RawEvent>, String> {
        if let Some(e) = self.event_errors.get(log) {
            return Err(e.clone());
        }
        Ok(self
            .events
            .get(log)
            .map(|e| e.iter().take(max).cloned().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Windows 11 23H2 laptop as its registry, spooler and event log present it (the value
    /// names, the XML rendering and the flag values are Windows' own; see the module comment).
    const RECORDED_LAPTOP: &str = include_str!("windows-laptop.json");
    /// 2026-12-03T21:30:00Z
    const NOW: i64 = 1_796_333_400;

    fn laptop() -> RecordedSource {
        serde_json::from_str(RECORDED_LAPTOP).expect("the recorded laptop parses")
    }

    #[test]
    fn edition_build_and_last_boot_from_the_registry_and_tick_count() {
        let d = details(&laptop(), &[r"C:\", r"D:\"], NOW);
        // ProductName says "Windows 10 Pro"; build 22631 is Windows 11.
        assert_eq!(d.edition, "Windows 11 Pro");
        assert_eq!(d.display_version.as_deref(), Some("23H2"));
        assert_eq!(d.build, "22631.4460");
        // 2 days, 3 hours and 4 minutes of uptime before NOW.
        assert_eq!(d.last_boot.as_deref(), Some("2026-12-01T18:26:00Z"));
    }

    #[test]
    fn cpu_usage_from_system_times() {
        // 1 s of 4 cores: 4e7 units in all, 3e7 of them idle: a quarter busy.
        assert_eq!(busy_percent((0, 0), (30_000_000, 40_000_000)), 25.0);
        assert_eq!(busy_percent((5, 9), (5, 9)), 0.0, "no time passed");
        // A counter that went backwards (or idle past total) is not a negative usage.
        assert_eq!(busy_percent((10, 10), (5, 5)), 0.0);
        assert_eq!(busy_percent((0, 0), (50, 40)), 0.0);
    }

    #[test]
    fn windows_10_stays_windows_10() {
        let mut source = laptop();
        source.registry.insert(
            format!(r"{CURRENT_VERSION}\CurrentBuildNumber"),
            RecordedValue::String("19045".into()),
        );
        assert_eq!(details(&source, &[], NOW).edition, "Windows 10 Pro");
    }

    #[test]
    fn pending_reboot_names_each_reason_windows_records() {
        let d = details(&laptop(), &[], NOW);
        assert_eq!(
            d.pending_reboot,
            vec!["Windows Update", "file rename operations"],
            "the recorded laptop waits for Windows Update and a file rename"
        );
        let mut clean = laptop();
        clean.registry.retain(|k, _| {
            !k.contains("RebootRequired") && !k.contains("PendingFileRenameOperations")
        });
        assert!(details(&clean, &[], NOW).pending_reboot.is_empty());
        clean.registry.insert(
            r"SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName\ComputerName".into(),
            RecordedValue::String("PC-0043".into()),
        );
        assert_eq!(
            details(&clean, &[], NOW).pending_reboot,
            vec!["computer rename to PC-0043"]
        );
    }

    #[test]
    fn bitlocker_per_volume_where_windows_tells_it() {
        let d = details(&laptop(), &[r"C:\", r"D:\", r"E:\"], NOW);
        assert_eq!(d.bitlocker_of(r"C:\"), Some("on"));
        assert_eq!(d.bitlocker_of(r"d:\"), Some("suspended"));
        // E: is a USB stick the shell reports 0 for (not protectable): no state, no guess.
        assert_eq!(d.bitlocker_of(r"E:\"), None);
        assert_eq!(d.bitlocker.len(), 2);
    }

    #[test]
    fn printers_default_first_with_their_trouble_in_words() {
        let d = details(&laptop(), &[], NOW);
        let names: Vec<_> = d.printers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                r"\\print01\Floor 2 HP",
                "Microsoft Print to PDF",
                "OneNote (Desktop)"
            ]
        );
        assert!(d.printers[0].is_default);
        assert_eq!(d.printers[0].status, "paper jam, toner low");
        assert_eq!(d.printers[1].status, "ready");
        // Not a status bit but the "use printer offline" attribute.
        assert_eq!(d.printers[2].status, "offline");
        let rows = d.printer_rows();
        assert_eq!(rows[0].0, r"\\print01\Floor 2 HP (default)");
        assert_eq!(
            rows[0].1,
            "paper jam, toner low · HP Universal Printing PCL 6 · 10.1.2.40"
        );
    }

    #[test]
    fn printers_unreadable_or_absent_are_said_plainly() {
        let mut source = laptop();
        source.printers_error = Some("the Print Spooler service is not running".into());
        let rows = details(&source, &[], NOW).printer_rows();
        assert_eq!(
            rows,
            vec![(
                "Printers".to_owned(),
                "not readable: the Print Spooler service is not running".to_owned()
            )]
        );
        source.printers_error = None;
        source.printers = Some(Vec::new());
        assert_eq!(
            details(&source, &[], NOW).printer_rows()[0].1,
            "none installed"
        );
    }

    #[test]
    fn recent_errors_newest_first_a_handful_per_log_with_messages_on_one_line() {
        let d = details(&laptop(), &[], NOW);
        // The recording holds 6 System errors (one of them a warning) and 2 Application ones.
        assert_eq!(
            d.recent_errors.iter().filter(|e| e.log == "System").count(),
            EVENTS_PER_LOG - 1,
            "at most a handful per log are read, and a warning is not an error"
        );
        assert_eq!(
            d.recent_errors
                .iter()
                .filter(|e| e.log == "Application")
                .count(),
            2
        );
        let times: Vec<_> = d.recent_errors.iter().map(|e| e.time.as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first across both logs");

        let power = d
            .recent_errors
            .iter()
            .find(|e| e.event_id == 41)
            .expect("the Kernel-Power event");
        assert_eq!(power.source, "Microsoft-Windows-Kernel-Power");
        assert_eq!(power.level, "Critical");
        assert_eq!(power.time, "2026-12-03T21:14:07Z");
        let crash = d
            .recent_errors
            .iter()
            .find(|e| e.event_id == 1000)
            .expect("the Application Error event");
        assert_eq!(crash.source, "Application Error");
        let message = crash.message.as_deref().unwrap();
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(message.starts_with("Faulting application name: OUTLOOK.EXE, version:"));
        assert!(message.chars().count() <= MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'), "a long message is cut: {message}");

        let rows = d.event_rows();
        assert_eq!(
            rows[0].0,
            "2026-12-03 21:14 UTC · System · Microsoft-Windows-Kernel-Power 41"
        );
        assert!(rows[0].1.starts_with("Critical: The system has rebooted"));
    }

    #[test]
    fn an_unreadable_event_log_is_said_and_the_other_log_still_counts() {
        let mut source = laptop();
        source
            .event_errors
            .insert("System".into(), "access denied (5)".into());
        let d = details(&source, &[], NOW);
        assert!(d.recent_errors.iter().all(|e| e.log == "Application"));
        assert_eq!(
            d.event_log_error.as_deref(),
            Some("System: access denied (5)")
        );
        let rows = d.event_rows();
        assert_eq!(
            rows.last().unwrap(),
            &(
                "Event log".to_owned(),
                "not readable: System: access denied (5)".to_owned()
            )
        );
        source.events.clear();
        source.event_errors.clear();
        assert_eq!(
            details(&source, &[], NOW).event_rows(),
            vec![(
                "Event log".to_owned(),
                "no errors in the last 24 hours".to_owned()
            )]
        );
    }

    #[test]
    fn event_xml_parsing_is_strict_about_what_it_needs() {
        let ok = RawEvent {
            xml: "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
                  <Provider Name='Disk &amp; Co'/><EventID Qualifiers='49156'>7</EventID>\
                  <Level>2</Level><TimeCreated SystemTime='2026-12-03T20:00:00.1234567Z'/>\
                  </System></Event>"
                .into(),
            message: Some("  The device,\r\n \\Device\\Harddisk1\\DR1, has a bad block.  ".into()),
        };
        let e = parse_event("System", &ok).unwrap();
        assert_eq!(e.source, "Disk & Co");
        assert_eq!(e.event_id, 7, "EventID with Qualifiers");
        assert_eq!(e.time, "2026-12-03T20:00:00Z");
        assert_eq!(
            e.message.as_deref(),
            Some(r"The device, \Device\Harddisk1\DR1, has a bad block.")
        );
        // A provider named like a later tag (and not ASCII) neither panics nor hides the event:
        // any user may write to the Application log under any source name.
        let tricky = RawEvent {
            xml: ok.xml.replace("Disk &amp; Co", "Levelé &lt;EventID&gt;"),
            message: None,
        };
        let e = parse_event("Application", &tricky).expect("still read");
        assert_eq!((e.source.as_str(), e.event_id), ("Levelé <EventID>", 7));
        // <EventIDX> is not <EventID>; an event without a parsable id or time is dropped.
        for broken in [
            ok.xml.replace(
                "<EventID Qualifiers='49156'>7</EventID>",
                "<EventIDX>7</EventIDX>",
            ),
            ok.xml.replace(
                "SystemTime='2026-12-03T20:00:00.1234567Z'",
                "SystemTime='yesterday'",
            ),
            ok.xml.replace("<Level>2</Level>", "<Level>3</Level>"),
            ok.xml
                .replace("<Provider Name='Disk &amp; Co'/>", "<Provider/>"),
            String::new(),
        ] {
            let raw = RawEvent {
                xml: broken.clone(),
                message: None,
            };
            assert_eq!(parse_event("System", &raw), None, "{broken}");
        }
    }

    #[test]
    fn long_or_hostile_strings_are_bounded() {
        let mut source = laptop();
        source.printers = Some(vec![RawPrinter {
            name: "P".repeat(10_000),
            ..RawPrinter::default()
        }]);
        source.registry.insert(
            format!(r"{CURRENT_VERSION}\ProductName"),
            RecordedValue::String("W".repeat(5000)),
        );
        let d = details(&source, &[], NOW);
        assert_eq!(d.printers[0].name.chars().count(), FIELD_CHARS + 1);
        assert_eq!(d.edition.chars().count(), FIELD_CHARS + 1);
        source.printers = Some(vec![RawPrinter::default(); 500]);
        assert_eq!(details(&source, &[], NOW).printers.len(), MAX_PRINTERS);
        // A print server's hundreds of queues never push the default out of the list.
        let mut many: Vec<RawPrinter> = (0..100)
            .map(|i| RawPrinter {
                name: format!("Queue {i:03}"),
                ..RawPrinter::default()
            })
            .collect();
        many.push(RawPrinter {
            name: "zz Front desk".into(),
            ..RawPrinter::default()
        });
        source.printers = Some(many);
        source.default_printer = Some("ZZ FRONT DESK".into());
        let d = details(&source, &[], NOW);
        assert_eq!(d.printers.len(), MAX_PRINTERS);
        assert!(d.printers[0].is_default && d.printers[0].name == "zz Front desk");
        // An uptime longer than the epoch gives no boot time rather than a panic.
        source.uptime_ms = Some(u64::MAX);
        assert_eq!(details(&source, &[], 0).last_boot, None);
    }
}
