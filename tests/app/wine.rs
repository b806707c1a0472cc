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
fn under_wine_rules_test_runs_the_rules_in_the_windows_child_process() {
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
    let out = wine_run(
        dir.path(),
        &[
            "rules",
            "test",
            "--rules",
            rules.to_str().unwrap(),
            "--input",
            input_file.to_str().unwrap(),
        ],
    );
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
}
