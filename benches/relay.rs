//! The relay under a fleet: 1,000 simulated devices on loopback enroll with the real
//! `helpdesk-relay` process, each files one ticket and waits for the relay's answer that it is
//! filed in Atera (the sandbox, in this process). Then the same 1,000 tickets go in direct mode,
//! one outbox per PC, for the request count against Atera side by side.
//!
//! `cargo bench -p helpdesk-core --bench relay` (release build). Prints a report; asserts
//! nothing. `HB_RELAY_DEVICES=N` changes the fleet size.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, Destination, Outbox};
use helpdesk_core::relay::protocol::{EnrollRequest, RelayedState};
use helpdesk_core::relay::RelayClient;
use helpdesk_core::sandbox::{Sandbox, SandboxConfig};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::{AuthMode, Settings};
use helpdesk_core::submit::{new_reference, RetryPolicy, SavedSubmission, Submission};

const KEY: &str = "bench-relay-key-0123456789";
/// Devices talking to the relay at once.
const CONCURRENCY: usize = 100;

fn form(n: usize) -> TicketForm {
    TicketForm {
        name: format!("User {n}"),
        email: format!("user{n}@customer.example"),
        description: format!("Benchmark ticket {n}: the printer jams"),
        ..Default::default()
    }
}

fn settings(sandbox: &Sandbox) -> Settings {
    let mut s = Settings::default();
    s.set("atera.endpoint", &sandbox.endpoint()).unwrap();
    s
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn start_relay(dir: &Path, sandbox: &Sandbox) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("relay.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n[atera]\nendpoint = \"{}\"\n[limits]\nrequests_per_minute = 1000\n",
            sandbox.endpoint()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk-relay"))
        .arg("--config")
        .arg(dir.join("relay.toml"))
        .arg("serve")
        .env("HELPDESK_RELAY_ATERA_KEY", KEY)
        .env("HELPDESK_RELAY_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("helpdesk-relay starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("listening"), "{line}");
    (child, format!("http://127.0.0.1:{port}/"))
}

fn main() {
    let devices: usize = std::env::var("HB_RELAY_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = SandboxConfig {
            api_keys: vec![KEY.into()],
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into()).await.unwrap();
        let customer = sandbox.add_customer("Bench Customer");
        let dir = tempfile::tempdir().unwrap();
        let (mut relay, url) = start_relay(dir.path(), &sandbox);
        let token = {
            let out = Command::new(env!("CARGO_BIN_EXE_helpdesk-relay"))
                .arg("--config")
                .arg(dir.path().join("relay.toml"))
                .args(["enroll", "create", "--customer", &customer.to_string()])
                .args(["--customer-name", "Bench Customer", "--uses", &devices.to_string()])
                .env("HELPDESK_RELAY_ATERA_KEY", KEY)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let base = sandbox.requests().len();

        // Enroll.
        let started = Instant::now();
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = Vec::new();
        for n in 0..devices {
            let (url, token, slots) = (url.clone(), token.clone(), slots.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire().await.unwrap();
                let anonymous = RelayClient::new(&url, None).unwrap();
                let enrolled = anonymous
                    .enroll(&EnrollRequest {
                        token,
                        hostname: format!("PC-{n:04}"),
                        mac: None,
                        app_version: "bench".into(),
                    })
                    .await
                    .expect("enrolls");
                RelayClient::new(&url, Some(&ApiKey::new(&enrolled.credential).unwrap())).unwrap()
            }));
        }
        let mut clients = Vec::new();
        for t in tasks {
            clients.push(t.await.unwrap());
        }
        let enroll_time = started.elapsed();
        let enroll_requests = sandbox.requests().len() - base;

        // Submit, each waiting for the relay's "filed".
        let settings = settings(&sandbox);
        let base = sandbox.requests().len();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (n, client) in clients.into_iter().enumerate() {
            let slots = slots.clone();
            let saved = SavedSubmission::new(
                &settings,
                Submission {
                    form: form(n),
                    reference: new_reference(),
                    screenshots: &[],
                    inventory: None,
                },
            )
            .unwrap();
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire().await.unwrap();
                let sent = Instant::now();
                let mut status = client.submit(&saved, Duration::from_secs(10)).await.expect("stored");
                // Past the relay's wait: ask again until it is filed.
                while status.state == RelayedState::Queued {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    status = client.ticket(&saved.reference).await.expect("readable");
                }
                assert_eq!(status.state, RelayedState::Filed);
                sent.elapsed()
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.push(t.await.unwrap());
        }
        let submit_time = started.elapsed();
        let relay_requests = sandbox.requests().len() - base;
        latencies.sort();
        let rss = peak_rss_mib(relay.id());
        let _ = relay.kill();
        let _ = relay.wait();
        assert_eq!(sandbox.tickets().len(), devices, "one ticket per device");

        // Direct mode: the same tickets, each PC with its own key and outbox.
        let client = AteraClient::new(
            settings.endpoint().unwrap().base_url(),
            &ApiKey::new(KEY).unwrap(),
            AuthMode::Auto,
            Timeouts::default(),
        )
        .unwrap();
        let base = sandbox.requests().len();
        let started = Instant::now();
        for n in 0..devices {
            let outbox = Outbox::in_memory().unwrap();
            let delivery = outbox::Delivery {
                destination: Destination::Atera(&client),
                settings: &settings,
                rules: None,
                app_version: "bench",
                policy: RetryPolicy::default(),
                customer: None,
            };
            let submission = Submission {
                form: form(devices + n),
                reference: new_reference(),
                screenshots: &[],
                inventory: None,
            };
            outbox::submit(&outbox, &settings, submission, Ok(&delivery))
                .await
                .unwrap();
        }
        let direct_time = started.elapsed();
        let direct_requests = sandbox.requests().len() - base;

        println!("relay benchmark: {devices} devices on loopback, {CONCURRENCY} at a time, release build");
        println!(
            "  enroll:  {:.1} s, {:.0} enrollments/s, {} requests to Atera",
            enroll_time.as_secs_f64(),
            devices as f64 / enroll_time.as_secs_f64(),
            enroll_requests
        );
        println!(
            "  submit → filed: {:.1} s, {:.0} tickets/s; latency p50 {} ms, p99 {} ms",
            submit_time.as_secs_f64(),
            devices as f64 / submit_time.as_secs_f64(),
            percentile(&latencies, 0.5).as_millis(),
            percentile(&latencies, 0.99).as_millis()
        );
        println!("  relay peak RSS: {rss:.1} MiB");
        println!(
            "  requests to Atera per ticket: relay {:.2}, direct {:.2} ({} vs {} in all); direct in {:.1} s one PC after another",
            relay_requests as f64 / devices as f64,
            direct_requests as f64 / devices as f64,
            relay_requests,
            direct_requests,
            direct_time.as_secs_f64()
        );
        sandbox.shutdown().await;
    });
}
