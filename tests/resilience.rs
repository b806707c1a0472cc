//! One submission against a sandbox made to fail: retries only where they can help, never a
//! second ticket. Every test asserts the exact set of tickets the sandbox holds afterwards.

use std::time::{Duration, Instant};

use helpdesk_core::atera::{AteraClient, AteraError, Timeouts};
use helpdesk_core::form::TicketForm;
use helpdesk_core::sandbox::{Fault, Sandbox};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::AuthMode;
use std::sync::Arc;

use helpdesk_core::outbox::{
    self, Delivery, DeliveryResult, DeliveryTiming, ManualClock, Outbox, Submitted,
};
use helpdesk_core::submit::{new_reference, RetryPolicy, Submission, SubmitError, SubmitOutcome};

use crate::util;

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(50),
    max_total: Duration::from_secs(20),
};

fn client(sandbox: &Sandbox, request_timeout: Duration) -> AteraClient {
    let base = util::settings_for(sandbox).endpoint().unwrap().base_url();
    AteraClient::new(
        base,
        &ApiKey::new(util::KEY).unwrap(),
        AuthMode::Auto,
        Timeouts {
            connect: Duration::from_secs(2),
            request: request_timeout,
        },
    )
    .unwrap()
}

fn form() -> TicketForm {
    TicketForm {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        description: "Analytical engine jammed".into(),
        ..Default::default()
    }
}

/// Submits as the form does (saved, then one interactive attempt) on an outbox with a manual
/// clock. A lost answer is then settled as the worker would: the clock moves past the list lag
/// and the outbox delivers what is due, until the entry is filed.
async fn submit(
    sandbox: &Sandbox,
    client: &AteraClient,
    reference: &str,
) -> Result<SubmitOutcome, SubmitError> {
    let outbox = Outbox::open_with(
        &outbox::outbox_file(&tempfile::tempdir().unwrap().keep()),
        CLOCK.with(Arc::clone),
        DeliveryTiming::default(),
    )
    .unwrap();
    submit_on(&outbox, sandbox, client, reference).await
}

thread_local! {
    static CLOCK: Arc<ManualClock> = Arc::new(ManualClock::at(helpdesk_core::outbox::Clock::now(&helpdesk_core::outbox::SystemClock)));
}

async fn submit_on(
    outbox: &Outbox,
    sandbox: &Sandbox,
    client: &AteraClient,
    reference: &str,
) -> Result<SubmitOutcome, SubmitError> {
    let settings = util::settings_for(sandbox);
    let delivery = Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(client),
        settings: &settings,
        rules: None,
        app_version: "0.1.0",
        policy: FAST,
        customer: None,
    };
    let submission = Submission {
        form: form(),
        reference: reference.into(),
        screenshots: &[],
        inventory: None,
    };
    match outbox::submit(outbox, &settings, submission, Ok(&delivery)).await? {
        Submitted::Sent(outcome) => Ok(outcome),
        Submitted::Queued {
            confirming: false,
            error,
            ..
        } => Err(error),
        Submitted::Queued { .. } => {
            for _ in 0..10 {
                CLOCK.with(|c| c.advance(60));
                for r in outbox.deliver_due(&delivery, false).await.unwrap() {
                    if let DeliveryResult::Sent { outcome, .. } = r {
                        return Ok(outcome);
                    }
                }
            }
            panic!("not settled after 10 minutes");
        }
    }
}

fn count(sandbox: &Sandbox, method: &str, path: &str) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

fn assert_one_ticket_with(sandbox: &Sandbox, outcome: &SubmitOutcome) {
    let tickets = sandbox.tickets();
    assert_eq!(tickets.len(), 1, "exactly one ticket");
    assert_eq!(tickets[0].ticket_id, outcome.ticket_id);
    assert!(tickets[0].description.contains(&outcome.reference));
}

#[tokio::test]
async fn a_dropped_connection_is_checked_then_sent_again_once() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::DropConnection {
        method: "POST",
        path_prefix: "/tickets",
    });
    let outcome = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(5)),
        &new_reference(),
    )
    .await
    .unwrap();
    assert_one_ticket_with(&sandbox, &outcome);
    assert!(!outcome.adopted);
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 2);
    assert_eq!(
        count(&sandbox, "GET", "/api/v3/tickets/lastmodified"),
        2,
        "two lookups after the list lag found nothing before it was sent again"
    );
}

#[tokio::test]
async fn a_500_to_the_post_is_confirmed_then_sent_again_once() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 500,
        retry_after: None,
    });
    let outcome = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(5)),
        &new_reference(),
    )
    .await
    .unwrap();
    assert_one_ticket_with(&sandbox, &outcome);
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 2);
    assert!(
        count(&sandbox, "GET", "/api/v3/tickets/lastmodified") >= 2,
        "a 500 may come after the insert: two lookups found nothing before the resend"
    );
}

#[tokio::test]
async fn a_ticket_created_before_a_timeout_is_adopted_not_sent_twice() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::DoThenHang {
        method: "POST",
        path_prefix: "/tickets",
        hang: Duration::from_secs(4),
    });
    let outcome = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(1)),
        &new_reference(),
    )
    .await
    .unwrap();
    assert_one_ticket_with(&sandbox, &outcome);
    assert!(
        outcome.adopted,
        "the ticket created by the timed-out request is the one reported"
    );
    assert_eq!(
        count(&sandbox, "POST", "/api/v3/tickets"),
        1,
        "never re-sent"
    );
}

#[tokio::test]
async fn rate_limiting_is_honoured_with_retry_after() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 429,
        retry_after: Some(1),
    });
    let started = Instant::now();
    let outcome = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(5)),
        &new_reference(),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as long as Atera asked"
    );
    assert_one_ticket_with(&sandbox, &outcome);
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 2);
}

#[tokio::test]
async fn a_validation_error_is_not_retried() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 400,
        retry_after: None,
    });
    let err = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(5)),
        &new_reference(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, SubmitError::Atera(AteraError::Validation { .. })),
        "{err:?}"
    );
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 1);
    assert!(sandbox.tickets().is_empty());
}

#[tokio::test]
async fn retries_stop_at_the_policys_limit() {
    let sandbox = util::sandbox().await;
    for _ in 0..6 {
        sandbox.inject_fault(Fault::Status {
            method: "POST",
            path_prefix: "/tickets",
            status: 503,
            retry_after: None,
        });
    }
    let err = submit(
        &sandbox,
        &client(&sandbox, Duration::from_secs(5)),
        &new_reference(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            SubmitError::Atera(AteraError::Server { status: 503, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        count(&sandbox, "POST", "/api/v3/tickets"),
        FAST.max_attempts as usize
    );
    assert!(sandbox.tickets().is_empty());
}

#[tokio::test]
async fn the_same_submission_sent_twice_is_one_ticket() {
    let sandbox = util::sandbox().await;
    let client = client(&sandbox, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open_with(
        &outbox::outbox_file(dir.path()),
        CLOCK.with(Arc::clone),
        DeliveryTiming::default(),
    )
    .unwrap();
    let reference = new_reference();
    let first = submit_on(&outbox, &sandbox, &client, &reference)
        .await
        .unwrap();
    let again = submit_on(&outbox, &sandbox, &client, &reference)
        .await
        .unwrap();
    assert!(again.adopted);
    assert_eq!(again.ticket_id, first.ticket_id);
    assert_one_ticket_with(&sandbox, &first);
    // A different submission is not confused with it.
    let other = submit_on(&outbox, &sandbox, &client, &new_reference())
        .await
        .unwrap();
    assert!(!other.adopted);
    assert_eq!(sandbox.tickets().len(), 2);
}
