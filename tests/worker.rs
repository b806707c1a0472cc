//! The delivery worker's schedule, driven by a manual clock and a scripted network probe: 429
//! and 5xx follow their waits whatever the probe says; only connection failures wait for the
//! probe; the probe never revives failed entries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::worker::{Probe, ProbeFuture, Worker, PROBE_EVERY};
use helpdesk_core::outbox::{
    self, Clock, Delivery, DeliveryResult, DeliveryTiming, EntryState, ManualClock, Outbox,
    SystemClock,
};
use helpdesk_core::sandbox::Fault;
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::{AuthMode, Settings};
use helpdesk_core::submit::{new_reference, RetryPolicy, SavedSubmission, Submission};

use crate::util;

/// One try per request: the schedule under test is the outbox's, not the in-attempt retries.
const ONCE: RetryPolicy = RetryPolicy {
    max_attempts: 1,
    base_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(5),
    max_total: Duration::from_secs(5),
};

/// A probe that answers what the test says, and counts how often it was asked.
#[derive(Default)]
struct Scripted {
    online: AtomicBool,
}

impl Probe for Scripted {
    fn reachable(&self) -> ProbeFuture<'_> {
        let online = self.online.load(Ordering::SeqCst);
        Box::pin(async move { online })
    }
}

fn save(outbox: &Outbox, settings: &Settings, i: usize) -> String {
    let saved = SavedSubmission::new(
        settings,
        Submission {
            form: TicketForm {
                name: format!("User {i}"),
                email: format!("user{i}@example.com"),
                description: format!("Worker problem {i}"),
                ..Default::default()
            },
            reference: new_reference(),
            screenshots: &[],
            inventory: None,
        },
    )
    .unwrap();
    outbox.enqueue(&saved).unwrap();
    saved.reference
}

/// An outbox in `dir` on a manual clock set to now.
fn outbox_with_clock(dir: &std::path::Path) -> (Arc<ManualClock>, Outbox) {
    let clock = Arc::new(ManualClock::at(SystemClock.now()));
    let outbox = Outbox::open_with(
        &outbox::outbox_file(dir),
        clock.clone(),
        DeliveryTiming::default(),
    )
    .unwrap();
    (clock, outbox)
}

fn posts(sandbox: &helpdesk_core::sandbox::Sandbox) -> usize {
    util::posts(sandbox, "/api/v3/tickets").len()
}

#[tokio::test]
async fn a_429_holds_every_entry_until_its_retry_after_whatever_the_probe_says() {
    let sandbox = util::sandbox().await;
    let settings = util::settings_for(&sandbox);
    let client = util::client_for(&sandbox, util::KEY);
    let dir = tempfile::tempdir().unwrap();
    let (clock, outbox) = outbox_with_clock(dir.path());
    save(&outbox, &settings, 1);
    save(&outbox, &settings, 2);
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 429,
        retry_after: Some(120),
    });
    let d = Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(&client),
        settings: &settings,
        rules: None,
        app_version: "0.1.0",
        policy: ONCE,
        customer: None,
    };
    let probe = Scripted::default();
    probe.online.store(true, Ordering::SeqCst);
    let worker = Worker::new(&outbox);
    let first = worker.cycle(Some(&d), &probe).await;
    assert_eq!(
        first.results.len(),
        1,
        "stopped at the 429: {:?}",
        first.results
    );
    assert!(matches!(first.results[0], DeliveryResult::Retrying { .. }));
    assert!(
        first.wait >= Duration::from_secs(119),
        "waits for Retry-After: {:?}",
        first.wait
    );
    assert_eq!(posts(&sandbox), 1);
    // Half a minute later, with the network "back": still nothing is sent.
    clock.advance(30);
    let second = worker.cycle(Some(&d), &probe).await;
    assert!(second.results.is_empty(), "{:?}", second.results);
    assert_eq!(posts(&sandbox), 1, "the probe does not bypass a 429");
    assert!(second.wait >= Duration::from_secs(89));
    // Once the wait is over, both go out.
    clock.advance(91);
    let third = worker.cycle(Some(&d), &probe).await;
    assert_eq!(
        third
            .results
            .iter()
            .filter(|r| matches!(r, DeliveryResult::Sent { .. }))
            .count(),
        2
    );
    assert_eq!(sandbox.tickets().len(), 2);
}

#[tokio::test]
async fn only_connection_failures_wait_for_the_probe_and_it_never_revives_failed_entries() {
    let sandbox = util::sandbox().await;
    let settings = util::settings_for(&sandbox);
    let live = util::client_for(&sandbox, util::KEY);
    // A port nobody listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dead = AteraClient::new(
        format!("http://127.0.0.1:{port}/api/v3/").parse().unwrap(),
        &ApiKey::new(util::KEY).unwrap(),
        AuthMode::Auto,
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_clock, outbox) = outbox_with_clock(dir.path());
    let delivery = |client| Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(client),
        settings: &settings,
        rules: None,
        app_version: "0.1.0",
        policy: ONCE,
        customer: None,
    };
    // An entry Atera refuses for good.
    let refused = save(&outbox, &settings, 1);
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 400,
        retry_after: None,
    });
    let probe = Scripted::default();
    let worker = Worker::new(&outbox);
    let cycle = worker.cycle(Some(&delivery(&live)), &probe).await;
    assert!(matches!(cycle.results[0], DeliveryResult::Failed { .. }));
    assert_eq!(cycle.probed, None, "nothing waits for the network");
    // An entry that cannot connect: it waits for the probe, at most PROBE_EVERY apart.
    let offline = save(&outbox, &settings, 2);
    let cycle = worker.cycle(Some(&delivery(&dead)), &probe).await;
    assert!(
        matches!(cycle.results[0], DeliveryResult::Retrying { .. }),
        "{:?}",
        cycle.results
    );
    assert!(cycle.wait <= PROBE_EVERY);
    let cycle = worker.cycle(Some(&delivery(&dead)), &probe).await;
    assert_eq!(cycle.probed, Some(false));
    assert!(
        cycle.results.is_empty(),
        "its backoff still runs: {:?}",
        cycle.results
    );
    // The network is back: the waiting entry goes at once; the refused one stays failed.
    probe.online.store(true, Ordering::SeqCst);
    let cycle = worker.cycle(Some(&delivery(&live)), &probe).await;
    assert_eq!(cycle.probed, Some(true));
    assert_eq!(cycle.results.len(), 1, "{:?}", cycle.results);
    assert_eq!(cycle.results[0].reference(), offline);
    assert!(matches!(cycle.results[0], DeliveryResult::Sent { .. }));
    let states: Vec<(String, EntryState)> = outbox
        .list()
        .unwrap()
        .into_iter()
        .map(|e| (e.reference, e.state))
        .collect();
    assert!(
        states.contains(&(refused, EntryState::Failed)),
        "{states:?}"
    );
    assert_eq!(posts(&sandbox), 2, "the refused entry was not sent again");
}
