//! Machine inventory: what a technician needs to know about the computer a ticket comes from.
//!
//! [`collect`] gathers everything in one go (hostname, user, OS, CPU, memory, disks, network,
//! top processes). It only refreshes what it needs from `sysinfo`, so with a zero CPU window it
//! takes a few milliseconds. [`Inventory::display_sections`] turns the result into the labelled
//! rows shown in the form's "What we collected" disclosure and in the ticket body.

// Only Windows collects it; elsewhere the tests turn recorded Windows data.
#[cfg_attr(not(windows), allow(dead_code))]
mod windows;
#[cfg(windows)]
mod windows_api;

pub use windows::{
    EventEntry, Printer, RawEvent, RawPrinter, RecordedSource, VolumeProtection, WindowsDetails,
    WindowsSource,
};

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

/// How many processes the top-CPU and top-memory lists keep.
const TOP_PROCESSES: usize = 5;

/// Everything collected about the machine at one point in time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    /// RFC 3339 UTC timestamp, second precision, e.g. `2024-05-01T09:30:00Z`.
    pub collected_at: String,
    pub hostname: String,
    pub user: UserInfo,
    pub os: OsInfo,
    pub uptime_secs: u64,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub disks: Vec<DiskInfo>,
    /// Network interfaces except loopback; the primary interface (if known) comes first, the rest
    /// in name order.
    pub network: Vec<NetworkInterface>,
    /// Top processes by CPU, highest first (ties broken by pid).
    pub top_cpu: Vec<ProcessInfo>,
    /// Top processes by resident memory, highest first (ties broken by pid).
    pub top_memory: Vec<ProcessInfo>,
    pub app_version: String,
    /// IANA time zone name, e.g. `Europe/Berlin`; `UTC` when it cannot be determined.
    pub time_zone: String,
    /// Edition, build, last boot, pending reboot, BitLocker, printers and recent event log
    /// errors: on Windows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsDetails>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    /// Full name from the account database (GECOS on Unix); `None` when empty or the same as
    /// the username.
    pub full_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OsInfo {
    /// Distribution / product name, e.g. `Debian GNU/Linux`, `Windows`, `Darwin`.
    pub name: String,
    /// OS version, e.g. `12`, `11 (22631)`, `14.4.1`.
    pub version: String,
    /// Long human-readable name, e.g. `Linux (Debian GNU/Linux 12)`, `Windows 11 Pro`.
    pub long_name: String,
    /// Kernel version, e.g. `6.1.0-18-amd64`.
    pub kernel: String,
    /// CPU architecture, e.g. `x86_64`, `arm64`.
    pub arch: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CpuInfo {
    pub model: String,
    pub physical_cores: Option<usize>,
    pub logical_cores: usize,
    /// 1, 5 and 15 minute load averages (all zero where the OS has no such notion, i.e. Windows).
    pub load_average: [f64; 3],
    /// Whole-machine CPU usage over the sampling window; `None` when no window was used.
    pub usage_percent: Option<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemoryInfo {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub used_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DiskInfo {
    pub mount_point: String,
    /// Device (`/dev/nvme0n1p2`) on Unix, volume label on Windows.
    pub name: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub removable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkInterface {
    pub name: String,
    /// Lower-case `aa:bb:cc:dd:ee:ff`; `None` when the interface has no (or an all-zero) MAC.
    pub mac: Option<String>,
    /// Sorted numerically.
    pub ipv4: Vec<String>,
    /// Global addresses first, then unique-local, then link-local; numerically within each.
    pub ipv6: Vec<String>,
    pub is_primary: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    /// Percent of one CPU core (so it can exceed 100 on multi-core machines).
    pub cpu_percent: f32,
    /// Resident memory.
    pub memory_bytes: u64,
}

/// A titled group of `(label, value)` rows. Rows serialize as `[label, value]` pairs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DisplaySection {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

/// Collects everything.
///
/// `cpu_window` is the time between the two process/CPU samples used for CPU percentages. Pass
/// [`Duration::ZERO`] to skip the second sample: then each process's `cpu_percent` is the
/// average over its lifetime (accumulated CPU time / run time) and `cpu.usage_percent` is `None`.
/// A non-zero window shorter than [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] (200 ms on Linux,
/// macOS and Windows) is raised to that minimum, because sysinfo ignores CPU-time refreshes that
/// come sooner and would otherwise report garbage.
///
/// This blocks (file system reads, plus a `thread::sleep` for the window): from async code call
/// it through `tokio::task::spawn_blocking`. It never fails; anything unavailable is left
/// empty/zero.
pub fn collect(app_version: &str, cpu_window: Duration) -> Inventory {
    let started = Instant::now();

    let system = collect_system(cpu_window);
    let disks = collect_disks();
    let network = collect_network();
    let inventory = Inventory {
        collected_at: now_rfc3339(),
        hostname: hostname(),
        user: collect_user(),
        os: collect_os(),
        uptime_secs: System::uptime().unwrap_or(0),
        cpu: system.cpu,
        memory: system.memory,
        disks,
        network,
        top_cpu: system.top_cpu,
        top_memory: system.top_memory,
        app_version: app_version.to_owned(),
        time_zone: iana_time_zone::get_timezone().unwrap_or_else(|_| "UTC".to_owned()),
        windows: None,
    };
    #[cfg(windows)]
    let inventory = {
        let mut inventory = inventory;
        let mounts: Vec<&str> = inventory
            .disks
            .iter()
            .map(|d| d.mount_point.as_str())
            .collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        inventory.windows = Some(windows::details(&windows_api::SystemSource, &mounts, now));
        inventory
    };

    tracing::debug!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        cpu_window_ms = cpu_window.as_millis() as u64,
        processes = system.process_count,
        disks = inventory.disks.len(),
        interfaces = inventory.network.len(),
        "inventory collected"
    );
    inventory
}

impl Inventory {
    /// The interface carrying the default route (Linux) or the heuristic pick (other OSes).
    pub fn primary_interface(&self) -> Option<&NetworkInterface> {
        self.network.iter().find(|i| i.is_primary)
    }

    /// First IPv4 address of the primary interface; else of the first (non-loopback) interface
    /// that has one.
    pub fn primary_ipv4(&self) -> Option<&str> {
        self.primary_interface()
            .and_then(|i| i.ipv4.first())
            .or_else(|| self.network.iter().find_map(|i| i.ipv4.first()))
            .map(String::as_str)
    }

    /// MAC address of the primary interface.
    pub fn primary_mac(&self) -> Option<&str> {
        self.primary_interface().and_then(|i| i.mac.as_deref())
    }

    /// `"username (Full Name)"`, or just `"username"` without a full name.
    pub fn display_name(&self) -> String {
        match &self.user.full_name {
            Some(full) => format!("{} ({full})", self.user.username),
            None => self.user.username.clone(),
        }
    }

    /// Human-readable sections, always these six in this order: "Computer", "Hardware",
    /// "Disks", "Network", "Top processes by CPU", "Top processes by memory". A section whose
    /// list is empty (e.g. no disks detected) has no rows.
    pub fn display_sections(&self) -> Vec<DisplaySection> {
        fn row(label: impl Into<String>, value: impl Into<String>) -> (String, String) {
            (label.into(), value.into())
        }

        let computer = vec![
            row("Hostname", &self.hostname),
            row("User", self.display_name()),
            row(
                "Operating system",
                match &self.windows {
                    Some(w) => w.os_line(),
                    None => self.os_display(),
                },
            ),
            row("Kernel", &self.os.kernel),
            row("Architecture", &self.os.arch),
            row("Uptime", format_duration(self.uptime_secs)),
            row("Time zone", &self.time_zone),
            row("App version", &self.app_version),
        ];

        let cores = match self.cpu.physical_cores {
            Some(physical) => format!("{physical} physical / {} logical", self.cpu.logical_cores),
            None => format!("{} logical", self.cpu.logical_cores),
        };
        let [one, five, fifteen] = self.cpu.load_average;
        // Windows has no load average; sysinfo reports zeros there.
        let no_load_average = self.os.name.to_ascii_lowercase().starts_with("windows");
        let load = if no_load_average && self.cpu.load_average == [0.0; 3] {
            "not available".to_owned()
        } else {
            format!("{one:.2} {five:.2} {fifteen:.2}")
        };
        let mut hardware = vec![
            row("CPU", &self.cpu.model),
            row("Cores", cores),
            row("Load average", load),
        ];
        if let Some(usage) = self.cpu.usage_percent {
            hardware.push(row("CPU usage", format!("{usage:.1} %")));
        }
        hardware.push(row(
            "Memory",
            format!(
                "{} of {} used",
                format_bytes(self.memory.used_bytes),
                format_bytes(self.memory.total_bytes)
            ),
        ));
        hardware.push(row(
            "Swap",
            if self.memory.swap_total_bytes == 0 {
                "none".to_owned()
            } else {
                format!(
                    "{} of {} used",
                    format_bytes(self.memory.swap_used_bytes),
                    format_bytes(self.memory.swap_total_bytes)
                )
            },
        ));

        let disks = self
            .disks
            .iter()
            .map(|d| {
                let mut details = d.file_system.clone();
                if d.removable {
                    if !details.is_empty() {
                        details.push_str(", ");
                    }
                    details.push_str("removable");
                }
                if let Some(state) = self
                    .windows
                    .as_ref()
                    .and_then(|w| w.bitlocker_of(&d.mount_point))
                {
                    if !details.is_empty() {
                        details.push_str(", ");
                    }
                    details.push_str(&format!("BitLocker {state}"));
                }
                let mut value = format!(
                    "{} free of {}",
                    format_bytes(d.available_bytes),
                    format_bytes(d.total_bytes)
                );
                if !details.is_empty() {
                    value.push_str(&format!(" ({details})"));
                }
                row(&d.mount_point, value)
            })
            .collect();

        let network = self
            .network
            .iter()
            .map(|i| {
                let label = if i.is_primary {
                    format!("{} (primary)", i.name)
                } else {
                    i.name.clone()
                };
                let addresses = i
                    .ipv4
                    .iter()
                    .chain(&i.ipv6)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                let value = match (addresses.is_empty(), &i.mac) {
                    (false, Some(mac)) => format!("{addresses} · {mac}"),
                    (false, None) => addresses,
                    (true, Some(mac)) => format!("no address · {mac}"),
                    (true, None) => "no address".to_owned(),
                };
                row(label, value)
            })
            .collect();

        let processes = |list: &[ProcessInfo]| {
            list.iter()
                .map(|p| {
                    row(
                        format!("{} ({})", p.name, p.pid),
                        format!(
                            "{:.1} % CPU · {}",
                            p.cpu_percent,
                            format_bytes(p.memory_bytes)
                        ),
                    )
                })
                .collect()
        };

        let section = |title: &str, rows| DisplaySection {
            title: title.into(),
            rows,
        };
        let mut sections = vec![section("Computer", computer)];
        if let Some(w) = &self.windows {
            sections.push(section("Windows", w.summary_rows()));
        }
        sections.push(section("Hardware", hardware));
        sections.push(section("Disks", disks));
        if let Some(w) = &self.windows {
            sections.push(section("Printers", w.printer_rows()));
            sections.push(section("Recent errors (24 h)", w.event_rows()));
        }
        sections.push(section("Network", network));
        sections.push(section("Top processes by CPU", processes(&self.top_cpu)));
        sections.push(section(
            "Top processes by memory",
            processes(&self.top_memory),
        ));
        sections
    }

    /// Long OS name, with the version appended when the long name does not already carry it.
    pub fn os_display(&self) -> String {
        let long = if self.os.long_name.is_empty() {
            &self.os.name
        } else {
            &self.os.long_name
        };
        if self.os.version.is_empty() || long.contains(&self.os.version) {
            long.clone()
        } else if long.is_empty() {
            self.os.version.clone()
        } else {
            format!("{long} {}", self.os.version)
        }
    }
}

/// Binary units: `"512 B"`, `"1.5 KiB"`, `"350 MiB"`, `"7.8 GiB"`, `"1.2 TiB"`.
///
/// KiB and MiB get one decimal below 10 and none above; GiB and larger always get one decimal.
/// A value that would round up to 1024 of a unit is shown in the next unit instead.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    for (index, unit) in UNITS.iter().enumerate() {
        value /= 1024.0;
        let decimals = if index >= 2 || value < 9.95 { 1 } else { 0 };
        let scale = if decimals == 1 { 10.0 } else { 1.0 };
        let rounded = (value * scale).round() / scale;
        if rounded < 1024.0 || index == UNITS.len() - 1 {
            return format!("{rounded:.decimals$} {unit}");
        }
    }
    unreachable!("the last unit always returns")
}

/// Coarse duration: `"45 s"`, `"12 min"`, `"3 h 5 min"`, `"3 d 4 h"`. Only the two largest
/// units are shown, rounded down; a zero second unit is left out (`"3 h"`, `"2 d"`).
pub fn format_duration(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    if secs < MINUTE {
        format!("{secs} s")
    } else if secs < HOUR {
        format!("{} min", secs / MINUTE)
    } else if secs < DAY {
        let (h, m) = (secs / HOUR, secs % HOUR / MINUTE);
        if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else {
        let (d, h) = (secs / DAY, secs % DAY / HOUR);
        if h == 0 {
            format!("{d} d")
        } else {
            format!("{d} d {h} h")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Collection helpers
// ---------------------------------------------------------------------------------------------

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// This machine's name and the MAC of its primary interface, without the rest of the inventory:
/// what a relay binds an enrolled device to.
pub fn machine_identity() -> (String, Option<String>) {
    let network = collect_network();
    let mac = network
        .iter()
        .find(|i| i.is_primary)
        .or_else(|| network.first())
        .and_then(|i| i.mac.clone());
    (hostname(), mac)
}

fn hostname() -> String {
    System::host_name()
        .ok()
        .or_else(|| whoami::hostname().ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn collect_user() -> UserInfo {
    let username = whoami::username()
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| {
            ["USER", "USERNAME", "LOGNAME"]
                .iter()
                .filter_map(|var| std::env::var(var).ok())
                .find(|u| !u.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let full_name = whoami::realname()
        .ok()
        .and_then(|name| clean_full_name(&name, &username));
    UserInfo {
        username,
        full_name,
    }
}

/// GECOS/real name cleaned up: `None` when empty or just the username again.
fn clean_full_name(full_name: &str, username: &str) -> Option<String> {
    let full_name = full_name.trim();
    if full_name.is_empty() || full_name.eq_ignore_ascii_case(username) {
        None
    } else {
        Some(full_name.to_owned())
    }
}

fn collect_os() -> OsInfo {
    OsInfo {
        name: System::name().unwrap_or_default(),
        version: System::os_version().unwrap_or_default(),
        long_name: System::long_os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
    }
}

struct SystemPart {
    cpu: CpuInfo,
    memory: MemoryInfo,
    top_cpu: Vec<ProcessInfo>,
    top_memory: Vec<ProcessInfo>,
    process_count: usize,
}

fn collect_system(cpu_window: Duration) -> SystemPart {
    // Windows has no load average: sysinfo emulates one with a performance-counter thread (which
    // Wine lacks, and which an idle app should not run); the display says "not available".
    #[cfg(windows)]
    let load_average = [0.0; 3];
    #[cfg(not(windows))]
    let load_average = System::load_average()
        .map(|l| [l.one, l.five, l.fifteen])
        .unwrap_or([0.0; 3]);
    let physical_cores = System::physical_core_count().ok().filter(|&n| n > 0);
    let fallback_logical = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let Ok(mut sys) = System::new() else {
        tracing::debug!("sysinfo System unavailable on this platform");
        return SystemPart {
            cpu: CpuInfo {
                model: String::new(),
                physical_cores,
                logical_cores: fallback_logical,
                load_average,
                usage_percent: None,
            },
            memory: MemoryInfo {
                total_bytes: 0,
                available_bytes: 0,
                used_bytes: 0,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            top_cpu: Vec::new(),
            top_memory: Vec::new(),
            process_count: 0,
        };
    };

    // Only what we need: CPU times (no frequency, which is slow), memory, and per-process CPU +
    // memory (no tasks/threads, cmd, environ, exe, cwd, user, disk usage).
    let process_kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .without_tasks();
    // CPU usage before processes in each sample: on Linux the process refresh re-reads the global
    // CPU times only if the CPU refresh is older than MINIMUM_CPU_UPDATE_INTERVAL, so both share
    // one interval.
    //
    // On Windows, sysinfo measures the machine's CPU usage with a performance-counter query that
    // is slow to open (and that Wine lacks); the system's own idle and busy times
    // (`GetSystemTimes`) give the same figure. sysinfo still reads the CPU list and model.
    #[cfg(not(windows))]
    let cpu_usage = CpuRefreshKind::nothing().with_usage();
    #[cfg(windows)]
    let cpu_usage = CpuRefreshKind::nothing();
    #[cfg(windows)]
    let times_before = windows_api::cpu_times();
    sys.refresh_cpu_specifics(cpu_usage);
    sys.refresh_memory_specifics(MemoryRefreshKind::everything());
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, process_kind);

    let sampled = !cpu_window.is_zero();
    if sampled {
        std::thread::sleep(cpu_window.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL));
        sys.refresh_cpu_specifics(cpu_usage);
        sys.refresh_processes_specifics(ProcessesToUpdate::All, true, process_kind);
    }
    #[cfg(not(windows))]
    let global_usage = sys.global_cpu_usage();
    #[cfg(windows)]
    let global_usage = match (times_before, windows_api::cpu_times()) {
        (Some(before), Some(after)) => windows::busy_percent(before, after),
        _ => 0.0,
    };

    let logical_cores = if sys.cpus().is_empty() {
        fallback_logical
    } else {
        sys.cpus().len()
    };
    let model = sys
        .cpus()
        .iter()
        .map(|c| c.brand().trim())
        .find(|b| !b.is_empty())
        .unwrap_or_default()
        .to_owned();
    let usage_percent = sampled.then(|| global_usage.clamp(0.0, 100.0));

    let max_percent = 100.0 * logical_cores as f32;
    let processes: Vec<ProcessInfo> = sys
        .processes()
        .values()
        // Userland threads are tasks of a process, not processes (we do not ask for them anyway).
        .filter(|p| p.thread_kind() != Some(sysinfo::ThreadKind::Userland))
        .map(|p| {
            let cpu_percent = if sampled {
                p.cpu_usage()
            } else {
                lifetime_cpu_percent(p.accumulated_cpu_time(), p.run_time())
            };
            ProcessInfo {
                pid: p.pid().as_u32(),
                name: p.name().to_string_lossy().into_owned(),
                cpu_percent: if cpu_percent.is_finite() {
                    cpu_percent.clamp(0.0, max_percent)
                } else {
                    0.0
                },
                memory_bytes: p.memory(),
            }
        })
        .filter(|p| !is_idle_pseudo_process(p))
        .collect();

    SystemPart {
        cpu: CpuInfo {
            model,
            physical_cores,
            logical_cores,
            load_average,
            usage_percent,
        },
        memory: MemoryInfo {
            total_bytes: sys.total_memory(),
            available_bytes: sys.available_memory(),
            used_bytes: sys.used_memory(),
            swap_total_bytes: sys.total_swap(),
            swap_used_bytes: sys.used_swap(),
        },
        top_cpu: top_by(&processes, |a, b| b.cpu_percent.total_cmp(&a.cpu_percent)),
        top_memory: top_by(&processes, |a, b| b.memory_bytes.cmp(&a.memory_bytes)),
        process_count: processes.len(),
    }
}

/// Average CPU over a process's lifetime, in percent of one core. `accumulated_ms` is CPU time in
/// milliseconds, `run_time_secs` wall-clock seconds since the process started (whole seconds, so
/// a process younger than a second counts as one second old).
fn lifetime_cpu_percent(accumulated_ms: u64, run_time_secs: u64) -> f32 {
    let run_time_ms = run_time_secs.max(1) as f64 * 1000.0;
    (accumulated_ms as f64 / run_time_ms * 100.0) as f32
}

/// pid 0 is the idle task / "System Idle Process" (Windows) / `kernel_task` (macOS) and never
/// something a user started.
fn is_idle_pseudo_process(p: &ProcessInfo) -> bool {
    p.pid == 0 || p.name == "System Idle Process" || p.name == "Idle"
}

/// The first [`TOP_PROCESSES`] by `order` (which should put the "largest" first), ties by pid.
fn top_by(
    processes: &[ProcessInfo],
    order: impl Fn(&ProcessInfo, &ProcessInfo) -> std::cmp::Ordering,
) -> Vec<ProcessInfo> {
    let mut sorted = processes.to_vec();
    sorted.sort_by(|a, b| order(a, b).then(a.pid.cmp(&b.pid)));
    sorted.truncate(TOP_PROCESSES);
    sorted
}

fn collect_disks() -> Vec<DiskInfo> {
    let Ok(disks) =
        Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
    else {
        return Vec::new();
    };
    let disks = disks
        .iter()
        .map(|d| DiskInfo {
            mount_point: d.mount_point().to_string_lossy().into_owned(),
            name: d.name().to_string_lossy().into_owned(),
            file_system: d.file_system().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            available_bytes: d.available_space(),
            removable: d.is_removable(),
        })
        .collect();
    real_disks(disks, cfg!(windows))
}

/// File systems that are not disks (memory-backed, kernel interfaces, container layers, snaps,
/// user-space virtual file systems). Compared case-insensitively.
const PSEUDO_FILE_SYSTEMS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "ramfs",
    "rootfs",
    "overlay",
    "overlayfs",
    "aufs",
    "squashfs",
    "proc",
    "procfs",
    "sysfs",
    "devfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "autofs",
    "efivarfs",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "nsfs",
    "binfmt_misc",
    "rpc_pipefs",
    "fdescfs",
    "nullfs",
    "linprocfs",
    "linsysfs",
    "none",
    "zram",
    "iso9660",
    "udf",
    "selinuxfs",
    "ramdisk",
];

/// Keeps real disks only: drops pseudo file systems, empty ones, macOS system sub-volumes that
/// share the data volume's space, and second mounts of the same device (keeping the shortest
/// mount point). Result is sorted by mount point. `by_mount_point`: Windows, where a "name" is a
/// volume label, which repeats (often empty), so the drive letter is the identity.
fn real_disks(mut disks: Vec<DiskInfo>, by_mount_point: bool) -> Vec<DiskInfo> {
    disks.retain(|d| {
        let fs = d.file_system.to_ascii_lowercase();
        let pseudo = PSEUDO_FILE_SYSTEMS.contains(&fs.as_str())
            // fuse.portal, fuse.gvfsd-fuse, fuse.snapfuse, fuse.lxcfs, ... (`fuseblk` is NTFS etc.)
            || fs.starts_with("fuse.");
        let macos_system_volume = d.mount_point.starts_with("/System/Volumes/")
            && d.mount_point != "/System/Volumes/Data";
        !pseudo && !macos_system_volume && d.total_bytes > 0
    });
    // Shortest mount point first so the dedup below keeps `/` over a bind mount of the same device.
    disks.sort_by(|a, b| {
        (a.mount_point.len(), &a.mount_point).cmp(&(b.mount_point.len(), &b.mount_point))
    });
    let mut seen = std::collections::HashSet::new();
    disks.retain(|d| {
        // Unix device names identify the device.
        let key = if by_mount_point || d.name.is_empty() {
            &d.mount_point
        } else {
            &d.name
        };
        seen.insert(key.clone())
    });
    disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    disks
}

fn collect_network() -> Vec<NetworkInterface> {
    let Ok(networks) = Networks::new_with_refreshed_list() else {
        return Vec::new();
    };
    let mut interfaces: Vec<NetworkInterface> = networks
        .iter()
        .filter_map(|(name, data)| {
            let addrs: Vec<IpAddr> = data.ip_networks().iter().map(|n| n.addr).collect();
            build_interface(&name.to_string_lossy(), data.mac_address().0, &addrs)
        })
        .collect();

    if let Some(primary) = primary_interface_name(&interfaces) {
        for interface in &mut interfaces {
            interface.is_primary = interface.name == primary;
        }
    }
    interfaces.sort_by(|a, b| {
        b.is_primary
            .cmp(&a.is_primary)
            .then_with(|| a.name.cmp(&b.name))
    });
    interfaces
}

/// Builds the list entry for one interface, or `None` for loopback and for interfaces with
/// neither an address nor a MAC (tunnels that are down, etc.).
fn build_interface(name: &str, mac: [u8; 6], addrs: &[IpAddr]) -> Option<NetworkInterface> {
    let name_is_loopback = name == "lo"
        || (name.len() > 2
            && name.starts_with("lo")
            && name[2..].bytes().all(|b| b.is_ascii_digit()));
    let all_loopback = !addrs.is_empty() && addrs.iter().all(IpAddr::is_loopback);
    if name_is_loopback || all_loopback {
        return None;
    }
    let mac = format_mac(mac);

    let mut v4: Vec<_> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            _ => None,
        })
        .collect();
    v4.sort();
    v4.dedup();
    let mut v6: Vec<_> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(v6) => Some(*v6),
            _ => None,
        })
        .collect();
    // Global first, then unique-local (fc00::/7), then link-local (fe80::/10).
    let rank = |a: &std::net::Ipv6Addr| match a.segments()[0] {
        s if s & 0xffc0 == 0xfe80 => 2,
        s if s & 0xfe00 == 0xfc00 => 1,
        _ => 0,
    };
    v6.sort_by_key(|a| (rank(a), *a));
    v6.dedup();

    if mac.is_none() && v4.is_empty() && v6.is_empty() {
        return None;
    }
    Some(NetworkInterface {
        name: name.to_owned(),
        mac,
        ipv4: v4.iter().map(ToString::to_string).collect(),
        ipv6: v6.iter().map(ToString::to_string).collect(),
        is_primary: false,
    })
}

/// Lower-case colon-separated MAC, `None` when all zero.
fn format_mac(mac: [u8; 6]) -> Option<String> {
    if mac == [0; 6] {
        return None;
    }
    Some(
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Linux: the interface carrying the IPv4 default route with the lowest metric, else the IPv6
/// one. No default route (offline machine) means no primary interface.
#[cfg(target_os = "linux")]
fn primary_interface_name(_interfaces: &[NetworkInterface]) -> Option<String> {
    std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|text| default_route_interface_v4(&text))
        .or_else(|| {
            std::fs::read_to_string("/proc/net/ipv6_route")
                .ok()
                .and_then(|text| default_route_interface_v6(&text))
        })
}

/// Windows / macOS / others: we do not read the routing table there. This is a heuristic, not
/// the default route: the first interface in name order (loopback is already excluded) that has
/// an IPv4 address and a non-zero MAC. It can pick e.g. a VPN or virtual-machine adapter.
#[cfg(not(target_os = "linux"))]
fn primary_interface_name(interfaces: &[NetworkInterface]) -> Option<String> {
    heuristic_primary(interfaces)
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
fn heuristic_primary(interfaces: &[NetworkInterface]) -> Option<String> {
    interfaces
        .iter()
        .filter(|i| !i.ipv4.is_empty() && i.mac.is_some())
        .map(|i| &i.name)
        .min()
        .cloned()
}

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// Parses `/proc/net/route` text: the interface of the usable IPv4 default route (destination and
/// mask `00000000`, flag RTF_UP) with the lowest metric; the first one listed on a tie.
///
/// Format: header line, then `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window
/// IRTT`, whitespace separated; addresses and flags in hex, metric in decimal.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn default_route_interface_v4(route_text: &str) -> Option<String> {
    let mut best: Option<(u64, &str)> = None;
    for line in route_text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [iface, destination, _gateway, flags, _refcnt, _use, metric, rest @ ..] =
            fields.as_slice()
        else {
            continue;
        };
        let (Ok(destination), Ok(flags), Ok(metric)) = (
            u32::from_str_radix(destination, 16),
            u32::from_str_radix(flags, 16),
            metric.parse::<u64>(),
        ) else {
            continue; // header line or garbage
        };
        let mask_is_zero = rest
            .first()
            .is_none_or(|mask| u32::from_str_radix(mask, 16) == Ok(0));
        let usable =
            destination == 0 && mask_is_zero && flags & RTF_UP != 0 && flags & RTF_REJECT == 0;
        if usable && *iface != "lo" && best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, iface));
        }
    }
    best.map(|(_, iface)| iface.to_owned())
}

/// Parses `/proc/net/ipv6_route` text: the interface of the usable IPv6 default route
/// (destination `::`, prefix length 0, RTF_UP and not RTF_REJECT — the kernel lists an
/// unreachable `::/0` on `lo`) with the lowest metric; the first one listed on a tie.
///
/// Format, no header: `dest dest_prefix src src_prefix next_hop metric refcnt use flags iface`,
/// all hex.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn default_route_interface_v6(route_text: &str) -> Option<String> {
    let mut best: Option<(u64, &str)> = None;
    for line in route_text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // dest dest_prefix src src_prefix next_hop metric refcnt use flags iface
        let [destination, prefix, _, _, _, metric, _, _, flags, iface, ..] = fields.as_slice()
        else {
            continue;
        };
        let (Ok(prefix), Ok(metric), Ok(flags)) = (
            u8::from_str_radix(prefix, 16),
            u64::from_str_radix(metric, 16),
            u32::from_str_radix(flags, 16),
        ) else {
            continue;
        };
        let destination_is_any = destination.len() == 32 && destination.bytes().all(|b| b == b'0');
        let usable =
            destination_is_any && prefix == 0 && flags & RTF_UP != 0 && flags & RTF_REJECT == 0;
        if usable && *iface != "lo" && best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, iface));
        }
    }
    best.map(|(_, iface)| iface.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- route parsing --------------------------------------------------------------------

    const ROUTE_TWO_DEFAULTS: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
enp0s31f6\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
enp0s31f6\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn v4_default_route_picks_lowest_metric() {
        assert_eq!(
            default_route_interface_v4(ROUTE_TWO_DEFAULTS).as_deref(),
            Some("enp0s31f6")
        );
        // Order must not matter: put the low-metric route first.
        let reversed: String = {
            let mut lines: Vec<&str> = ROUTE_TWO_DEFAULTS.lines().collect();
            lines.swap(1, 2);
            lines.join("\n")
        };
        assert_eq!(
            default_route_interface_v4(&reversed).as_deref(),
            Some("enp0s31f6")
        );
    }

    #[test]
    fn v4_no_default_route() {
        let text = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";
        assert_eq!(default_route_interface_v4(text), None);
        assert_eq!(default_route_interface_v4(""), None);
        // A default route that is not up, or is a reject route, does not count.
        let down =
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0
eth1\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0
";
        assert_eq!(default_route_interface_v4(down), None);
    }

    #[test]
    fn v4_single_default_route_from_real_format() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               
";
        assert_eq!(default_route_interface_v4(text).as_deref(), Some("eth0"));
    }

    const IPV6_ROUTE: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000600 00000002 00000000 00000003    wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn v6_default_route_picks_lowest_metric_and_skips_unreachable_lo() {
        assert_eq!(
            default_route_interface_v6(IPV6_ROUTE).as_deref(),
            Some("eth0")
        );
        // Only the kernel's unreachable ::/0 on lo and non-default routes: no default route.
        let no_default: String = IPV6_ROUTE
            .lines()
            .filter(|l| !l.starts_with("00000000000000000000000000000000 00") || l.ends_with("lo"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(default_route_interface_v6(&no_default), None);
        // A /0 route only counts with an all-zero destination.
        let wrong_dest = "20010db8000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000001 00000001 00000000 00000003 eth9\n";
        assert_eq!(default_route_interface_v6(wrong_dest), None);
    }

    // --- formatting -------------------------------------------------------------------------

    #[test]
    fn format_bytes_units_and_rounding() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(10 * 1024), "10 KiB");
        assert_eq!(format_bytes(350 * 1024 * 1024), "350 MiB");
        assert_eq!(format_bytes(350 * 1024 * 1024 + 400 * 1024), "350 MiB");
        assert_eq!(format_bytes(1024 * 1024 - 1), "1.0 MiB"); // would be "1024 KiB"
        assert_eq!(
            format_bytes(7_800 * 1024 * 1024 + 1024 * 1024 * 1024 / 100),
            "7.6 GiB"
        );
        assert_eq!(
            format_bytes((7.8 * 1024.0 * 1024.0 * 1024.0) as u64),
            "7.8 GiB"
        );
        assert_eq!(
            format_bytes((476.94 * 1024.0 * 1024.0 * 1024.0) as u64),
            "476.9 GiB"
        );
        assert_eq!(format_bytes((1.2 * 1024f64.powi(4)) as u64), "1.2 TiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn format_duration_boundaries() {
        assert_eq!(format_duration(0), "0 s");
        assert_eq!(format_duration(45), "45 s");
        assert_eq!(format_duration(59), "59 s");
        assert_eq!(format_duration(60), "1 min");
        assert_eq!(format_duration(12 * 60 + 59), "12 min");
        assert_eq!(format_duration(3600), "1 h");
        assert_eq!(format_duration(3 * 3600 + 5 * 60 + 30), "3 h 5 min");
        assert_eq!(format_duration(86_399), "23 h 59 min");
        assert_eq!(format_duration(86_400), "1 d");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600 + 59 * 60), "3 d 4 h");
    }

    // --- pure helpers -----------------------------------------------------------------------

    fn process(pid: u32, name: &str, cpu: f32, mem: u64) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: name.into(),
            cpu_percent: cpu,
            memory_bytes: mem,
        }
    }

    #[test]
    fn top_lists_sorted_descending_ties_by_pid_and_truncated() {
        let procs = vec![
            process(9, "a", 1.0, 100),
            process(3, "b", 5.0, 100),
            process(7, "c", 5.0, 300),
            process(1, "d", 0.0, 50),
            process(2, "e", 2.0, 100),
            process(4, "f", 0.5, 100),
            process(5, "g", 9.0, 10),
        ];
        let by_cpu = top_by(&procs, |a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
        assert_eq!(
            by_cpu.iter().map(|p| p.pid).collect::<Vec<_>>(),
            [5, 3, 7, 2, 9]
        );
        let by_mem = top_by(&procs, |a, b| b.memory_bytes.cmp(&a.memory_bytes));
        assert_eq!(
            by_mem.iter().map(|p| p.pid).collect::<Vec<_>>(),
            [7, 2, 3, 4, 9]
        );
    }

    #[test]
    fn lifetime_cpu_and_idle_filter() {
        assert_eq!(lifetime_cpu_percent(5_000, 10), 50.0);
        assert_eq!(lifetime_cpu_percent(30_000, 10), 300.0);
        assert_eq!(lifetime_cpu_percent(500, 0), 50.0); // younger than a second
        assert!(is_idle_pseudo_process(&process(0, "kernel_task", 0.0, 0)));
        assert!(is_idle_pseudo_process(&process(
            4,
            "System Idle Process",
            0.0,
            0
        )));
        assert!(!is_idle_pseudo_process(&process(1, "systemd", 0.0, 0)));
    }

    #[test]
    fn full_name_cleanup() {
        assert_eq!(
            clean_full_name("  Ada Lovelace ", "ada"),
            Some("Ada Lovelace".into())
        );
        assert_eq!(clean_full_name("", "ada"), None);
        assert_eq!(clean_full_name("root", "root"), None);
        assert_eq!(clean_full_name("Root", "root"), None);
    }

    fn disk(mount: &str, name: &str, fs: &str, total: u64) -> DiskInfo {
        DiskInfo {
            mount_point: mount.into(),
            name: name.into(),
            file_system: fs.into(),
            total_bytes: total,
            available_bytes: total / 2,
            removable: false,
        }
    }

    #[test]
    fn disks_keep_only_real_unique_devices() {
        let disks = vec![
            disk("/home", "/dev/nvme0n1p3", "ext4", 500),
            disk("/", "/dev/nvme0n1p2", "ext4", 100),
            disk("/var/lib/bind", "/dev/nvme0n1p2", "ext4", 100),
            disk("/boot/efi", "/dev/nvme0n1p1", "vfat", 1),
            disk("/dev/shm", "tmpfs", "tmpfs", 10),
            disk("/snap/core/1", "/dev/loop0", "squashfs", 10),
            disk(
                "/var/lib/docker/overlay2/x/merged",
                "overlay",
                "overlay",
                100,
            ),
            disk("/run/user/1000/doc", "portal", "fuse.portal", 0),
            disk("/proc", "proc", "proc", 0),
            disk("/media/usb", "/dev/sdb1", "exfat", 0),
            disk("/System/Volumes/VM", "/dev/disk3s6", "apfs", 500),
            disk("/System/Volumes/Data", "/dev/disk3s5", "apfs", 500),
        ];
        let kept: Vec<String> = real_disks(disks, false)
            .into_iter()
            .map(|d| d.mount_point)
            .collect();
        assert_eq!(kept, ["/", "/System/Volumes/Data", "/boot/efi", "/home"]);
    }

    #[test]
    fn windows_volumes_with_the_same_label_are_different_disks() {
        let disks = vec![
            disk(r"D:\", "Data", "NTFS", 900),
            disk(r"C:\", "", "NTFS", 500),
            disk(r"E:\", "", "exFAT", 30),
            disk(r"F:\", "Data", "NTFS", 900),
        ];
        let kept: Vec<String> = real_disks(disks, true)
            .into_iter()
            .map(|d| d.mount_point)
            .collect();
        assert_eq!(kept, [r"C:\", r"D:\", r"E:\", r"F:\"]);
    }

    #[test]
    fn interfaces_skip_loopback_and_empty_and_format_mac() {
        let v4: IpAddr = "192.168.1.20".parse().unwrap();
        let v4b: IpAddr = "10.0.0.5".parse().unwrap();
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let global: IpAddr = "2001:db8::1".parse().unwrap();
        let ula: IpAddr = "fd00::2".parse().unwrap();
        let lo4: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let mac = [0xAA, 0xBB, 0xCC, 0x0D, 0xEE, 0xFF];

        assert_eq!(build_interface("lo", [0; 6], &[lo4, lo6]), None);
        assert_eq!(build_interface("lo0", [0; 6], &[ll]), None);
        assert_eq!(
            build_interface("Loopback Pseudo-Interface 1", [0; 6], &[lo4, lo6]),
            None
        );
        assert_eq!(build_interface("tun0", [0; 6], &[]), None);

        let eth = build_interface("eth0", mac, &[ll, v4, global, v4b, ula, v4]).unwrap();
        assert_eq!(eth.mac.as_deref(), Some("aa:bb:cc:0d:ee:ff"));
        assert_eq!(eth.ipv4, ["10.0.0.5", "192.168.1.20"]);
        assert_eq!(eth.ipv6, ["2001:db8::1", "fd00::2", "fe80::1"]);

        let no_addr = build_interface("ifb0", mac, &[]).unwrap();
        assert!(no_addr.ipv4.is_empty() && no_addr.ipv6.is_empty());
        let tun = build_interface("wg0", [0; 6], &[v4]).unwrap();
        assert_eq!(tun.mac, None);
    }

    fn sample() -> Inventory {
        let iface = |name: &str, mac: Option<&str>, v4: &[&str], v6: &[&str], primary: bool| {
            NetworkInterface {
                name: name.into(),
                mac: mac.map(Into::into),
                ipv4: v4.iter().map(|s| s.to_string()).collect(),
                ipv6: v6.iter().map(|s| s.to_string()).collect(),
                is_primary: primary,
            }
        };
        let gib = 1024 * 1024 * 1024;
        Inventory {
            collected_at: "2024-05-01T09:30:00Z".into(),
            hostname: "pc-042".into(),
            user: UserInfo {
                username: "ada".into(),
                full_name: Some("Ada Lovelace".into()),
            },
            os: OsInfo {
                name: "Debian GNU/Linux".into(),
                version: "12".into(),
                long_name: "Linux (Debian GNU/Linux 12)".into(),
                kernel: "6.1.0-18-amd64".into(),
                arch: "x86_64".into(),
            },
            uptime_secs: 3 * 86_400 + 4 * 3600 + 17,
            cpu: CpuInfo {
                model: "Intel(R) Core(TM) i7-8565U".into(),
                physical_cores: Some(4),
                logical_cores: 8,
                load_average: [0.52, 0.4, 0.314],
                usage_percent: None,
            },
            memory: MemoryInfo {
                total_bytes: (15.6 * gib as f64) as u64,
                available_bytes: (7.8 * gib as f64) as u64,
                used_bytes: (7.8 * gib as f64) as u64,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            disks: vec![DiskInfo {
                mount_point: "/".into(),
                name: "/dev/nvme0n1p2".into(),
                file_system: "ext4".into(),
                total_bytes: (476.9 * gib as f64) as u64,
                available_bytes: (120.4 * gib as f64) as u64,
                removable: false,
            }],
            network: vec![
                iface(
                    "wlan0",
                    Some("aa:bb:cc:dd:ee:ff"),
                    &["192.168.1.20"],
                    &["fe80::1"],
                    true,
                ),
                iface(
                    "docker0",
                    Some("02:42:00:00:00:01"),
                    &["172.17.0.1"],
                    &[],
                    false,
                ),
                iface("ifb0", Some("56:ce:29:56:59:83"), &[], &[], false),
            ],
            top_cpu: vec![process(1234, "firefox", 12.5, 350 * 1024 * 1024)],
            top_memory: vec![process(1234, "firefox", 12.5, 350 * 1024 * 1024)],
            app_version: "0.1.0".into(),
            time_zone: "Europe/Berlin".into(),
            windows: None,
        }
    }

    fn value<'a>(sections: &'a [DisplaySection], title: &str, label: &str) -> &'a str {
        let section = sections.iter().find(|s| s.title == title).unwrap();
        &section
            .rows
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no row {label}"))
            .1
    }

    #[test]
    fn a_windows_pc_shows_its_windows_sections_and_bitlocker_on_its_disks() {
        let source: RecordedSource =
            serde_json::from_str(include_str!("windows-laptop.json")).unwrap();
        let mut inv = sample();
        inv.os = OsInfo {
            name: "Windows".into(),
            version: "11 (22631)".into(),
            long_name: "Windows 11 Pro".into(),
            kernel: "22631".into(),
            arch: "x86_64".into(),
        };
        inv.cpu.load_average = [0.0; 3];
        inv.disks = vec![DiskInfo {
            mount_point: r"C:\".into(),
            name: "OS".into(),
            file_system: "NTFS".into(),
            total_bytes: 512 * 1024 * 1024 * 1024,
            available_bytes: 100 * 1024 * 1024 * 1024,
            removable: false,
        }];
        inv.windows = Some(windows::details(&source, &[r"C:\"], 1_796_333_400));
        let sections = inv.display_sections();
        let titles: Vec<&str> = sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Computer",
                "Windows",
                "Hardware",
                "Disks",
                "Printers",
                "Recent errors (24 h)",
                "Network",
                "Top processes by CPU",
                "Top processes by memory"
            ]
        );
        assert_eq!(value(&sections, "Windows", "Edition"), "Windows 11 Pro");
        assert_eq!(
            value(&sections, "Computer", "Operating system"),
            "Windows 11 Pro 23H2"
        );
        assert_eq!(
            value(&sections, "Windows", "Version"),
            "23H2, build 22631.4460"
        );
        assert_eq!(
            value(&sections, "Windows", "Last full boot"),
            "2026-12-01 18:26 UTC"
        );
        assert_eq!(
            value(&sections, "Windows", "Pending reboot"),
            "yes: Windows Update, file rename operations"
        );
        assert_eq!(
            value(&sections, "Disks", r"C:\"),
            "100.0 GiB free of 512.0 GiB (NTFS, BitLocker on)"
        );
        assert_eq!(
            value(&sections, "Hardware", "Load average"),
            "not available"
        );
        // The JSON a ticket's inventory travels in keeps the Windows part; Linux's leaves it out.
        let json = serde_json::to_value(&inv).unwrap();
        assert_eq!(json["windows"]["build"], "22631.4460");
        let back: Inventory = serde_json::from_value(json).unwrap();
        assert_eq!(back, inv);
        assert!(serde_json::to_value(sample())
            .unwrap()
            .get("windows")
            .is_none());
    }

    #[test]
    fn display_sections_format() {
        let inv = sample();
        let sections = inv.display_sections();
        let titles: Vec<&str> = sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Computer",
                "Hardware",
                "Disks",
                "Network",
                "Top processes by CPU",
                "Top processes by memory"
            ]
        );
        assert_eq!(value(&sections, "Computer", "Hostname"), "pc-042");
        assert_eq!(value(&sections, "Computer", "User"), "ada (Ada Lovelace)");
        assert_eq!(
            value(&sections, "Computer", "Operating system"),
            "Linux (Debian GNU/Linux 12)"
        );
        assert_eq!(value(&sections, "Computer", "Uptime"), "3 d 4 h");
        assert_eq!(value(&sections, "Computer", "Time zone"), "Europe/Berlin");
        assert_eq!(value(&sections, "Computer", "App version"), "0.1.0");
        assert_eq!(
            value(&sections, "Hardware", "Cores"),
            "4 physical / 8 logical"
        );
        assert_eq!(
            value(&sections, "Hardware", "Load average"),
            "0.52 0.40 0.31"
        );
        assert_eq!(
            value(&sections, "Hardware", "Memory"),
            "7.8 GiB of 15.6 GiB used"
        );
        assert_eq!(value(&sections, "Hardware", "Swap"), "none");
        assert_eq!(
            value(&sections, "Disks", "/"),
            "120.4 GiB free of 476.9 GiB (ext4)"
        );
        assert_eq!(
            value(&sections, "Network", "wlan0 (primary)"),
            "192.168.1.20, fe80::1 · aa:bb:cc:dd:ee:ff"
        );
        assert_eq!(
            value(&sections, "Network", "ifb0"),
            "no address · 56:ce:29:56:59:83"
        );
        assert_eq!(
            value(&sections, "Top processes by CPU", "firefox (1234)"),
            "12.5 % CPU · 350 MiB"
        );
        assert_eq!(
            value(&sections, "Top processes by memory", "firefox (1234)"),
            "12.5 % CPU · 350 MiB"
        );

        let mut other = inv.clone();
        other.user.full_name = None;
        other.os.long_name = "Windows 11 Pro".into();
        other.os.version = "11 (22631)".into();
        other.cpu.physical_cores = None;
        other.cpu.usage_percent = Some(37.25);
        other.os.name = "Windows".into();
        other.cpu.load_average = [0.0; 3];
        other.memory.swap_total_bytes = 2 * 1024 * 1024 * 1024;
        other.memory.swap_used_bytes = 512 * 1024 * 1024;
        other.disks[0].file_system = "vfat".into();
        other.disks[0].removable = true;
        other.network[0].mac = None;
        let sections = other.display_sections();
        assert_eq!(value(&sections, "Computer", "User"), "ada");
        assert_eq!(
            value(&sections, "Computer", "Operating system"),
            "Windows 11 Pro 11 (22631)"
        );
        assert_eq!(value(&sections, "Hardware", "Cores"), "8 logical");
        assert_eq!(value(&sections, "Hardware", "CPU usage"), "37.2 %");
        assert_eq!(
            value(&sections, "Hardware", "Load average"),
            "not available"
        );
        assert_eq!(
            value(&sections, "Hardware", "Swap"),
            "512 MiB of 2.0 GiB used"
        );
        assert_eq!(
            value(&sections, "Disks", "/"),
            "120.4 GiB free of 476.9 GiB (vfat, removable)"
        );
        assert_eq!(
            value(&sections, "Network", "wlan0 (primary)"),
            "192.168.1.20, fe80::1"
        );
    }

    #[test]
    fn primary_accessors_and_fallback() {
        let mut inv = sample();
        assert_eq!(
            inv.primary_interface().map(|i| i.name.as_str()),
            Some("wlan0")
        );
        assert_eq!(inv.primary_ipv4(), Some("192.168.1.20"));
        assert_eq!(inv.primary_mac(), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!(inv.display_name(), "ada (Ada Lovelace)");

        // Primary without IPv4: fall back to the first interface that has one.
        inv.network[0].ipv4.clear();
        assert_eq!(inv.primary_ipv4(), Some("172.17.0.1"));
        // No primary at all.
        for i in &mut inv.network {
            i.is_primary = false;
        }
        assert_eq!(inv.primary_interface(), None);
        assert_eq!(inv.primary_mac(), None);
        assert_eq!(inv.primary_ipv4(), Some("172.17.0.1"));
        inv.network.clear();
        assert_eq!(inv.primary_ipv4(), None);
    }

    #[test]
    fn heuristic_primary_needs_ipv4_and_mac_first_by_name() {
        let inv = sample();
        // docker0 < wlan0 by name, both have IPv4 and MAC; ifb0 has no IPv4.
        assert_eq!(heuristic_primary(&inv.network).as_deref(), Some("docker0"));
        let mut no_mac = inv.network.clone();
        no_mac[1].mac = None;
        assert_eq!(heuristic_primary(&no_mac).as_deref(), Some("wlan0"));
        assert_eq!(heuristic_primary(&no_mac[2..]), None);
    }

    #[test]
    fn serde_round_trip_rows_as_pairs() {
        let inv = sample();
        let json = serde_json::to_string(&inv).unwrap();
        assert_eq!(serde_json::from_str::<Inventory>(&json).unwrap(), inv);
        let sections = serde_json::to_value(inv.display_sections()).unwrap();
        assert_eq!(sections[0]["title"], "Computer");
        assert_eq!(
            sections[0]["rows"][0],
            serde_json::json!(["Hostname", "pc-042"])
        );
    }

    // --- the real machine -------------------------------------------------------------------

    #[cfg(target_os = "linux")]
    fn read_trimmed(path: &str) -> String {
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn collect_matches_this_linux_machine() {
        let inv = collect("9.9.9-test", Duration::ZERO);

        assert_eq!(inv.app_version, "9.9.9-test");
        assert!(time::OffsetDateTime::parse(
            &inv.collected_at,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok());
        assert!(inv.collected_at.ends_with('Z'), "{}", inv.collected_at);
        assert!(!inv.time_zone.is_empty());

        assert_eq!(inv.hostname, read_trimmed("/proc/sys/kernel/hostname"));
        assert_eq!(inv.os.kernel, read_trimmed("/proc/sys/kernel/osrelease"));
        assert!(inv.os.arch.len() > 1);

        let cpuinfo_count = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let parallelism = std::thread::available_parallelism().unwrap().get();
        assert!(
            inv.cpu.logical_cores == cpuinfo_count || inv.cpu.logical_cores == parallelism,
            "logical {} vs cpuinfo {cpuinfo_count} / parallelism {parallelism}",
            inv.cpu.logical_cores
        );
        assert_eq!(inv.cpu.usage_percent, None);

        let mem_total_kib: u64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let expected = mem_total_kib * 1024;
        let diff = inv.memory.total_bytes.abs_diff(expected);
        assert!(
            diff * 100 <= expected,
            "total {} vs MemTotal {expected}",
            inv.memory.total_bytes
        );
        assert!(inv.memory.used_bytes <= inv.memory.total_bytes);
        assert!(inv.memory.available_bytes <= inv.memory.total_bytes);

        assert!(inv.network.iter().all(|i| i.name != "lo"));
        // Independent check against /proc/net/route: any interface with a usable default route.
        let route = std::fs::read_to_string("/proc/net/route").unwrap();
        let default_ifaces: Vec<&str> = route
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 3 && f[1] == "00000000" && f[0] != "lo").then_some(f[0])
            })
            .collect();
        if !default_ifaces.is_empty() {
            let primary = inv
                .primary_interface()
                .expect("a default route exists, so a primary interface");
            assert!(
                default_ifaces.contains(&primary.name.as_str()),
                "{} not in {default_ifaces:?}",
                primary.name
            );
            assert_eq!(inv.network[0].name, primary.name, "primary first");
            assert_eq!(inv.network.iter().filter(|i| i.is_primary).count(), 1);
            let sys_mac = read_trimmed(&format!("/sys/class/net/{}/address", primary.name));
            let expected_mac = (sys_mac != "00:00:00:00:00:00").then_some(sys_mac);
            assert_eq!(primary.mac, expected_mac);
            if !primary.ipv4.is_empty() {
                assert_eq!(inv.primary_ipv4(), primary.ipv4.first().map(String::as_str));
            }
        }
        for interface in &inv.network {
            let sys_mac = read_trimmed(&format!("/sys/class/net/{}/address", interface.name));
            if let Some(mac) = &interface.mac {
                assert_eq!(mac, &sys_mac);
            }
        }

        for list in [&inv.top_cpu, &inv.top_memory] {
            assert!(list.len() <= TOP_PROCESSES);
            assert!(!list.is_empty(), "this test process at least exists");
            assert!(list.iter().all(|p| p.pid != 0));
        }
        assert!(inv
            .top_cpu
            .windows(2)
            .all(|w| w[0].cpu_percent >= w[1].cpu_percent));
        assert!(inv
            .top_memory
            .windows(2)
            .all(|w| w[0].memory_bytes >= w[1].memory_bytes));

        let id_un = std::process::Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .filter(|o| o.status.success());
        let expected_user = match id_un {
            Some(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            None => std::env::var("USER").unwrap(),
        };
        assert_eq!(inv.user.username, expected_user);
        if let Some(full) = &inv.user.full_name {
            assert!(!full.is_empty() && full != &inv.user.username);
        }

        assert!(inv
            .disks
            .iter()
            .all(|d| d.total_bytes > 0 && d.file_system != "tmpfs"));
        let sections = inv.display_sections();
        assert_eq!(sections.len(), 6);
        assert_eq!(
            sections[0].rows[0],
            ("Hostname".to_owned(), inv.hostname.clone())
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn collect_with_window_measures_usage() {
        let inv = collect("test", Duration::from_millis(10)); // raised to the 200 ms minimum
        let usage = inv
            .cpu
            .usage_percent
            .expect("a window gives a usage figure");
        assert!((0.0..=100.0).contains(&usage), "{usage}");
        let max = 100.0 * inv.cpu.logical_cores as f32;
        assert!(inv
            .top_cpu
            .iter()
            .all(|p| (0.0..=max).contains(&p.cpu_percent)));
        assert!(inv
            .top_cpu
            .windows(2)
            .all(|w| w[0].cpu_percent >= w[1].cpu_percent));
    }
}
