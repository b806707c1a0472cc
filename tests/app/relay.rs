//! The app and the relay as real processes: `helpdesk-button` (CLI) → `helpdesk-relay serve` →
//! the sandbox. The relay is configured, enrolled and revoked with its own CLI, and killed with
//! SIGKILL at random points while it files tickets.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{cli, filed_references, files_contain, outbox_references, text, TestSandbox, BIN, KEY};

/// `helpdesk-relay`, built next to the app by `cargo test --workspace`.
pub(super) fn relay_bin() -> PathBuf {
    let bin =
        Path::new(BIN).with_file_name(format!("helpdesk-relay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p helpdesk-core --bin helpdesk-relay` first)",
        bin.display()
    );
    bin
}

/// A relay process on a fixed loopback port (so the app's policy URL survives restarts), with
/// its data in a temporary directory.
pub(super) struct RelayProcess {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl RelayProcess {
    fn start(sandbox: &TestSandbox) -> Self {
        Self::start_with(sandbox, "")
    }

    /// With `extra` appended to `relay.toml` (before `[atera]`).
    pub(super) fn start_with(sandbox: &TestSandbox, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            dir.path().join("relay.toml"),
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n{extra}\n[atera]\nendpoint = \"{}\"\n",
                sandbox.get().endpoint()
            ),
        )
        .unwrap();
        let mut relay = Self {
            dir,
            port,
            child: None,
        };
        relay.spawn();
        relay
    }

    pub(super) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(relay_bin());
        cmd.arg("--config")
            .arg(self.dir.path().join("relay.toml"))
            .args(args)
            .env("HELPDESK_RELAY_ATERA_KEY", KEY)
            // Debug builds only: no list lag before a lost answer is looked up.
            .env("HELPDESK_BUTTON_TEST_LIST_LAG_MS", "0")
            .env("HELPDESK_RELAY_LOG", "warn");
        cmd
    }

    pub(super) fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "helpdesk-relay {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Starts `serve` and waits for its "listening" line.
    pub(super) fn spawn(&mut self) {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the relay never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the relay says it is listening");
        assert!(line.contains(&format!("127.0.0.1:{}", self.port)), "{line}");
        self.child = Some(child);
    }

    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            let _ = child.wait();
        }
    }

    pub(super) fn token(&self, customer: i64, uses: u32) -> String {
        self.run(&[
            "enroll",
            "create",
            "--customer",
            &customer.to_string(),
            "--customer-name",
            "Acme Dental",
            "--uses",
            &uses.to_string(),
        ])
        .trim()
        .to_string()
    }

    pub(super) fn devices(&self) -> Vec<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&self.run(&["devices", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PC whose machine policy names the relay and carries `token`.
pub(super) fn relay_pc(relay: &RelayProcess, token: &str) -> (tempfile::TempDir, PathBuf) {
    let config = tempfile::tempdir().unwrap();
    let policy = config.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[settings.relay]\nurl = \"{}\"\nenrollment_token = \"{token}\"\n",
            relay.url()
        ),
    )
    .unwrap();
    (config, policy)
}

pub(super) fn submit(config: &Path, policy: &Path, n: usize) -> Command {
    let mut cmd = cli(
        config,
        &[
            "submit",
            "--json",
            "--name",
            "Dana Front",
            "--email",
            &format!("dana{n}@acme-dental.example"),
            "--message",
            &format!("The front desk printer jams ({n})"),
            "--no-screenshots",
        ],
    );
    cmd.env("HELPDESK_BUTTON_TEST_POLICY_FILE", policy);
    cmd
}

#[test]
fn the_app_files_through_the_relay_enrolls_once_holds_no_key_and_is_refused_once_revoked() {
    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let relay = RelayProcess::start(&sandbox);
    let (config, policy) = relay_pc(&relay, &relay.token(customer, 1));

    let out = submit(config.path(), &policy, 1).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["outcome"], "sent", "{answer}");
    let tickets = sandbox.get().tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(answer["ticket_id"], tickets[0].ticket_id);
    let requester = sandbox
        .get()
        .contacts()
        .into_iter()
        .find(|c| c.email == "dana1@acme-dental.example")
        .expect("the relay created the requester");
    assert_eq!(
        requester.customer_id, customer,
        "under the token's customer"
    );

    // The second ticket uses the stored credential: the (one-use) token is spent.
    let out = submit(config.path(), &policy, 2).output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["outcome"], "sent", "{answer}");
    let devices = relay.devices();
    assert_eq!(devices.len(), 1, "enrolled once: {devices:?}");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(devices[0]["hostname"], hostname.trim());
    assert_eq!(devices[0]["customer_id"], customer);

    // The Integration Test checks what a relay PC depends on, with no key on the PC.
    let mut check = cli(config.path(), &["settings", "test"]);
    check.env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy);
    let out = check.output().unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    for step in [
        "OK    Reach the relay",
        "OK    Enroll this PC",
        "OK    Device identity: device ",
        "OK    The relay's Atera connection: the relay reaches Atera",
        "OK    The relay's form settings",
    ] {
        assert!(report.contains(step), "{step:?} in:\n{report}");
    }
    // Nothing the app wrote holds the key.
    assert_eq!(files_contain(config.path(), KEY), Vec::<PathBuf>::new());
    // The relay's audit log names references, not ticket text.
    let audit = relay.run(&["audit", "--json"]);
    assert!(audit.contains("\"filed\""), "{audit}");
    assert!(!audit.contains("printer"), "{audit}");

    // Revoked: refused at once, kept on the PC, and the user is told to contact IT.
    let device = devices[0]["device_id"].as_str().unwrap();
    relay.run(&["devices", "revoke", device]);
    let out = submit(config.path(), &policy, 3).output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["outcome"], "queued", "{answer}");
    assert_eq!(answer["waits_for_admin"], true);
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("contact your IT provider"),
        "{answer}"
    );
    assert_eq!(sandbox.get().tickets().len(), 2);
    let mut check = cli(config.path(), &["settings", "test"]);
    check.env("HELPDESK_BUTTON_TEST_POLICY_FILE", &policy);
    let report = text(&check.output().unwrap().stdout);
    assert!(report.contains("FAIL  Device identity"), "{report}");
}

#[test]
fn an_expired_token_cannot_enroll_and_the_app_says_so() {
    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let relay = RelayProcess::start(&sandbox);
    let token = relay.run(&[
        "enroll",
        "create",
        "--customer",
        &customer.to_string(),
        "--customer-name",
        "Acme Dental",
        "--expires",
        "1s",
    ]);
    // Wait out the token's second on the clock (no test state to synchronise with).
    let until = Instant::now() + Duration::from_millis(2100);
    while Instant::now() < until {
        std::thread::park_timeout(until - Instant::now());
    }
    let (config, policy) = relay_pc(&relay, token.trim());
    let out = submit(config.path(), &policy, 1).output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["outcome"], "queued", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("expired"),
        "{answer}"
    );
    assert!(relay.devices().is_empty());
    assert!(sandbox.get().tickets().is_empty());
}

/// Six tickets from the app while the relay is SIGKILLed after a random number of Atera requests
/// (through slow answers and dropped connections), restarted each time; then settled. Every
/// reference is filed exactly once.
#[test]
fn the_relay_killed_at_random_points_loses_nothing_and_doubles_nothing() {
    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let mut relay = RelayProcess::start(&sandbox);
    let (config, policy) = relay_pc(&relay, &relay.token(customer, 1));
    inject_post_faults(&sandbox, 12);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    for n in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let after = sandbox.get().requests().len() + 1 + (seed % 5) as usize;
        let mut app = submit(config.path(), &policy, n)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while app.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if sandbox.get().requests().len() >= after {
                relay.kill();
                kills += 1;
                relay.spawn();
                break;
            }
            std::thread::yield_now();
        }
        let _ = app.wait();
    }
    assert!(kills >= 3, "the relay was killed only {kills} times");
    let expected = settle(&[(config.path(), policy.as_path())], 6);
    assert_filed_once(&sandbox, &expected);
}

/// `n` faults on Atera's `POST /tickets`, in turn: a ticket created but answered late, one
/// created and its answer lost, and a connection dropped before anything is created.
pub(super) fn inject_post_faults(sandbox: &TestSandbox, n: usize) {
    use helpdesk_core::sandbox::Fault;
    for i in 0..n {
        sandbox.get().inject_fault(match i % 3 {
            0 => Fault::DoThenHang {
                method: "POST",
                path_prefix: "/tickets",
                hang: Duration::from_millis(1500),
            },
            1 => Fault::DoThenDrop {
                method: "POST",
                path_prefix: "/tickets",
            },
            _ => Fault::DropConnection {
                method: "POST",
                path_prefix: "/tickets",
            },
        });
    }
}

/// Flushes every PC until it holds nothing unsent (what it holds goes to the relay, idempotent
/// by reference); returns every reference the PCs filed, after checking there are `count`.
pub(super) fn settle(pcs: &[(&Path, &Path)], count: usize) -> std::collections::BTreeSet<String> {
    let settle_by = Instant::now() + Duration::from_secs(90);
    let mut expected = std::collections::BTreeSet::new();
    for (config, policy) in pcs {
        loop {
            let flushed = cli(config, &["outbox", "flush"])
                .env("HELPDESK_BUTTON_TEST_POLICY_FILE", policy)
                .output()
                .unwrap();
            if flushed.status.success() {
                break;
            }
            assert!(
                Instant::now() < settle_by,
                "the PC did not settle: {}",
                text(&flushed.stdout)
            );
            std::thread::park_timeout(Duration::from_millis(300));
        }
        expected.extend(outbox_references(config));
    }
    assert_eq!(expected.len(), count);
    expected
}

/// Waits until the relay has filed every one of `expected` in Atera, and asserts that no
/// reference was filed twice on the way.
pub(super) fn assert_filed_once(
    sandbox: &TestSandbox,
    expected: &std::collections::BTreeSet<String>,
) {
    let settle_by = Instant::now() + Duration::from_secs(90);
    loop {
        let found = filed_references(sandbox);
        let distinct: std::collections::BTreeSet<String> = found.iter().cloned().collect();
        assert_eq!(
            found.len(),
            distinct.len(),
            "a ticket was filed twice: {found:?}"
        );
        if &distinct == expected {
            break;
        }
        assert!(
            Instant::now() < settle_by,
            "the relay did not file everything: {distinct:?} of {expected:?}"
        );
        std::thread::park_timeout(Duration::from_millis(300));
    }
}

/// The Debian install step, into a scratch root: the binary, the unit, a private config and key
/// file and data directory; a second run keeps what the MSP edited.
#[cfg(unix)]
#[test]
fn the_install_script_lays_out_the_relay_and_keeps_an_edited_config() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/relay/deploy/install.sh");
    let install = || {
        let out = Command::new("bash")
            .arg(&script)
            .arg(relay_bin())
            .env("DESTDIR", root.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    install();
    let mode = |p: &str| {
        std::fs::metadata(root.path().join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("usr/bin/helpdesk-relay"), 0o755);
    assert_eq!(mode("lib/systemd/system/helpdesk-relay.service"), 0o644);
    assert_eq!(mode("etc/helpdesk-relay"), 0o750);
    assert_eq!(mode("etc/helpdesk-relay/atera.key"), 0o600);
    assert_eq!(mode("var/lib/helpdesk-relay"), 0o700);
    let unit = std::fs::read_to_string(
        root.path()
            .join("lib/systemd/system/helpdesk-relay.service"),
    )
    .unwrap();
    assert!(unit.contains(
        "ExecStart=/usr/bin/helpdesk-relay serve --config /etc/helpdesk-relay/relay.toml"
    ));
    assert!(unit.contains("User=helpdesk-relay"));
    let config = root.path().join("etc/helpdesk-relay/relay.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:9999\"\n").unwrap();
    install();
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "listen = \"127.0.0.1:9999\"\n"
    );
}

/// `[tls]`: the relay serves https from PEM files (curl trusting the certificate reads its
/// health), and the app, which trusts only real CAs, refuses a self-signed relay and keeps the
/// ticket.
#[test]
fn the_relay_serves_tls_from_pem_files_and_the_app_refuses_an_untrusted_certificate() {
    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (tests/run-all.sh installs it)");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let relay = RelayProcess::start_with(
        &sandbox,
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let url = format!("https://127.0.0.1:{}/", relay.port);
    let health = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&cert)
        .arg(format!("{url}healthz"))
        .output()
        .unwrap();
    assert!(health.status.success(), "{}", text(&health.stderr));
    assert!(text(&health.stdout).contains("\"status\":\"ok\""));
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{}/healthz", relay.port))
        .output()
        .unwrap();
    assert!(
        !text(&plain.stdout).contains("\"ok\""),
        "plain http was answered"
    );

    let token = relay.token(customer, 1);
    let config = tempfile::tempdir().unwrap();
    let policy = config.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[settings.relay]\nurl = \"{url}\"\nenrollment_token = \"{token}\"\n"),
    )
    .unwrap();
    let out = submit(config.path(), &policy, 1).output().unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["outcome"], "queued", "{answer}");
    assert!(
        relay.devices().is_empty(),
        "enrolled over an untrusted certificate"
    );
    assert!(sandbox.get().tickets().is_empty());
}

/// The rules edited as an admin does it, against real processes: `helpdesk-relay admin create`
/// prints a token, the admin API (the admin window's client) saves rules with it, the app's next
/// ticket through the relay runs them, and `admin revoke` ends the token at once.
#[test]
fn an_admin_token_from_the_relays_cli_edits_the_rules_the_next_ticket_runs_and_revoke_ends_it() {
    use helpdesk_core::relay::admin_client::RelayAdmin;
    use helpdesk_core::relay::protocol::Refusal;
    use helpdesk_core::relay::RelayError;

    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let relay = RelayProcess::start(&sandbox);
    let token = relay.run(&["admin", "create", "--name", "Dana"]);
    let token = token.trim();
    assert!(token.starts_with("hba1."), "{token}");
    let admin = RelayAdmin::new(
        &relay.url(),
        &helpdesk_core::secrets::ApiKey::new(token).unwrap(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let doc = rt.block_on(admin.rules()).unwrap();
    assert_eq!((doc.version, doc.editable), (0, true));
    rt.block_on(admin.save("if 'jams' in msg:\n    priority = 'High'\n", doc.version))
        .unwrap();

    let (config, policy) = relay_pc(&relay, &relay.token(customer, 1));
    let out = submit(config.path(), &policy, 1).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tickets = sandbox.get().tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        tickets[0].priority, "High",
        "the saved rules ran on the relay"
    );

    let audit = relay.run(&["audit"]);
    assert!(audit.contains("rules-saved"), "{audit}");
    assert!(
        !audit.contains("jams"),
        "the audit log holds no script: {audit}"
    );
    let id = token.split('.').nth(1).unwrap();
    assert!(relay.run(&["admin", "list"]).contains("Dana"));
    relay.run(&["admin", "revoke", id]);
    match rt.block_on(admin.rules()) {
        Err(RelayError::Refused {
            code: Refusal::Forbidden,
            ..
        }) => {}
        other => panic!("a revoked admin token was not refused: {other:?}"),
    }
    let listed: serde_json::Value =
        serde_json::from_str(&relay.run(&["admin", "list", "--json"])).unwrap();
    assert!(listed[0]["revoked_at"].is_i64(), "{listed}");
    let unknown = relay
        .command(&["admin", "revoke", "0000000000000000"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("admin list"));
}
