//! The updater in the real tray app, against a static HTTP server on 127.0.0.1 that records what
//! it was asked for. Each case changes what the server publishes, asks the running app to check
//! (`--check-updates`, handed to the running instance), and reads the status the app reports.
//!
//! Fixtures (tests/fixtures/updater, made with `release.sh keygen` / `release.sh sign`):
//! `test.key(.pub)` and `other.key(.pub)` are two key pairs without a password; the package is
//! signed with each, for version 9.9.9, and once with the test key for version 9.9.8.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{cli, run, text, App, GUI};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/updater");
const PACKAGE: &str = "helpdesk-button_9.9.9_amd64.deb";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap().trim().to_string()
}

/// A static file server: path → body; every request path is recorded.
struct StaticServer {
    port: u16,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl StaticServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, r) = (files.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                r.lock().unwrap().push(path.clone());
                let body = f.lock().unwrap().get(&path).cloned();
                let response = match body {
                    Some(body) => {
                        let mut head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        head.extend(body);
                        head
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            }
        });
        Self {
            port,
            files,
            requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn publish(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.files.lock().unwrap().insert(path.into(), body.into());
    }

    /// Publishes `version` on `channel` with the package at /files/PACKAGE and the signature
    /// fixture `PACKAGE.<signed_by>.sig` (test, other or v998).
    fn release(&self, channel: &str, version: &str, signed_by: &str) {
        let signature = fixture_text(&format!("{PACKAGE}.{signed_by}.sig"));
        let manifest = serde_json::json!({
            "version": version,
            "notes": "Faster form",
            "pub_date": "2026-11-28T09:00:00Z",
            "platforms": {
                "linux-x86_64": { "url": self.url(&format!("/files/{PACKAGE}")), "signature": signature }
            }
        });
        self.publish(&format!("/{channel}/latest.json"), manifest.to_string());
    }

    fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn status(config: &Path) -> serde_json::Value {
    std::fs::read(config.join("update-status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Asks the running app to check now and waits for that check's status.
fn check_now(app: &mut App, config: &Path) -> serde_json::Value {
    let before = status(config)["checks"].as_u64().unwrap_or(0);
    let second = cli(config, &["--check-updates"])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(second.success(), "the second launch hands over and exits");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(config);
        if s["checks"].as_u64().unwrap_or(0) > before && s["last_trigger"] == "manual" {
            assert!(app.alive(), "the app keeps running after a check");
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "no check finished within 60 s; status {s}; app log:\n{}",
            app.seen.join("\n")
        );
        // Drain the log so the app never blocks on a full pipe.
        while let Ok(line) = app.log.try_recv() {
            app.seen.push(line);
        }
        std::thread::yield_now();
    }
}

fn failure(s: &serde_json::Value) -> String {
    assert_eq!(s["outcome"]["state"], "failed", "{s}");
    assert_eq!(s["outcome"]["refused"], true, "{s}");
    s["outcome"]["message"].as_str().unwrap().to_string()
}

#[test]
fn updates_are_verified_tampering_is_refused_and_the_channel_picks_the_manifest() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = StaticServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    for (key, value) in [
        ("updates.stable_url", server.url("/stable/latest.json")),
        ("updates.beta_url", server.url("/beta/latest.json")),
    ] {
        let out = run(&config, &["settings", "set", key, &value]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // The fleet's policy pins the test key; without it the app trusts only its built-in key.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "locked = [\"updates.pubkey\"]\n[settings.updates]\npubkey = \"{}\"\n",
            fixture_text("test.key.pub")
        ),
    )
    .unwrap();
    let package = fixture(PACKAGE);
    server.publish(&format!("/files/{PACKAGE}"), package.clone());
    server.release("stable", "9.9.9", "test");

    let mut app = App::start_with_env(
        &config,
        &[],
        &[("HELPDESK_BUTTON_TEST_POLICY_FILE", policy.as_os_str())],
    );
    app.wait_log("hotkey registered");

    // 1. A correctly signed newer version is found, downloaded and verified.
    let s = check_now(&mut app, &config);
    assert_eq!(s["outcome"]["state"], "ready", "{s}");
    assert_eq!(s["outcome"]["version"], "9.9.9");
    assert_eq!(s["channel"], "stable");
    assert!(
        s["key_source"].as_str().unwrap().contains("policy.toml"),
        "{s}"
    );
    assert_eq!(
        server.take_requests(),
        [
            "/stable/latest.json".to_string(),
            format!("/files/{PACKAGE}")
        ]
    );
    // This copy runs from the build directory, not a package: it says so instead of installing.
    assert_eq!(s["install_mode"]["kind"], "unsupported", "{s}");
    assert!(s["install_mode"]["message"]
        .as_str()
        .unwrap()
        .contains("not installed from a package"));

    // 2. A tampered package: one byte changed after signing.
    let mut tampered = package.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    server.publish(&format!("/files/{PACKAGE}"), tampered);
    let message = failure(&check_now(&mut app, &config));
    assert!(
        message.contains("does not match its signature")
            && message.contains("Nothing was installed"),
        "{message}"
    );
    server.publish(&format!("/files/{PACKAGE}"), package.clone());

    // 3. A signature made with another key.
    server.release("stable", "9.9.9", "other");
    let message = failure(&check_now(&mut app, &config));
    assert!(
        message.contains("signed with a different key") && message.contains("policy.toml"),
        "{message}"
    );

    // 4. A manifest announcing 9.9.9 for a package signed as 9.9.8 (an altered manifest).
    server.release("stable", "9.9.9", "v998");
    let message = failure(&check_now(&mut app, &config));
    assert!(message.contains("signed as version 9.9.8"), "{message}");

    // 5. A downgrade: the channel offers an older version than the one running.
    server.release("stable", "0.0.1", "test");
    let message = failure(&check_now(&mut app, &config));
    assert!(
        message.contains("offers version 0.0.1, older than the installed"),
        "{message}"
    );
    assert_eq!(
        server.take_requests().last().map(String::as_str),
        Some("/stable/latest.json"),
        "nothing is downloaded for a downgrade"
    );

    // 6. Malformed manifests: not JSON, a required field missing, a version that is not semver.
    for body in [
        "<html>502 Bad Gateway</html>".to_string(),
        serde_json::json!({ "version": "9.9.9" }).to_string(),
        serde_json::json!({ "version": "nine", "platforms": {} }).to_string(),
    ] {
        server.publish("/stable/latest.json", body.clone());
        let message = failure(&check_now(&mut app, &config));
        assert!(
            message.contains("is not valid") && message.contains("/stable/latest.json"),
            "{body}: {message}"
        );
    }

    // 7. Switching the channel changes which manifest is read.
    server.release("beta", "9.9.9", "test");
    server.take_requests();
    let out = run(&config, &["settings", "set", "updates.channel", "beta"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = check_now(&mut app, &config);
    assert_eq!(s["channel"], "beta");
    assert_eq!(s["outcome"]["state"], "ready", "{s}");
    let requests = server.take_requests();
    assert_eq!(
        requests.first().map(String::as_str),
        Some("/beta/latest.json"),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("/stable/")),
        "{requests:?}"
    );

    // The version the app reports never changed: nothing was installed.
    let version = run(&config, &["--version"]);
    assert!(!text(&version.stdout).contains("9.9.9"));
    assert!(app.alive());
}

#[test]
fn without_a_policy_pin_only_the_built_in_key_is_trusted() {
    let _gui = GUI
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = StaticServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().to_path_buf();
    // A user's own settings file cannot pin a key: the CLI refuses, and the file value is ignored.
    let out = run(
        &config,
        &[
            "settings",
            "set",
            "updates.pubkey",
            &fixture_text("test.key.pub"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("only the machine-wide policy file"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        config.join("settings.toml"),
        format!(
            "schema_version = 1\n[updates]\nstable_url = \"{}\"\npubkey = \"{}\"\n",
            server.url("/stable/latest.json"),
            fixture_text("test.key.pub")
        ),
    )
    .unwrap();
    server.publish(&format!("/files/{PACKAGE}"), fixture(PACKAGE));
    server.release("stable", "9.9.9", "test");
    let mut app = App::start_with_env(
        &config,
        &[],
        &[(
            "HELPDESK_BUTTON_TEST_POLICY_FILE",
            dir.path().join("no-policy.toml").as_os_str(),
        )],
    );
    app.wait_log("hotkey registered");
    let s = check_now(&mut app, &config);
    let message = failure(&s);
    assert!(
        message.contains("signed with a different key") && message.contains("built into the app"),
        "{message}"
    );
    assert_eq!(s["key_source"], "built into the app");
}
