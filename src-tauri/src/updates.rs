//! Signed updates through tauri-plugin-updater. The core decides which manifest to read, which
//! key to trust and when to check (`helpdesk_core::update`); this module drives the plugin:
//! check, download and verify in the background, then install at the next idle moment (no window
//! open, no ticket being sent) or on Quit, never while someone is using the app.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpdesk_core::update::{
    self, channel_name, CheckFailure, CheckPlan, InstallMode, KeySource, Outcome, Trigger,
    UpdateStatus,
};
use tauri::{AppHandle, Manager};
use tauri_plugin_updater::{Error as PluginError, Update, UpdaterExt};

/// How long a whole check (manifest and package download) may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// While an update waits for an idle moment, idleness is re-checked at least this often.
const IDLE_RECHECK: Duration = Duration::from_secs(60);
/// The argument a restarted copy gets: wait for the old process (this pid) to exit first, so the
/// single-instance lock is free.
pub const AFTER_UPDATE_ARG: &str = "--after-update";

/// The updater's state, managed by the app.
pub struct Updates {
    status: Mutex<UpdateStatus>,
    pending: Mutex<Option<(Update, Vec<u8>)>>,
    checking: tokio::sync::Mutex<()>,
    waiting_for_idle: AtomicBool,
    /// `--config-dir` as given at start, passed on to the restarted copy.
    config_dir_arg: Option<std::path::PathBuf>,
}

impl Updates {
    pub fn new(
        paths: &helpdesk_core::paths::AppPaths,
        config_dir_arg: Option<std::path::PathBuf>,
    ) -> Self {
        // Saved at once: after an update, the file shows the version now running.
        let status = UpdateStatus::load(paths, crate::APP_VERSION, install_mode());
        if let Err(e) = status.save(paths) {
            tracing::warn!(error = %e, "the update status could not be saved");
        }
        tracing::info!(version = crate::APP_VERSION, install_mode = ?status.install_mode, "Helpdesk Button starting");
        Self {
            config_dir_arg,
            status: Mutex::new(status),
            pending: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
            waiting_for_idle: AtomicBool::new(false),
        }
    }

    /// The status the Updates section shows.
    pub fn status(&self) -> UpdateStatus {
        lock(&self.status).clone()
    }

    fn has_pending(&self) -> bool {
        lock(&self.pending).is_some()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The public key this build trusts: `plugins.updater.pubkey` in tauri.conf.json.
fn built_in_key(app: &AppHandle) -> String {
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("pubkey"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// How this copy can install an update, decided by the package it was installed from.
pub fn install_mode() -> InstallMode {
    #[cfg(target_os = "linux")]
    {
        use tauri::utils::{config::BundleType, platform::bundle_type};
        match bundle_type() {
            Some(BundleType::AppImage) => InstallMode::Automatic,
            Some(BundleType::Deb | BundleType::Rpm) if is_root() => InstallMode::Automatic,
            Some(BundleType::Deb | BundleType::Rpm) => InstallMode::NeedsAdmin(
                "This PC runs the Linux package, which only an administrator can update. Your IT \
                 provider installs new versions (apt or the RMM); Install now asks for an \
                 administrator password."
                    .into(),
            ),
            _ => InstallMode::Unsupported(format!(
                "This copy was not installed from a package (it runs from {}), so it cannot \
                 update itself. Install the .deb package to get updates.",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // A per-machine install (Program Files, /Applications copied by root) needs an
        // administrator to replace it: the installer would ask the user, who usually is not one.
        let dir_writable = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(".helpdesk-button-write-test")))
            .is_some_and(|probe| {
                let ok = std::fs::write(&probe, b"").is_ok();
                let _ = std::fs::remove_file(&probe);
                ok
            });
        if dir_writable {
            InstallMode::Automatic
        } else {
            InstallMode::NeedsAdmin(
                "This PC's copy is installed for all users, so installing a new version needs \
                 administrator rights. Your IT provider installs updates (RMM); Install now \
                 asks for an administrator."
                    .into(),
            )
        }
    }
}

#[cfg(target_os = "linux")]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Starts the schedule: a first check 1–5 minutes after start, then every `updates.check_hours`
/// (shortened by up to 25 % at random).
pub fn spawn_schedule(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(update::first_check_delay(update::random_unit())).await;
        let mut trigger = Trigger::Start;
        loop {
            check(&app, trigger).await;
            trigger = Trigger::Schedule;
            let hours = crate::app_state(&app).settings().updates.check_hours;
            tokio::time::sleep(update::next_check_delay(hours, update::random_unit())).await;
        }
    });
}

/// Runs one check now and returns the status it left. Checks never overlap.
pub async fn check(app: &AppHandle, trigger: Trigger) -> UpdateStatus {
    let updates = app.state::<Updates>();
    let _one_at_a_time = updates.checking.lock().await;
    let state = crate::app_state(app);
    let settings = state.reload_settings();
    let channel = channel_name(settings.updates.channel);
    let (url, outcome) = match update::plan(
        &settings,
        Some(&state.paths.policy_file),
        &built_in_key(app),
    ) {
        Err(e) => (
            None,
            Outcome::NotConfigured {
                message: e.to_string(),
            },
        ),
        Ok(plan) => {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, run_check(app, &plan)).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(failure)) => failed(&failure),
                Err(_) => failed(&CheckFailure::Network {
                    detail: format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
                }),
            };
            let mut status = lock(&updates.status);
            status.key_source = Some(match &plan.key_source {
                KeySource::BuiltIn => "built into the app".to_string(),
                KeySource::Policy { file } => format!("pinned by the policy file {file}"),
            });
            drop(status);
            (Some(plan.manifest_url), outcome)
        }
    };
    match &outcome {
        Outcome::Failed { message, .. } => {
            tracing::warn!(trigger = ?trigger, channel, %message, "update check");
        }
        other => tracing::info!(trigger = ?trigger, channel, outcome = ?other, "update check"),
    }
    let status = {
        let mut status = lock(&updates.status);
        status.install_mode = install_mode();
        status.record(trigger, channel, url.as_ref(), outcome);
        if let Err(e) = status.save(&state.paths) {
            tracing::warn!(error = %e, "the update status could not be saved");
        }
        status.clone()
    };
    if updates.has_pending() && status.install_mode == InstallMode::Automatic {
        install_when_idle(app.clone());
    }
    status
}

fn failed(failure: &CheckFailure) -> Outcome {
    Outcome::Failed {
        message: failure.to_string(),
        // Refused: the update itself was rejected. A network or server problem, or an install
        // that failed, is not a verdict on the update.
        refused: !matches!(
            failure,
            CheckFailure::Network { .. }
                | CheckFailure::Status { .. }
                | CheckFailure::InstallFailed { .. }
        ),
    }
}

/// Reads the manifest; when it offers a newer version, downloads the package and verifies its
/// signature against the trusted key. A verified package is kept in memory until installed.
async fn run_check(app: &AppHandle, plan: &CheckPlan) -> Result<Outcome, CheckFailure> {
    let offered: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = offered.clone();
    let url = plan.manifest_url.to_string();
    let updater = app
        .updater_builder()
        .pubkey(plan.pubkey.clone())
        .endpoints(vec![plan.manifest_url.clone()])
        .map_err(|e| classify(e, &url, None, plan))?
        .version_comparator(move |current, release| {
            *lock(&seen) = Some(release.version.to_string());
            release.version > current
        })
        .timeout(CHECK_TIMEOUT)
        .build()
        .map_err(|e| classify(e, &url, None, plan))?;
    let Some(update) = updater
        .check()
        .await
        .map_err(|e| classify(e, &url, None, plan))?
    else {
        let offered = lock(&offered).clone();
        return match offered {
            Some(v)
                if update::compare_versions(&v, crate::APP_VERSION)
                    == Some(std::cmp::Ordering::Less) =>
            {
                Err(CheckFailure::Downgrade {
                    channel: channel_name(plan.channel).into(),
                    offered: v,
                    current: crate::APP_VERSION.into(),
                })
            }
            _ => Ok(Outcome::UpToDate),
        };
    };
    let version = update.version.clone();
    tracing::info!(%version, url = %update.download_url, "downloading an update");
    let bytes = update
        .download(|_, _| {}, || {})
        .await
        .map_err(|e| classify(e, &url, Some(&version), plan))?;
    tracing::info!(%version, bytes = bytes.len(), "update downloaded and its signature verified");
    let notes = update.body.clone().unwrap_or_default();
    *lock(&app.state::<Updates>().pending) = Some((update, bytes));
    Ok(Outcome::Ready { version, notes })
}

/// Turns the plugin's error into a sentence an admin can act on.
fn classify(e: PluginError, url: &str, version: Option<&str>, plan: &CheckPlan) -> CheckFailure {
    let version = version.unwrap_or("?").to_string();
    let trusted = match &plan.key_source {
        KeySource::BuiltIn => "the key built into the app".to_string(),
        KeySource::Policy { file } => format!("the key pinned by {file}"),
    };
    match e {
        PluginError::Minisign(m) => match m {
            minisign_verify::Error::UnexpectedKeyId => CheckFailure::WrongKey { version, trusted },
            minisign_verify::Error::InvalidSignature => CheckFailure::Tampered { version },
            other => CheckFailure::BadSignature {
                version,
                detail: format!("its signature could not be checked ({other})"),
            },
        },
        PluginError::Base64(_) | PluginError::SignatureUtf8(_) => CheckFailure::BadSignature {
            version,
            detail: "the signature in the manifest is not a Tauri/minisign signature".into(),
        },
        PluginError::SignedVersionMismatch { signed, announced } => {
            CheckFailure::SignedVersionMismatch { announced, signed }
        }
        PluginError::MissingSignedVersion => CheckFailure::BadSignature {
            version,
            detail: "its signature does not say which version it was made for (sign it with `release.sh publish`)".into(),
        },
        PluginError::Serialization(err) => CheckFailure::Malformed {
            url: url.into(),
            detail: err.to_string(),
        },
        PluginError::Semver(err) => CheckFailure::Malformed {
            url: url.into(),
            detail: format!("a version is not semver: {err}"),
        },
        PluginError::ReleaseNotFound => CheckFailure::Status {
            status: "no manifest (wrong address, or a server error)".into(),
            url: url.into(),
        },
        PluginError::TargetsNotFound(targets) => CheckFailure::NoPackage {
            targets: targets.join(", "),
        },
        PluginError::TargetNotFound(target) => CheckFailure::NoPackage { targets: target },
        PluginError::Network(detail) => CheckFailure::Network { detail },
        PluginError::Reqwest(err) if err.is_decode() => CheckFailure::Malformed {
            url: url.into(),
            detail: format!("not JSON: {err}"),
        },
        PluginError::Reqwest(err) => CheckFailure::Network {
            detail: err.without_url().to_string(),
        },
        PluginError::UrlParse(err) => CheckFailure::Malformed {
            url: url.into(),
            detail: format!("a download address is not a URL: {err}"),
        },
        other => CheckFailure::InstallFailed {
            version,
            detail: other.to_string(),
        },
    }
}

/// Installs the pending update as soon as the app is idle, then restarts into it.
fn install_when_idle(app: AppHandle) {
    let updates = app.state::<Updates>();
    if updates.waiting_for_idle.swap(true, Ordering::SeqCst) {
        return;
    }
    tauri::async_runtime::spawn(async move {
        let updates = app.state::<Updates>();
        let mut pokes = app.state::<crate::idle::Idle>().subscribe();
        while updates.has_pending() {
            if crate::idle::is_idle(&app) {
                if install_pending(&app).await.is_ok() {
                    restart(&app);
                }
                break;
            }
            let _ = tokio::time::timeout(IDLE_RECHECK, pokes.changed()).await;
        }
        updates.waiting_for_idle.store(false, Ordering::SeqCst);
    });
}

/// Installs the downloaded update (verified again by the plugin first). On failure the running
/// version is untouched and the status says why.
pub async fn install_pending(app: &AppHandle) -> Result<String, String> {
    let updates = app.state::<Updates>();
    let Some((update, bytes)) = lock(&updates.pending).take() else {
        return Err("No update is waiting to be installed. Check for updates first.".into());
    };
    let version = update.version.clone();
    tracing::info!(%version, "installing the update");
    let result = tauri::async_runtime::spawn_blocking(move || update.install(&bytes))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let failure = result.err().map(|detail| CheckFailure::InstallFailed {
        version: version.clone(),
        detail,
    });
    let mut status = lock(&updates.status);
    status.outcome = match &failure {
        None => Outcome::Installed {
            version: version.clone(),
        },
        Some(f) => failed(f),
    };
    if let Err(e) = status.save(&crate::app_state(app).paths) {
        tracing::warn!(error = %e, "the update status could not be saved");
    }
    match failure {
        None => {
            tracing::info!(%version, "update installed");
            Ok(version)
        }
        Some(f) => {
            tracing::error!(error = %f, "keeping the running version");
            Err(f.to_string())
        }
    }
}

/// Quit: a downloaded update that this copy may install is installed first.
pub fn install_on_quit(app: &AppHandle) {
    let updates = app.state::<Updates>();
    if updates.has_pending() && install_mode() == InstallMode::Automatic {
        let _ = tauri::async_runtime::block_on(install_pending(app));
    }
}

/// Starts the installed version and exits this one. The new copy waits for this process to end
/// before taking the single-instance lock.
pub(crate) fn restart(app: &AppHandle) {
    let exe = tauri::process::current_binary(&app.env())
        .map(|p| {
            let s = p.to_string_lossy();
            // Linux shows a replaced executable as "/usr/bin/x (deleted)".
            std::path::PathBuf::from(s.trim_end_matches(" (deleted)"))
        })
        .unwrap_or_else(|_| std::path::PathBuf::from("helpdesk-button"));
    let mut command = std::process::Command::new(&exe);
    command
        .arg(AFTER_UPDATE_ARG)
        .arg(std::process::id().to_string());
    if let Some(dir) = &app.state::<Updates>().config_dir_arg {
        command.arg("--config-dir").arg(dir);
    }
    match command.spawn() {
        Ok(_) => {
            tracing::info!(exe = %exe.display(), "restarting into the new version");
            app.exit(0);
        }
        Err(e) => {
            tracing::error!(error = %e, exe = %exe.display(), "the new version could not be started; it starts at the next login")
        }
    }
}

/// In a copy started by [`restart`]: waits (at most 15 s) for the old process to exit.
pub fn wait_for_previous(pid: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while previous_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(target_os = "linux")]
fn previous_alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

/// macOS has no /proc: `kill -0` says whether the process still exists. (On Windows the
/// installer restarts the app itself and this is not reached.)
#[cfg(not(target_os = "linux"))]
fn previous_alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The tray's *Check for updates*: checks, then says what happened in a notification.
pub fn check_from_tray(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let status = check(&app, Trigger::Manual).await;
        let (title, body) = match &status.outcome {
            Outcome::UpToDate => (
                "Helpdesk Button is up to date".to_string(),
                format!(
                    "Version {} is the newest on the {} channel.",
                    status.current_version, status.channel
                ),
            ),
            Outcome::Ready { version, .. } => (
                format!("Version {version} is ready"),
                match &status.install_mode {
                    InstallMode::Automatic => "It installs when the app is not in use.".to_string(),
                    InstallMode::NeedsAdmin(m) | InstallMode::Unsupported(m) => m.clone(),
                },
            ),
            Outcome::Installed { version } => (
                format!("Version {version} installed"),
                "Helpdesk Button restarts with it now.".to_string(),
            ),
            Outcome::Failed { message, .. } | Outcome::NotConfigured { message } => {
                ("Update check".to_string(), message.clone())
            }
            Outcome::NeverChecked => return, // a check always records an outcome
        };
        crate::tickets::show_notification(&app, &title, &body, None);
    });
}
