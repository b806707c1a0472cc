//! Submission: from the form to the ticket number, against an in-process Atera sandbox on
//! 127.0.0.1 (contact lookup, then the ticket). `via_outbox` is the app's own path while the user
//! waits: the submission saved durably in the outbox (SQLite, synced) before it is sent.

use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::inventory::collect;
use helpdesk_core::outbox::{self, Delivery, Outbox, Submitted, INTERACTIVE_POLICY};
use helpdesk_core::sandbox::{Sandbox, SandboxConfig};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::{AuthMode, Settings};
use helpdesk_core::submit::{new_reference, submit_ticket, Submission};

use crate::ticket::{two_screenshots, typical_form};

const KEY: &str = "bench-sandbox-key-0123456789";
const EMAIL: &str = "grace@contoso.example";

pub fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let config = SandboxConfig {
        api_keys: vec![KEY.into()],
        ..SandboxConfig::default()
    };
    let sandbox = runtime
        .block_on(Sandbox::start(config, ([127, 0, 0, 1], 0).into()))
        .expect("the sandbox starts");
    let customer = sandbox.add_customer("Contoso");
    sandbox.add_contact(customer, "Grace", "Hopper", EMAIL);
    let mut settings = Settings::default();
    settings
        .set("atera.endpoint", &sandbox.endpoint())
        .expect("a loopback endpoint is valid");
    let client = AteraClient::new(
        settings.endpoint().expect("endpoint").base_url(),
        &ApiKey::new(KEY).expect("key"),
        AuthMode::Auto,
        Timeouts::default(),
    )
    .expect("a client");
    let inventory = collect("0.1.0", Duration::ZERO);
    let shots = two_screenshots();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).expect("the outbox opens");

    let submission = |with_screenshots: bool| {
        let mut form = typical_form(EMAIL);
        if !with_screenshots {
            form.included_screenshots.clear();
        }
        Submission {
            form,
            reference: new_reference(),
            screenshots: if with_screenshots { &shots } else { &[] },
            inventory: Some(&inventory),
        }
    };
    let submit = |with_screenshots: bool| {
        let outcome = runtime
            .block_on(submit_ticket(
                &client,
                &settings,
                submission(with_screenshots),
                "0.1.0",
            ))
            .expect("the sandbox files the ticket");
        assert!(!outcome.ticket_number.is_empty());
        outcome
    };
    let via_outbox = || {
        let delivery = Delivery {
            destination: helpdesk_core::outbox::Destination::Atera(&client),
            settings: &settings,
            rules: None,
            app_version: "0.1.0",
            policy: INTERACTIVE_POLICY,
            customer: None,
        };
        let sent = runtime.block_on(outbox::submit(
            &outbox,
            &settings,
            submission(true),
            Ok(&delivery),
        ));
        assert!(
            matches!(sent, Ok(Submitted::Sent(_))),
            "the sandbox files the ticket: {sent:?}"
        );
    };
    submit(true);
    via_outbox();

    let mut group = c.benchmark_group("submit");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("ticket_number/no_screenshots", |b| b.iter(|| submit(false)));
    group.bench_function("ticket_number/2x1920x1080", |b| b.iter(|| submit(true)));
    group.bench_function("via_outbox/2x1920x1080", |b| b.iter(via_outbox));
    group.finish();
    drop(sandbox);
}
