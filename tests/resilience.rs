//! One submission against a sandbox made to fail: retries only where they can help, never a
//! second ticket. Every test asserts the exact set of tickets the sandbox holds afterwards.

use std::time::{Duration, Instant};

use helpdesk_core::atera::{AteraClient, AteraError, Timeouts};
use helpdesk_core::form::TicketForm;
use helpdesk_core::sandbox::{Fault, Sandbox};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::AuthMode;
use helpdesk_core::submit::{
    new_reference, submit_ticket_with, RetryPolicy, Submission, SubmitError, SubmitOutcome,
};

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

async fn submit(
    sandbox: &Sandbox,
    client: &AteraClient,
    reference: &str,
    resumed: bool,
) -> Result<SubmitOutcome, SubmitError> {
    let submission = Submission {
        form: form(),
        reference: reference.into(),
        resumed,
        screenshots: &[],
        inventory: None,
        rules: None,
    };
    submit_ticket_with(
        client,
        &util::settings_for(sandbox),
        submission,
        "0.1.0",
        &FAST,
    )
    .await
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
        false,
    )
    .await
    .unwrap();
    assert_one_ticket_with(&sandbox, &outcome);
    assert!(!outcome.adopted);
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 2);
    assert!(
        count(&sandbox, "GET", "/api/v3/tickets") >= 1,
        "looked for the ticket before sending again"
    );
}

#[tokio::test]
async fn a_server_error_then_success_files_one_ticket() {
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
        false,
    )
    .await
    .unwrap();
    assert_one_ticket_with(&sandbox, &outcome);
    assert_eq!(count(&sandbox, "POST", "/api/v3/tickets"), 2);
    assert_eq!(
        count(&sandbox, "GET", "/api/v3/tickets"),
        0,
        "a 500 is not ambiguous: no lookup needed"
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
        false,
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
        false,
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
        false,
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
        false,
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
async fn a_resumed_submission_finds_its_ticket_instead_of_filing_it_again() {
    let sandbox = util::sandbox().await;
    let client = client(&sandbox, Duration::from_secs(5));
    let reference = new_reference();
    let first = submit(&sandbox, &client, &reference, false).await.unwrap();
    let again = submit(&sandbox, &client, &reference, true).await.unwrap();
    assert!(again.adopted);
    assert_eq!(again.ticket_id, first.ticket_id);
    assert_one_ticket_with(&sandbox, &first);
    // A different submission is not confused with it.
    let other = submit(&sandbox, &client, &new_reference(), true)
        .await
        .unwrap();
    assert!(!other.adopted);
    assert_eq!(sandbox.tickets().len(), 2);
}
