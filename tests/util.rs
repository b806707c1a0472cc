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
