//! The Windows build of the CLI under Wine, the way an MSP's RMM scripts use it on a Windows PC:
//! `inventory --json`, `submit` against the sandbox on this machine, `outbox list` and `rules
//! test`. Ignored in a plain `cargo test`: they need Wine and the `.exe` files, which
//! `src-tauri/scripts/windows.sh` builds before it runs them with `--ignored`.
//!
//! Wine stands in for the Windows API the CLI calls, not for all of Windows: it has no event log
//! service (`wevtapi` is a stub), no BitLocker property, no WebView2 and no Credential Manager
//! vault of a real user. The Windows inventory's turning of those into a ticket is tested with
//! recorded Windows data in `src/inventory/windows.rs`; here its reading runs for real, and a
//! source Wine lacks must come out as "not readable", not as a crash or a lie.

use super::*;

/// `helpdesk-button.exe`, from `HB_WINE_EXE`.
fn exe() -> PathBuf {
    PathBuf::from(std::env::var_os("HB_WINE_EXE").expect(
        "HB_WINE_EXE names the helpdesk-button.exe to run under Wine; \
         src-tauri/scripts/windows.sh builds it and sets it",
    ))
}

/// The Windows CLI under Wine, with the same clean environment as [`cli`].
fn wine(config: &Path, args: &[&str]) -> Command {
    let linux = cli(config, args);
    let mut cmd = Command::new("wine");
    cmd.arg(exe())
        .args(linux.get_args())
        .env("WINEDEBUG", "-all");
    for (key, value) in linux.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

fn wine_run(config: &Path, args: &[&str]) -> Output {
    wine(config, args).output().expect("wine runs")
}

#[test]
#[ignore = "needs Wine and the Windows build (src-tauri/scripts/windows.sh)"]
fn under_wine_inventory_json_carries_the_windows_details() {
    let dir = tempfile::tempdir().unwrap();
    let out = wine_run(dir.path(), &["inventory", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(
        inv["os"]["name"].as_str().unwrap().contains("Windows"),
        "{}",
        inv["os"]
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        inv["hostname"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(hostname.trim()),
        "Wine names the PC after this machine: {}",
        inv["hostname"]
    );
    let windows = &inv["windows"];
    // Read from Wine's registry, which plays a Windows 10 or 11 PC.
    assert!(
        windows["edition"].as_str().unwrap().contains("Windows"),
        "{windows}"
    );
    let build = windows["build"].as_str().unwrap();
    assert!(
        !build.is_empty() && build.split('.').all(|p| p.parse::<u32>().is_ok()),
        "build and revision: {build}"
    );
    // From GetTickCount64: an RFC 3339 time not after now.
    let boot = windows["last_boot"].as_str().expect("last boot");
    assert!(boot.len() == 20 && boot.ends_with('Z'), "{boot}");
    assert!(boot <= inv["collected_at"].as_str().unwrap(), "{boot}");
    // Wine's event log is a stub: the inventory says it could not read it, for each log.
    let events = windows["event_log_error"].as_str().unwrap_or_default();
    let recent = windows["recent_errors"].as_array().map_or(0, Vec::len);
    assert!(
        recent > 0 || (events.contains("System: ") && events.contains("Application: ")),
        "either errors or why there are none: {windows}"
    );
    // Windows has no load average, and the inventory does not ask sysinfo to fake one.
    assert_eq!(
        inv["cpu"]["load_average"],
        serde_json::json!([0.0, 0.0, 0.0])
    );

    let out = wine_run(dir.path(), &["inventory"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for needle in [
        "Windows",
        "Edition",
        "Pending reboot",
        "Printers",
        "Recent errors (24 h)",
    ] {
        assert!(shown.contains(needle), "{needle} in:\n{shown}");
    }
}

#[test]
#[ignore = "needs Wine and the Windows build (src-tauri/scripts/windows.sh)"]
fn under_wine_submit_files_a_ticket_with_windows_inventory_and_the_outbox_lists_it() {
    let sb = TestSandbox::start();
    let config = tempfile::tempdir().unwrap();
    let set = wine_run(
        config.path(),
        &["settings", "set", "atera.endpoint", &sb.get().endpoint()],
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let out = wine(
        config.path(),
        &[
            "submit",
            "--name",
            "Ada Lovelace",
            "--email",
            "ada@example.com",
            "--message",
            "Outlook <crashes> on start",
            "--priority",
            "HIGH",
            "--json",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "sent");
    let tickets = sb.get().tickets();
    assert_eq!(tickets.len(), 1, "filed once");
    let t = &tickets[0];
    assert_eq!(result["ticket_id"], t.ticket_id);
    assert_eq!(t.title, "Outlook <crashes> on start");
    assert!(t.description.contains("Outlook &lt;crashes&gt; on start"));
    for needle in [
        ">Windows</th>",
        ">Edition</td>",
        ">Pending reboot</td>",
        ">Printers</th>",
        ">Recent errors (24 h)</th>",
    ] {
        assert!(t.description.contains(needle), "{needle} in the ticket");
    }

    let list = wine_run(config.path(), &["outbox", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["state"], "sent");
    assert_eq!(list[0]["ticket_id"], t.ticket_id);
    // The key came from the environment and stays out of every file the Windows CLI wrote.
    assert_eq!(files_contain(config.path(), KEY), Vec::<PathBuf>::new());
}

#[test]
#[ignore = "needs Wine and the Windows build (src-tauri/scripts/windows.sh)"]
fn under_wine_rules_test_runs_the_rules_in_the_windows_child_process_inside_its_job_object() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rules");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("cases.json")).unwrap())
            .unwrap();
    let mut input = cases["base"].clone();
    input["selections"] = serde_json::json!(["Printer", "This is an emergency"]);
    let input_file = dir.path().join("input.json");
    std::fs::write(&input_file, input.to_string()).unwrap();
    let rules = fixtures.join("emergency_escalation.py");
    let out = wine(
        dir.path(),
        &[
            "rules",
            "test",
            "--rules",
            rules.to_str().unwrap(),
            "--input",
            input_file.to_str().unwrap(),
        ],
    )
    .env("HELPDESK_BUTTON_LOG", "debug")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert_eq!(result["priority"], "Critical", "{result}");
    assert_eq!(result["subject"], "**EMERGENCY** Printer jammed");
    let log = text(&out.stderr);
    assert!(
        log.contains("rules evaluated in a child process"),
        "the rules ran in helpdesk-button-rules.exe: {log}"
    );
    assert!(
        !log.contains("could not be put in a job object"),
        "the child ran inside its Job Object: {log}"
    );
}

/// `Z:\tmp\x` for `/tmp/x`: how a Windows program under Wine names a file of this machine.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `reg query` of one key of Wine's registry, as text.
fn reg_query(key: &str) -> String {
    let out = Command::new("wine")
        .args(["reg", "query", key])
        .env("WINEDEBUG", "-all")
        .output()
        .expect("wine reg runs");
    text(&out.stdout)
}

#[test]
#[ignore = "needs Wine and the Windows installer (src-tauri/scripts/windows.sh)"]
fn under_wine_the_installer_installs_silently_places_the_policy_flags_missing_webview2_signs_and_uninstalls(
) {
    let installer = PathBuf::from(std::env::var_os("HB_WINE_INSTALLER").expect(
        "HB_WINE_INSTALLER names the helpdesk-button_<ver>_x64-setup.exe that \
         src-tauri/scripts/windows.sh builds",
    ));
    let name = installer
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let version = name
        .strip_prefix("helpdesk-button_")
        .and_then(|n| n.strip_suffix("_x64-setup.exe"))
        .expect("helpdesk-button_<ver>_x64-setup.exe")
        .to_owned();
    let prefix = std::env::var_os("WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".wine"));
    let program = prefix.join("drive_c/Program Files/Helpdesk Button");
    let policy_dir = prefix.join("drive_c/ProgramData/HelpdeskButton");
    // A run that stopped half-way leaves an install behind; start from none.
    let _ = std::fs::remove_dir_all(&program);
    let _ = std::fs::remove_dir_all(&policy_dir);

    let dir = tempfile::tempdir().unwrap();
    let install = |args: &[&str]| {
        Command::new("wine")
            .arg(&installer)
            .args(args)
            .env("WINEDEBUG", "-all")
            .output()
            .expect("the installer runs")
    };
    // A policy file that is not there stops the install before anything is written.
    let missing = dir.path().join("no-such-policy.toml");
    let out = install(&["/S", &format!("/POLICY={}", windows_path(&missing))]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing policy is exit code 2"
    );
    assert!(!program.exists(), "nothing installed without the policy");

    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "locked = [\"updates\"]\n\n[settings.updates]\nchannel = \"beta\"\n",
    )
    .unwrap();
    let out = install(&["/S", &format!("/POLICY={}", windows_path(&policy))]);
    // Wine has no WebView2 Runtime: installed, and exit code 4 says what the PC still lacks.
    assert_eq!(
        out.status.code(),
        Some(4),
        "installed without WebView2: {}",
        text(&out.stderr)
    );
    for file in [
        "helpdesk-button.exe",
        "helpdesk-button-rules.exe",
        "WebView2Loader.dll",
        "uninstall.exe",
    ] {
        assert!(program.join(file).is_file(), "{file} installed");
    }
    assert_eq!(
        std::fs::read_to_string(policy_dir.join("policy.toml")).unwrap(),
        std::fs::read_to_string(&policy).unwrap(),
        "the RMM's policy is placed in %ProgramData%"
    );
    let exe = r#""C:\Program Files\Helpdesk Button\helpdesk-button.exe""#;
    assert!(
        reg_query(r"HKLM\Software\Classes\helpdesk-button\shell\open\command")
            .contains(&format!(r#"{exe} "%1""#)),
        "the helpdesk-button:// link opens the installed app"
    );
    assert!(
        reg_query(r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run").contains(exe),
        "the app starts at every login"
    );
    let aumid = r"HKLM\Software\Classes\AppUserModelId\com.helpdeskbutton.app";
    assert!(
        reg_query(aumid).contains("DisplayName    REG_SZ    Helpdesk Button"),
        "Windows knows the app's notifications by name"
    );
    let uninstall_key = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Helpdesk Button";
    let entry = reg_query(uninstall_key);
    assert!(
        entry.contains(&format!("DisplayVersion    REG_SZ    {version}")),
        "{entry}"
    );
    assert!(entry.contains(r#"uninstall.exe" /S"#), "{entry}");
    // Marked as an NSIS install, so the updater asks the channel for windows-x86_64-nsis.
    let installed = std::fs::read(program.join("helpdesk-button.exe")).unwrap();
    assert!(installed
        .windows(27)
        .any(|w| w == b"__TAURI_BUNDLE_TYPE_VAR_NSS"));

    // The installed app reads the fleet policy from %ProgramData% (no test override here).
    let config = tempfile::tempdir().unwrap();
    let out = Command::new("wine")
        .arg(r"C:\Program Files\Helpdesk Button\helpdesk-button.exe")
        .arg("--config-dir")
        .arg(config.path())
        .args(["settings", "set", "updates.channel", "stable"])
        .env("WINEDEBUG", "-all")
        .env_remove("HELPDESK_BUTTON_TEST_POLICY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains(r"locked by the policy in C:\ProgramData\HelpdeskButton\policy.toml"),
        "{}",
        text(&out.stderr)
    );

    // The installer goes on a channel as windows-x86_64-nsis, signed for the updater.
    let keys = dir.path().join("keys");
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release.sh");
    let keygen = Command::new("bash")
        .arg(&release)
        .args(["keygen", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let channel = dir.path().join("channel");
    let publish = Command::new("bash")
        .arg(&release)
        .args([
            "publish",
            "--channel",
            "stable",
            "--base-url",
            "https://updates.example",
        ])
        .arg("--key")
        .arg(keys.join("update.key"))
        .arg("--out")
        .arg(&channel)
        .arg(&installer)
        .output()
        .unwrap();
    assert!(publish.status.success(), "{}", text(&publish.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(channel.join("stable/latest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["version"], version.as_str());
    let entry = &manifest["platforms"]["windows-x86_64-nsis"];
    assert_eq!(
        entry["url"],
        format!("https://updates.example/files/{name}"),
        "{manifest}"
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let public = String::from_utf8(
        b64.decode(
            std::fs::read_to_string(keys.join("update.key.pub"))
                .unwrap()
                .trim(),
        )
        .unwrap(),
    )
    .unwrap();
    let signature =
        String::from_utf8(b64.decode(entry["signature"].as_str().unwrap()).unwrap()).unwrap();
    let public = minisign_verify::PublicKey::decode(&public).unwrap();
    let signature = minisign_verify::Signature::decode(&signature).unwrap();
    public
        .verify(&std::fs::read(&installer).unwrap(), &signature, false)
        .expect("the channel's signature is the installer's");

    // Silent uninstall (in place, so it is waited for): the app, its link and autostart go; the
    // IT provider's policy stays for a reinstall.
    let out = Command::new("wine")
        .arg(r"C:\Program Files\Helpdesk Button\uninstall.exe")
        .args(["/S", r"_?=C:\Program Files\Helpdesk Button"])
        .env("WINEDEBUG", "-all")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!program.join("helpdesk-button.exe").exists());
    assert!(!program.join("helpdesk-button-rules.exe").exists());
    assert!(!reg_query(r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run").contains(exe));
    assert!(!reg_query(r"HKLM\Software\Classes\helpdesk-button\shell\open\command").contains(exe));
    assert!(!reg_query(uninstall_key).contains("DisplayVersion"));
    assert!(!reg_query(aumid).contains("DisplayName"));
    assert!(policy_dir.join("policy.toml").is_file(), "the policy stays");
}
