//! Shared helpers: a sandbox, a client pointed at it, settings, a realistic inventory and
//! synthetic screenshots.

use std::time::Duration;

use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::capture::{process_frames, test_frame, Screenshot};
use helpdesk_core::form::TicketForm;
use helpdesk_core::inventory::{self, Inventory};
use helpdesk_core::sandbox::{RecordedRequest, Sandbox, SandboxConfig};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::{AuthMode, Settings};
use helpdesk_core::submit::{new_reference, Submission};

pub const KEY: &str = "sandbox-test-key-0123456789";

pub async fn sandbox() -> Sandbox {
    let config = SandboxConfig {
        api_keys: vec![KEY.into()],
        ..SandboxConfig::default()
    };
    Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox starts")
}

pub fn settings_for(sandbox: &Sandbox) -> Settings {
    let mut settings = Settings::default();
    settings
        .set("atera.endpoint", &sandbox.endpoint())
        .expect("loopback endpoint is valid");
    settings
}

pub fn client_for(sandbox: &Sandbox, key: &str) -> AteraClient {
    let endpoint = settings_for(sandbox).endpoint().unwrap();
    AteraClient::new(
        endpoint.base_url(),
        &ApiKey::new(key).unwrap(),
        AuthMode::Auto,
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(10),
        },
    )
    .unwrap()
}

/// This machine's inventory, renamed so tests control the hostname and MAC the agent lookup uses.
pub fn inventory(hostname: &str, mac: &str) -> Inventory {
    let mut inv = inventory::collect("0.0.0-test", Duration::ZERO);
    inv.hostname = hostname.into();
    inv.network.retain(|n| !n.is_primary);
    inv.network.insert(
        0,
        serde_json::from_value(serde_json::json!({
            "name": "eth0", "mac": mac, "ipv4": ["192.0.2.10"], "ipv6": [], "is_primary": true
        }))
        .unwrap(),
    );
    inv
}

pub fn screenshots() -> Vec<Screenshot> {
    process_frames(vec![
        test_frame("HDMI-1", 1920, 1080, true),
        test_frame("DP-2", 1280, 1024, false),
    ])
    .unwrap()
    .screenshots
}

/// A new submission of `form` with these screenshots and this machine's facts, no rules.
pub fn submission<'a>(
    form: TicketForm,
    screenshots: &'a [Screenshot],
    inventory: Option<&'a Inventory>,
) -> Submission<'a> {
    Submission {
        form,
        reference: new_reference(),
        screenshots,
        inventory,
    }
}

pub fn posts(sandbox: &Sandbox, path: &str) -> Vec<RecordedRequest> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .collect()
}

/// The test Postgres that `tests/run-all.sh` starts (`src-tauri/scripts/test-postgres.sh`).
pub const POSTGRES_ENV: &str = "HELPDESK_TEST_POSTGRES_URL";

/// A new, empty database on the test Postgres; its connection string.
pub fn postgres_database() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_ENV} is not set: start a throwaway Postgres with \
             `eval \"$(bash src-tauri/scripts/test-postgres.sh start)\"` (tests/run-all.sh does)"
        )
    });
    let name = format!(
        "hb_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    // The blocking client must not run on the async runtime's threads.
    let (url, create) = (server.clone(), format!("CREATE DATABASE {name}"));
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("the test Postgres at {url} cannot be reached: {e}"));
        client.batch_execute(&create).unwrap();
    })
    .join()
    .unwrap();
    format!("{server} dbname={name}")
}
