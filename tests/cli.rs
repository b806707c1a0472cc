//! The `helpdesk-button` binary as scripts and people use it: the CLI subcommands, and the tray
//! app's triggers (global hotkey, second launch, `helpdesk-button://new`) under a display.
//!
//! The trigger tests need an X display, `xdotool` and a D-Bus session bus (single instance uses
//! D-Bus on Linux); `tests/run-all.sh` provides them with Xvfb and `dbus-run-session`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use helpdesk_core::sandbox::{Sandbox, SandboxConfig};

const BIN: &str = env!("CARGO_BIN_EXE_helpdesk-button");
const KEY: &str = "cli-test-key-0123456789";
const FORM_TITLE: &str = "Report a problem";
/// Apps launched by different tests would meet through single instance and the hotkey grab.
static GUI: Mutex<()> = Mutex::new(());

#[path = "app/relay.rs"]
mod relay;
#[path = "app/relay_shared.rs"]
mod relay_shared;
#[path = "app/updates.rs"]
mod updates;
#[path = "app/wine.rs"]
mod wine;

fn cli(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config-dir")
        .arg(config)
        .args(args)
        .env_remove("HELPDESK_BUTTON_ATERA_API_KEY")
        .env_remove("HELPDESK_BUTTON_CONFIG_DIR")
        .env_remove("HELPDESK_BUTTON_ADMIN_PASSWORD")
        // This machine's real policy (if any) stays out of the tests; a test sets its own.
        .env(
            "HELPDESK_BUTTON_TEST_POLICY_FILE",
            config.join("no-policy.toml"),
        )
        // Debug builds only: a 1 s list lag instead of 45 s before a lost answer is confirmed.
        .env("HELPDESK_BUTTON_TEST_LIST_LAG_MS", "0");
    cmd
}

fn run(config: &Path, args: &[&str]) -> Output {
    cli(config, args).output().expect("binary runs")
}

/// Runs `cmd` with `stdin` as its standard input; a child that exits without reading it all is
/// fine (a refused command does not read the key).
fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let _ = child.stdin.take().expect("piped stdin").write_all(stdin);
    child.wait_with_output().expect("binary ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The files under `dir` whose bytes, as text, contain `needle`.
fn files_contain(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
            found.push(path);
        }
    }
    found
}

struct TestSandbox {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
}

impl TestSandbox {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = SandboxConfig {
            api_keys: vec![KEY.into()],
            ..SandboxConfig::default()
        };
        let sandbox = runtime
            .block_on(Sandbox::start(config, ([127, 0, 0, 1], 0).into()))
            .unwrap();
        Self {
            runtime,
            sandbox: Some(sandbox),
        }
    }

    fn get(&self) -> &Sandbox {
        self.sandbox.as_ref().unwrap()
    }

    /// A config dir pointed at this sandbox.
    fn config(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            dir.path(),
            &["settings", "set", "atera.endpoint", &self.get().endpoint()],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            self.runtime.block_on(s.shutdown());
        }
    }
}

#[test]
fn inventory_json_matches_the_machines_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["inventory", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(inv["hostname"], hostname.trim());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(inv["os"]["kernel"], kernel.trim());
    let uid_user = text(&Command::new("id").arg("-un").output().unwrap().stdout);
    assert_eq!(inv["user"]["username"], uid_user.trim());
    assert_eq!(
        inv["cpu"]["logical_cores"],
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(inv["top_cpu"].as_array().unwrap().len() <= 5);
    assert!(inv["top_memory"].as_array().unwrap().len() == 5);
    assert_eq!(inv["app_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn capture_writes_one_full_size_png_per_monitor() {
    let (w, h) = display_size();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("shots");
    let out = run(dir.path(), &["capture", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let paths: Vec<PathBuf> = text(&out.stdout).lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 1, "Xvfb has one screen");
    let png = image::open(&paths[0]).unwrap();
    assert_eq!((png.width(), png.height()), (w, h));
}

#[test]
fn endpoint_setting_is_cleaned_and_typos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "settings",
            "set",
            "atera.endpoint",
            "https://app.atera.com/api/v3/",
        ],
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("removed the path"));
    for bad in [
        "app.atera,com",
        "http://app.atera.com",
        "app.atera.com:8080",
        "app atera.com",
    ] {
        let out = run(dir.path(), &["settings", "set", "atera.endpoint", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).starts_with("error: "),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    let out = run(dir.path(), &["settings", "show", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["settings"]["atera"]["endpoint"], "app.atera.com");
}

#[test]
fn api_key_from_stdin_is_shown_masked_and_never_written_to_settings() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "k3y-that-must-never-leak-7f3a";
    let out = run_with_stdin(
        cli(dir.path(), &["settings", "set-api-key"]),
        format!("  {secret}\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("••••7f3a"));
    let show = run(dir.path(), &["settings", "show"]);
    let shown = text(&show.stdout) + &text(&show.stderr);
    assert!(shown.contains("api key: ••••7f3a"), "{shown}");
    assert!(!shown.contains(secret));
    let settings = std::fs::read_to_string(dir.path().join("settings.toml")).unwrap_or_default();
    assert!(!settings.contains(secret));
    assert!(!text(&out.stdout).contains(secret) && !text(&out.stderr).contains(secret));
}

#[test]
fn submit_files_a_ticket_in_the_sandbox_and_prints_its_number() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let out = cli(
        config.path(),
        &[
            "submit",
            "--name",
            "Ada Lovelace",
            "--email",
            "ada@example.com",
            "--message",
            "Screen <flickers>",
            "--priority",
            "HIGH",
            "--type",
            "service request",
            "--impact",
            "No Impact",
            "--selection",
            "Visit on site",
            "--json",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tickets = sb.get().tickets();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(result["ticket_id"], t.ticket_id);
    assert_eq!(result["outcome"], "sent");
    assert_eq!(
        (
            t.priority.as_str(),
            t.ticket_type.as_str(),
            t.impact.as_str()
        ),
        ("High", "Request", "NoImpact")
    );
    assert_eq!(t.title, "Screen <flickers>");
    assert!(t.description.contains("Screen &lt;flickers&gt;"));
    assert!(t
        .description
        .contains("How should we contact you? Visit on site"));
    let shots = t.description.matches("data:image/jpeg;base64,").count();
    assert_eq!(
        shots,
        result["screenshots_attached"].as_u64().unwrap() as usize
    );
    if std::env::var_os("DISPLAY").is_some() {
        assert_eq!(shots, 1, "the Xvfb screen is attached");
    }
}

#[test]
fn submit_refuses_bad_input_with_a_message_per_field() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let out = cli(
        config.path(),
        &[
            "submit",
            "--name",
            "",
            "--email",
            "ada@",
            "--message",
            "x",
            "--no-screenshots",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--email: This doesn't look like an email address"),
        "{err}"
    );
    assert!(err.contains("--name: Enter your name"), "{err}");
    assert!(err.contains("--message: Describe the problem"), "{err}");
    let out = cli(
        config.path(),
        &[
            "submit",
            "--name",
            "A",
            "--email",
            "a@b.co",
            "--message",
            "broken",
            "--priority",
            "asap",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use one of: Low, Medium, High, Critical"));
    assert!(sb.get().requests().is_empty(), "nothing reaches Atera");
}

#[test]
fn submit_without_a_key_saves_the_ticket_and_says_how_to_set_one() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let out = run(
        config.path(),
        &[
            "submit",
            "--name",
            "A",
            "--email",
            "a@b.co",
            "--message",
            "broken",
            "--no-screenshots",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "the ticket is saved, not lost");
    assert!(
        text(&out.stdout).starts_with("queued HB-"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("settings set-api-key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn settings_test_reports_each_step_and_files_a_marked_test_ticket() {
    let sb = TestSandbox::start();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let customer = sb.get().add_customer("Contoso");
    sb.get()
        .add_agent(customer, &hostname, None, "2026-11-01T00:00:00Z");
    let config = sb.config();
    let out = cli(
        config.path(),
        &["settings", "test", "--email", "new.person@contoso.com"],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("OK    Reach Atera and check the API key: connected to Sandbox MSP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("has an Atera agent under Contoso"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a new contact would be created under Contoso"),
        "{stdout}"
    );
    assert!(
        sb.get().tickets().is_empty() && sb.get().contacts().is_empty(),
        "a dry run creates nothing"
    );

    let out = cli(
        config.path(),
        &[
            "settings",
            "test",
            "--email",
            "new.person@contoso.com",
            "--send",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let tickets = sb.get().tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].title, "[TEST] Helpdesk Button integration test");
    assert!(
        stdout.contains(&format!(
            "OK    File a test ticket: test ticket #{} filed",
            tickets[0].ticket_id
        )),
        "{stdout}"
    );
}

/// A step that was not asked for is shown as skipped, with how to run it, and does not fail a
/// correct setup.
#[test]
fn settings_test_without_an_email_skips_the_contact_step_and_passes() {
    let sb = TestSandbox::start();
    let config = sb.config();
    for args in [&["settings", "test"][..], &["settings", "test", "--send"]] {
        let out = cli(config.path(), args)
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .output()
            .unwrap();
        let shown = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {shown}{}",
            text(&out.stderr)
        );
        assert!(shown.contains("OK    Reach Atera"), "{shown}");
        assert!(
            shown.contains("SKIP  Contact for a test email")
                && shown.contains("settings test --email"),
            "{shown}"
        );
        if args.contains(&"--send") {
            assert!(shown.contains("SKIP  File a test ticket"), "{shown}");
        }
    }
    assert!(sb.get().tickets().is_empty(), "nothing was filed");
}

#[test]
fn settings_test_with_a_wrong_key_fails_with_the_fix_and_without_the_key() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let wrong = "wrong-key-never-printed-9z";
    let out = cli(config.path(), &["settings", "test", "--email", "a@b.co"])
        .env("HELPDESK_BUTTON_ATERA_API_KEY", wrong)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        all.contains(
            "FAIL  Reach Atera and check the API key: Atera rejected the API key (HTTP 401)"
        ),
        "{all}"
    );
    assert!(all.contains("copy the key again from Atera"), "{all}");
    assert!(!all.contains(wrong));
    assert!(
        !all.contains("Find this computer"),
        "stops at the first failure"
    );
}

#[test]
fn submit_while_atera_is_unreachable_queues_and_flush_delivers_once() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let down = tempfile::tempdir().unwrap();
    // Point at a closed port first: nothing listens on 127.0.0.1:9.
    assert!(run(
        down.path(),
        &["settings", "set", "atera.endpoint", "127.0.0.1:9"]
    )
    .status
    .success());
    let out = cli(
        down.path(),
        &[
            "submit",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--message",
            "Queued while offline",
            "--no-screenshots",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "queuing is not a failure: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let reference = stdout
        .trim()
        .strip_prefix("queued ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    // The network comes back: same data directory, the sandbox's endpoint.
    assert!(run(
        down.path(),
        &["settings", "set", "atera.endpoint", &sb.get().endpoint()]
    )
    .status
    .success());
    let flush = cli(down.path(), &["outbox", "flush"])
        .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        flush.status.success(),
        "{}{}",
        text(&flush.stdout),
        text(&flush.stderr)
    );
    assert!(text(&flush.stdout).contains(&format!("sent {reference} as ticket #")));
    let again = cli(down.path(), &["outbox", "flush"])
        .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(text(&again.stdout).trim(), "Nothing to send.");
    assert_eq!(sb.get().tickets().len(), 1);
    let list: serde_json::Value =
        serde_json::from_slice(&run(down.path(), &["outbox", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["state"], "sent");
    assert_eq!(list[0]["ticket_id"], sb.get().tickets()[0].ticket_id);
    drop(config);
}

#[test]
fn killing_the_cli_flush_at_random_points_of_delivery_loses_nothing_and_duplicates_nothing() {
    kill_deliveries_at_random_points(|config| {
        cli(config, &["outbox", "flush"])
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    });
}

/// The running tray app delivers the outbox from its worker on start; it is killed (SIGKILL) at
/// random points of that delivery and started again.
#[test]
fn killing_the_running_app_at_random_points_of_delivery_loses_nothing_and_duplicates_nothing() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test needs a display: run tests/run-all.sh (it uses Xvfb)"
    );
    kill_deliveries_at_random_points(|config| {
        cli(config, &[])
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    });
}

/// The references of every entry in the outbox of `config`.
fn outbox_references(config: &Path) -> std::collections::BTreeSet<String> {
    let listed: serde_json::Value =
        serde_json::from_slice(&run(config, &["outbox", "list", "--json"]).stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reference"].as_str().unwrap().to_string())
        .collect()
}

/// The reference in every ticket the sandbox holds, once per ticket.
fn filed_references(sb: &TestSandbox) -> Vec<String> {
    sb.get()
        .tickets()
        .iter()
        .filter_map(|t| {
            t.description
                .split("Helpdesk Button ref ")
                .nth(1)
                .map(|rest| rest[..18].to_string())
        })
        .collect()
}

/// Eight saved submissions, delivered by processes from `deliverer` that are killed after a
/// random number of requests, through slow answers, server errors and dropped connections;
/// then settled by uninterrupted flushes. The ticket set must equal the submission set.
fn kill_deliveries_at_random_points(deliverer: impl Fn(&Path) -> Child) {
    use helpdesk_core::sandbox::Fault;
    let sb = TestSandbox::start();
    let config = sb.config();
    // Save eight submissions before any key is set (they wait in the outbox, due at once).
    for i in 0..8 {
        let out = cli(
            config.path(),
            &[
                "submit",
                "--name",
                "Kill Test",
                "--email",
                &format!("kill{i}@example.com"),
                "--message",
                &format!("kill test {i}"),
                "--no-screenshots",
            ],
        )
        .output()
        .unwrap();
        assert!(
            text(&out.stdout).starts_with("queued "),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let expected = outbox_references(config.path());
    assert_eq!(expected.len(), 8);
    // Tickets created whose answers are slow, server errors and dropped connections, so kills land
    // before, during and after requests.
    for i in 0..9 {
        sb.get().inject_fault(match i % 3 {
            0 => Fault::DoThenHang {
                method: "POST",
                path_prefix: "/tickets",
                hang: Duration::from_millis(1500),
            },
            1 => Fault::Status {
                method: "POST",
                path_prefix: "/tickets",
                status: 500,
                retry_after: None,
            },
            _ => Fault::DropConnection {
                method: "POST",
                path_prefix: "/tickets",
            },
        });
    }
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut kills = 0;
    'rounds: for _ in 0..40 {
        let unsent = |config: &Path| -> usize {
            let listed: serde_json::Value =
                serde_json::from_slice(&run(config, &["outbox", "list", "--json"]).stdout).unwrap();
            listed
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["state"] != "sent")
                .count()
        };
        if unsent(config.path()) == 0 {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Kill after the sandbox has seen 1 to 5 more requests: a random point of the delivery.
        let before = sb.get().requests().len();
        let after = before + 1 + (seed % 5) as usize;
        let mut child = deliverer(config.path());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() >= deadline {
                // A resident app whose entries all wait for their time (a backoff after a 500):
                // the uninterrupted flushes below settle the rest.
                child.kill().unwrap();
                let _ = child.wait();
                break 'rounds;
            }
            if sb.get().requests().len() >= after {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
                break;
            }
            std::thread::yield_now();
        }
        let _ = child.wait();
    }
    assert!(kills >= 3, "the test killed the app only {kills} times");
    // Whatever is left goes out in uninterrupted flushes: an entry whose answer was lost is
    // confirmed once the (test) list lag of 1 s has passed, and only then sent again if absent.
    let settle_by = Instant::now() + Duration::from_secs(60);
    loop {
        let last = cli(config.path(), &["outbox", "flush"])
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .output()
            .unwrap();
        if last.status.success() {
            break;
        }
        assert!(
            Instant::now() < settle_by,
            "not settled: {}",
            text(&last.stdout)
        );
        // The flush has reported what it waits for; wait for the lag's second to pass.
        std::thread::park_timeout(Duration::from_millis(500));
    }
    let found = filed_references(&sb);
    assert_eq!(found.len(), 8, "no ticket twice: {found:?}");
    assert_eq!(
        found.into_iter().collect::<std::collections::BTreeSet<_>>(),
        expected,
        "the ticket set equals the submission set"
    );
}

/// A policy file that cannot be parsed never loosens anything: every change is refused, naming
/// the file and the line, and tickets still go out.
#[test]
fn a_broken_policy_refuses_every_change_and_tickets_still_go_out() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "locked = [\"atera.endpoint\"]\n[settings.atera\n").unwrap();
    let rules = dir.path().join("rules.py");
    std::fs::write(&rules, "priority = 'High'\n").unwrap();
    let exported = dir.path().join("exported.toml");
    std::fs::write(&exported, "[branding]\ncompany_name = \"Mine\"\n").unwrap();
    let with_policy = |args: &[&str], stdin: &str| {
        let mut cmd = cli(config.path(), args);
        cmd.env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy)
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY);
        run_with_stdin(cmd, stdin.as_bytes())
    };
    for args in [
        &["settings", "set", "branding.company_name", "Mine"][..],
        &["settings", "set-api-key"],
        &["settings", "set-rules", rules.to_str().unwrap()],
        &["settings", "import", exported.to_str().unwrap()],
    ] {
        let out = with_policy(args, "0123456789abcdef0123456789abcdef\n");
        assert_eq!(out.status.code(), Some(2), "{args:?} must be refused");
        let err = text(&out.stderr);
        assert!(
            err.contains("policy file is broken")
                && err.contains("policy.toml")
                && err.contains("line 2"),
            "{args:?}: {err}"
        );
    }
    let settings = std::fs::read_to_string(config.path().join("settings.toml")).unwrap();
    assert!(!settings.contains("Mine"), "nothing was written");
    let out = with_policy(
        &[
            "submit",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--message",
            "Printer down",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "a ticket still goes out: {}",
        text(&out.stderr)
    );
    assert_eq!(sb.get().tickets().len(), 1);
}

/// With an admin password set, the terminal's ways in need it too: from the environment for
/// RMM scripts; a script without it is told how to give it.
#[test]
fn the_admin_password_guards_every_way_in_from_the_command_line() {
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hash = text(
        &run_with_stdin(
            cli(config.path(), &["settings", "hash-password"]),
            b"correct horse battery\n",
        )
        .stdout,
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("admin_password_hash = \"{}\"\n", hash.trim()),
    )
    .unwrap();
    let rules = dir.path().join("rules.py");
    std::fs::write(&rules, "priority = 'High'\n").unwrap();
    let exported = dir.path().join("exported.toml");
    std::fs::write(&exported, "[branding]\ncompany_name = \"Mine\"\n").unwrap();
    let attempt = |args: &[&str], password: Option<&str>| {
        let mut cmd = cli(config.path(), args);
        cmd.env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy);
        if let Some(p) = password {
            cmd.env("HELPDESK_BUTTON_ADMIN_PASSWORD", p);
        }
        run_with_stdin(cmd, b"0123456789abcdef0123456789abcdef\n")
    };
    let changes = [
        &["settings", "set", "branding.company_name", "Mine"][..],
        &["settings", "set-rules", rules.to_str().unwrap()],
        &["settings", "import", exported.to_str().unwrap()],
        &["settings", "set-api-key"],
    ];
    for args in changes {
        let out = attempt(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?} without the password");
        assert!(
            text(&out.stderr).contains("HELPDESK_BUTTON_ADMIN_PASSWORD"),
            "{}",
            text(&out.stderr)
        );
        let out = attempt(args, Some("not the password"));
        assert_eq!(out.status.code(), Some(2), "{args:?} with a wrong password");
        assert!(
            text(&out.stderr).contains("wrong admin password"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(
        !config.path().join("settings.toml").exists(),
        "nothing was changed"
    );
    for args in &changes[..3] {
        let out = attempt(args, Some("correct horse battery"));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    // Reading needs no password.
    assert!(attempt(&["settings", "show"], None).status.success());
}

/// Rules set by the policy run on the PC, and a policy that locks them refuses the PC's own.
#[test]
fn the_policy_sets_and_locks_the_dispatcher_rules() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "locked = [\"rules\"]\nrules = \"\"\"\nif 'VIP' in msg: priority = 'Critical'\n\"\"\"\n",
    )
    .unwrap();
    let mine = dir.path().join("mine.py");
    std::fs::write(&mine, "priority = 'Low'\n").unwrap();
    let with_policy = |args: &[&str]| {
        cli(config.path(), args)
            .env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy)
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .output()
            .unwrap()
    };
    let out = with_policy(&["settings", "set-rules", mine.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`rules` is locked by the policy"),
        "{}",
        text(&out.stderr)
    );
    let out = with_policy(&[
        "submit",
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
        "--message",
        "VIP printer down",
        "--no-screenshots",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        sb.get().tickets()[0].priority,
        "Critical",
        "the policy's rules ran"
    );
}

#[test]
fn a_fleet_policy_locks_values_and_export_import_moves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "locked = [\"atera.endpoint\", \"atera.defaults\"]\n[settings.atera]\nendpoint = \"msp.atera.example\"\n[settings.atera.defaults]\npriority = \"High\"\n",
    )
    .unwrap();
    let with_policy = |config: &Path, args: &[&str]| {
        cli(config, args)
            .env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy)
            .output()
            .unwrap()
    };
    let a = tempfile::tempdir().unwrap();
    let out = with_policy(
        a.path(),
        &["settings", "set", "atera.endpoint", "app.atera.com"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is locked by the policy"),
        "{}",
        text(&out.stderr)
    );
    let out = with_policy(
        a.path(),
        &["settings", "set", "atera.defaults.priority", "Low"],
    );
    assert_eq!(out.status.code(), Some(2), "a locked table locks its keys");
    assert!(with_policy(
        a.path(),
        &["settings", "set", "branding.company_name", "Contoso IT"]
    )
    .status
    .success());
    let exported = with_policy(a.path(), &["settings", "export"]);
    let exported_text = text(&exported.stdout);
    assert!(
        exported_text.contains("endpoint = \"msp.atera.example\"")
            && exported_text.contains("company_name = \"Contoso IT\""),
        "{exported_text}"
    );
    let file = dir.path().join("exported.toml");
    std::fs::write(
        &file,
        exported_text.replace("msp.atera.example", "other.example.com"),
    )
    .unwrap();
    // Another machine without the policy imports it.
    let b = tempfile::tempdir().unwrap();
    let out = run(b.path(), &["settings", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value =
        serde_json::from_slice(&run(b.path(), &["settings", "show", "--json"]).stdout).unwrap();
    assert_eq!(shown["settings"]["branding"]["company_name"], "Contoso IT");
    assert_eq!(shown["settings"]["atera"]["endpoint"], "other.example.com");
    // With the policy, the locked endpoint stays the policy's whatever the imported file says.
    let out = with_policy(b.path(), &["settings", "show", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["settings"]["atera"]["endpoint"], "msp.atera.example");
    assert_eq!(shown["settings"]["atera"]["defaults"]["priority"], "High");
}

#[test]
fn dispatcher_rules_rewrite_the_ticket_and_an_exception_blocks_it() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let rules = config.path().join("my-rules.py");
    std::fs::write(
        &rules,
        "if 'This is an emergency' in selections: priority = 'Critical'\n\
         if priority == 'Critical': subject = '**EMERGENCY** ' + subject\n\
         if 'fabrikam.com' in email.lower(): exception = 'Ticket submission is paused for this account.'\n\
         msg = msg + '\\n\\n[host=' + hostname + ']'\n",
    )
    .unwrap();
    let out = run(
        config.path(),
        &["settings", "set-rules", rules.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let submit = |email: &str| {
        cli(
            config.path(),
            &[
                "submit",
                "--name",
                "Ada",
                "--email",
                email,
                "--message",
                "Server room is flooding",
                "--selection",
                "This is an emergency",
                "--no-screenshots",
            ],
        )
        .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
        .output()
        .unwrap()
    };
    let out = submit("ada@contoso.com");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = &sb.get().tickets()[0];
    assert_eq!(
        (t.title.as_str(), t.priority.as_str()),
        ("**EMERGENCY** Server room is flooding", "Critical")
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        t.description
            .contains(&format!("[host={}]", hostname.trim())),
        "{}",
        &t.description[..300]
    );
    let out = submit("bob@fabrikam.com");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Ticket submission is paused for this account."));
    assert_eq!(
        sb.get().tickets().len(),
        1,
        "a blocked submission is not filed or queued"
    );
    let listed: serde_json::Value =
        serde_json::from_slice(&run(config.path(), &["outbox", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn the_key_is_in_no_file_the_app_writes_and_no_log_line() {
    let sb = TestSandbox::start();
    let config = sb.config();
    let mut output = run_with_stdin(
        cli(config.path(), &["settings", "set-api-key"]),
        KEY.as_bytes(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    for args in [
        vec![
            "submit",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--message",
            "Key audit",
            "--json",
        ],
        vec!["settings", "test", "--email", "ada@example.com", "--send"],
        vec!["settings", "show", "--json"],
        vec!["outbox", "list", "--json"],
        vec!["settings", "export"],
    ] {
        let out = cli(config.path(), &args)
            .env("HELPDESK_BUTTON_LOG", "trace")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        output.stdout.extend(out.stdout);
        output.stderr.extend(out.stderr);
    }
    assert_eq!(sb.get().tickets().len(), 2, "the key worked");
    let all_output = text(&output.stdout) + &text(&output.stderr);
    assert!(
        !all_output.contains(KEY),
        "the key leaked into output or logs"
    );
    assert!(
        all_output.contains("DEBUG") || all_output.contains("TRACE"),
        "logging was on"
    );
    let mut files = vec![config.path().to_path_buf()];
    let mut checked = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                "the key is in {}",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "settings, the sealed key file and the outbox were checked ({checked})"
    );
}

#[test]
fn concurrent_flushes_deliver_each_ticket_once() {
    let sb = TestSandbox::start();
    let config = sb.config();
    for i in 0..5 {
        let out = cli(
            config.path(),
            &[
                "submit",
                "--name",
                "Race",
                "--email",
                &format!("race{i}@example.com"),
                "--message",
                &format!("race {i}"),
                "--no-screenshots",
            ],
        )
        .env("HELPDESK_BUTTON_ATERA_API_KEY", "wrong-key-for-queueing")
        .output()
        .unwrap();
        assert!(text(&out.stdout).starts_with("queued "));
    }
    // Slow answers widen the window in which two deliverers could meet.
    for _ in 0..3 {
        sb.get()
            .inject_fault(helpdesk_core::sandbox::Fault::DoThenHang {
                method: "POST",
                path_prefix: "/tickets",
                hang: Duration::from_millis(300),
            });
    }
    let flushes: Vec<Child> = (0..3)
        .map(|_| {
            cli(config.path(), &["outbox", "flush"])
                .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut f in flushes {
        f.wait().unwrap();
    }
    let found: Vec<String> = sb
        .get()
        .tickets()
        .iter()
        .filter_map(|t| {
            t.description
                .split("Helpdesk Button ref ")
                .nth(1)
                .map(|r| r[..18].to_string())
        })
        .collect();
    let unique: std::collections::BTreeSet<&String> = found.iter().collect();
    assert_eq!(
        (found.len(), unique.len()),
        (5, 5),
        "each ticket once: {found:?}"
    );
}

// ---- The tray app's triggers (need a display, xdotool and a session bus) ----

struct App {
    child: Child,
    log: Receiver<String>,
    seen: Vec<String>,
}

impl App {
    fn start(config: &Path, args: &[&str]) -> App {
        Self::start_with_env(config, args, &[])
    }

    fn start_with_env(config: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "these tests need a display: run tests/run-all.sh (it uses Xvfb)"
        );
        let mut child = cli(config, args)
            .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
            .env("HELPDESK_BUTTON_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        App {
            child,
            log,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`.
    fn wait_log(&mut self, needle: &str) -> String {
        self.wait_log_from(needle, 0)
    }

    /// Waits for a log line containing `needle`, ignoring the first `from` lines seen.
    fn wait_log_from(&mut self, needle: &str, from: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        if let Some(line) = self.seen.iter().skip(from).find(|l| l.contains(needle)) {
            return line.clone();
        }
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line with {needle:?} within 30 s; saw:\n{}",
            self.seen.join("\n")
        );
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn display_size() -> (u32, u32) {
    let out = Command::new("xdpyinfo")
        .output()
        .expect("xdpyinfo (x11-utils) is installed");
    let info = text(&out.stdout);
    let dims = info
        .lines()
        .find(|l| l.trim_start().starts_with("dimensions:"))
        .expect("xdpyinfo prints the dimensions");
    let wh = dims.split_whitespace().nth(1).unwrap();
    let (w, h) = wh.split_once('x').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

fn form_windows() -> usize {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", FORM_TITLE])
        .output()
        .expect("xdotool is installed");
    text(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn wait_for_form_window() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if form_windows() > 0 {
            return;
        }
        std::thread::yield_now();
    }
    panic!("the form window did not appear within 30 s");
}

#[test]
fn hotkey_press_captures_the_screens_and_then_opens_the_form() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let sb = TestSandbox::start();
    let config = sb.config();
    let out = run(config.path(), &["settings", "set", "hotkey", "F9"]);
    assert!(
        out.status.success(),
        "a single F-key is a valid hotkey: {}",
        text(&out.stderr)
    );
    let mut app = App::start(config.path(), &[]);
    app.wait_log("hotkey registered");
    assert_eq!(form_windows(), 0, "a tray app starts without a window");
    let status = Command::new("xdotool")
        .args(["key", "F9"])
        .status()
        .unwrap();
    assert!(status.success());
    let captured = app.wait_log("screens captured");
    assert!(captured.contains("monitors=1"), "{captured}");
    wait_for_form_window();
    // The capture was logged before the window existed: the order of these two lines.
    let capture_index = app
        .seen
        .iter()
        .position(|l| l.contains("screens captured"))
        .unwrap();
    assert!(app.seen[..capture_index]
        .iter()
        .all(|l| !l.contains("form visible")));
    assert!(app.alive());
}

/// A process's resident pages from smaps_rollup, in kB: (file-backed, anonymous).
#[cfg(target_os = "linux")]
fn resident_kb(pid: u32) -> (u64, u64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let kb = |key: &str| -> u64 {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (kb("Rss:") - kb("Anonymous:"), kb("Anonymous:"))
}

/// Presses F9, waits for the form, closes it with Esc and waits for the idle trim after it.
#[cfg(target_os = "linux")]
fn open_and_close_the_form(app: &mut App, trimmed: &str) {
    let opened_at = app.seen.len();
    assert!(Command::new("xdotool")
        .args(["key", "F9"])
        .status()
        .unwrap()
        .success());
    app.wait_log_from("form visible", opened_at);
    wait_for_form_window();
    let window = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", FORM_TITLE])
        .output()
        .unwrap();
    let window = text(&window.stdout);
    let window = window.lines().next().unwrap();
    let closed_at = app.seen.len();
    Command::new("xdotool")
        .args(["windowfocus", "--sync", window, "key", "Escape"])
        .status()
        .unwrap();
    app.wait_log_from(trimmed, closed_at);
    assert_eq!(form_windows(), 0, "Esc closed the form");
}

/// Idle, the app unmaps clean file pages (helpdesk_core::memory) a few seconds after the start
/// and again after a form closes, and it keeps working: the next press still opens the form.
/// A closed form leaves nothing behind: the second form does not add to the first one's memory
/// (the captured frames go back to the system).
#[cfg(target_os = "linux")]
#[test]
fn an_idle_app_gives_memory_back_and_still_opens_the_form() {
    const TRIMMED: &str = "idle: memory given back";
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let sb = TestSandbox::start();
    let config = sb.config();
    assert!(run(config.path(), &["settings", "set", "hotkey", "F9"])
        .status
        .success());
    let log = std::ffi::OsStr::new("info,helpdesk_button::idle=debug");
    let mut app = App::start_with_env(config.path(), &[], &[("HELPDESK_BUTTON_LOG", log)]);
    app.wait_log("hotkey registered");
    let (before, _) = resident_kb(app.child.id());
    let line = app.wait_log(TRIMMED);
    let (after, _) = resident_kb(app.child.id());
    let released: f64 = line
        .split("released_mb=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .map(|v| v.trim_matches('"').parse().unwrap())
        .expect("the trim says how much it gave back");
    assert!(released >= 1.0, "{line}");
    assert!(
        after + 1024 < before,
        "resident file pages went from {before} kB to {after} kB"
    );

    // The pages it dropped come back when needed: a press still captures and opens the form.
    open_and_close_the_form(&mut app, TRIMMED);
    let (_, anon_after_one) = resident_kb(app.child.id());
    open_and_close_the_form(&mut app, TRIMMED);
    let (_, anon_after_two) = resident_kb(app.child.id());
    assert!(
        anon_after_two < anon_after_one + 3 * 1024,
        "a second form added {} kB of private memory",
        anon_after_two.saturating_sub(anon_after_one)
    );
    assert!(app.alive());
}

#[test]
fn second_launch_with_the_link_opens_the_form_in_the_running_instance() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "single instance needs a session bus: run under dbus-run-session"
    );
    let sb = TestSandbox::start();
    let config = sb.config();
    let mut first = App::start(config.path(), &[]);
    first.wait_log("hotkey registered");
    let second = cli(config.path(), &["helpdesk-button://new"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(second.success(), "the second launch hands over and exits");
    first.wait_log("second launch: opening the form");
    wait_for_form_window();
    assert_eq!(form_windows(), 1);
    assert!(first.alive());
}

#[test]
fn an_unusable_hotkey_is_reported_and_the_app_keeps_working() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let sb = TestSandbox::start();
    let config = sb.config();
    let settings = config.path().join("settings.toml");
    // (The file holds only what was changed: a top-level key goes before its tables.)
    let text_settings = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        format!("hotkey = \"Ctrl+Nope\"\n{text_settings}"),
    )
    .unwrap();
    let mut app = App::start(config.path(), &["--new-ticket"]);
    let line = app.wait_log("could not be registered");
    assert!(line.contains("Ctrl+Nope"), "{line}");
    wait_for_form_window();
    assert!(app.alive());
}

#[test]
fn clicking_a_reply_notification_opens_my_tickets() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "notifications need a session bus: run under dbus-run-session"
    );
    let sb = TestSandbox::start();
    let config = sb.config();
    let out = cli(
        config.path(),
        &[
            "submit",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--message",
            "Wi-Fi keeps dropping",
            "--no-screenshots",
            "--json",
        ],
    )
    .env("HELPDESK_BUTTON_ATERA_API_KEY", KEY)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ticket_id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["ticket_id"]
        .as_i64()
        .unwrap();
    assert!(sb.get().add_technician_comment(
        ticket_id,
        "Sam Tech",
        "Please forget the network and join again.",
        false
    ));
    // A notification daemon, as every desktop has.
    let mut dunst = Command::new("dunst")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst is installed");
    let count = || -> Option<u32> {
        let out = Command::new("dunstctl")
            .args(["count", "displayed"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| text(&out.stdout).trim().parse().ok())
            .flatten()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count().is_none() {
        assert!(Instant::now() < deadline, "dunst did not start");
        std::thread::yield_now();
    }
    // The app's first poll finds the technician's reply and notifies.
    let mut app = App::start(config.path(), &[]);
    app.wait_log("hotkey registered");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "no notification appeared; app log:\n{}",
            app.seen.join("\n")
        );
        std::thread::yield_now();
    }
    let windows = |name: &str| {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", name])
            .output()
            .unwrap();
        text(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    assert_eq!(windows("My tickets"), 0);
    assert!(Command::new("dunstctl")
        .args(["action", "0"])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while windows("My tickets") == 0 {
        assert!(
            Instant::now() < deadline,
            "clicking the notification did not open My tickets"
        );
        std::thread::yield_now();
    }
    assert!(app.alive());
    let _ = dunst.kill();
    let _ = dunst.wait();
}
