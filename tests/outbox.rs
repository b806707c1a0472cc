//! The outbox against a sandbox with heavy injected faults: every saved submission ends up as
//! exactly one ticket, and nothing is lost or sent twice.

use std::collections::BTreeSet;
use std::time::Duration;

use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::form::TicketForm;
use std::sync::Arc;

use helpdesk_core::outbox::{
    self, Delivery, DeliveryResult, DeliveryTiming, EntryState, ManualClock, Outbox, Submitted,
};
use helpdesk_core::sandbox::{Fault, Sandbox};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::AuthMode;
use helpdesk_core::submit::{new_reference, RetryPolicy, SavedSubmission, Submission, SubmitError};

use crate::util;

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    base_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(20),
    max_total: Duration::from_secs(10),
};

fn client(sandbox: &Sandbox) -> AteraClient {
    let base = util::settings_for(sandbox).endpoint().unwrap().base_url();
    AteraClient::new(
        base,
        &ApiKey::new(util::KEY).unwrap(),
        AuthMode::Auto,
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_millis(800),
        },
    )
    .unwrap()
}

fn form(i: usize) -> TicketForm {
    TicketForm {
        name: format!("User {i}"),
        email: format!("user{i}@example.com"),
        description: format!("Problem number {i}"),
        ..Default::default()
    }
}

fn delivery<'a>(
    client: &'a AteraClient,
    settings: &'a helpdesk_core::settings::Settings,
) -> Delivery<'a> {
    Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(client),
        settings,
        rules: None,
        app_version: "0.1.0",
        policy: FAST,
        customer: None,
    }
}

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> Outbox {
    Outbox::open_with(
        &outbox::outbox_file(dir),
        clock.clone(),
        DeliveryTiming::default(),
    )
    .unwrap()
}

/// The references found in the sandbox's tickets, each with how often it occurs.
fn references_in(sandbox: &Sandbox) -> Vec<String> {
    sandbox
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

#[tokio::test]
async fn a_submission_is_saved_before_any_network_call_and_sent_later_once() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(helpdesk_core::outbox::Clock::now(
        &helpdesk_core::outbox::SystemClock,
    )));
    let outbox = open(dir.path(), &clock);
    let settings = util::settings_for(&sandbox);
    // Atera answers nothing useful: every request fails.
    for _ in 0..10 {
        sandbox.inject_fault(Fault::Status {
            method: "*",
            path_prefix: "/",
            status: 503,
            retry_after: None,
        });
    }
    let c = client(&sandbox);
    let submission = Submission {
        form: form(1),
        reference: new_reference(),
        screenshots: &[],
        inventory: None,
    };
    let d = delivery(&c, &settings);
    let result = outbox::submit(&outbox, &settings, submission, Ok(&d))
        .await
        .unwrap();
    let Submitted::Queued {
        reference,
        waits_for_admin: false,
        ..
    } = result
    else {
        panic!("{result:?}")
    };
    assert!(sandbox.tickets().is_empty());
    let entries = outbox.list().unwrap();
    assert_eq!((entries.len(), entries[0].state), (1, EntryState::Pending));
    // Reopened (as after a restart) it is still there, and a flush delivers it once.
    drop(outbox);
    let outbox = open(dir.path(), &clock);
    let mut sent = None;
    for _ in 0..10 {
        for r in outbox.deliver_due(&d, true).await.unwrap() {
            if let DeliveryResult::Sent { outcome, .. } = r {
                sent = Some(outcome);
            }
        }
        if sent.is_some() {
            break;
        }
    }
    let outcome = sent.expect("delivered once the faults are used up");
    assert_eq!(outcome.reference, reference);
    assert_eq!(references_in(&sandbox), vec![reference.clone()]);
    let entry = &outbox.list().unwrap()[0];
    assert_eq!(
        (entry.state, entry.ticket_id),
        (EntryState::Sent, Some(outcome.ticket_id))
    );
    assert!(
        outbox.deliver_due(&d, true).await.unwrap().is_empty(),
        "a sent entry is never sent again"
    );
}

#[tokio::test]
async fn many_submissions_through_heavy_faults_arrive_exactly_once() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(helpdesk_core::outbox::Clock::now(
        &helpdesk_core::outbox::SystemClock,
    )));
    let outbox = open(dir.path(), &clock);
    let settings = util::settings_for(&sandbox);
    let c = client(&sandbox);
    let d = delivery(&c, &settings);
    let mut expected = BTreeSet::new();
    for i in 0..16 {
        let submission = Submission {
            form: form(i),
            reference: new_reference(),
            screenshots: &[],
            inventory: None,
        };
        let saved = SavedSubmission::new(&settings, submission).unwrap();
        outbox.enqueue(&saved).unwrap();
        expected.insert(saved.reference);
    }
    // A rough day at Atera: server errors, rate limits, dropped connections, and tickets created
    // whose answer never arrives (the client gives up after 0.8 s).
    for i in 0..24 {
        let fault = match i % 4 {
            0 => Fault::Status {
                method: "POST",
                path_prefix: "/tickets",
                status: 500,
                retry_after: None,
            },
            1 => Fault::DropConnection {
                method: "POST",
                path_prefix: "/tickets",
            },
            2 => Fault::DoThenHang {
                method: "POST",
                path_prefix: "/tickets",
                hang: Duration::from_secs(2),
            },
            _ => Fault::Status {
                method: "*",
                path_prefix: "/",
                status: 429,
                retry_after: Some(0),
            },
        };
        sandbox.inject_fault(fault);
    }
    for _ in 0..100 {
        if outbox
            .list()
            .unwrap()
            .iter()
            .all(|e| e.state == EntryState::Sent)
        {
            break;
        }
        // Time passes between flushes: list lags, backoffs and 429 pauses run out.
        clock.advance(120);
        for r in outbox.deliver_due(&d, true).await.unwrap() {
            if let DeliveryResult::Failed { error, .. } = &r {
                assert!(!matches!(error, SubmitError::Invalid(_)), "{error}");
            }
        }
    }
    let found = references_in(&sandbox);
    assert_eq!(found.len(), expected.len(), "no duplicates: {found:?}");
    assert_eq!(
        found.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "the ticket set equals the submission set"
    );
    assert!(outbox
        .list()
        .unwrap()
        .iter()
        .all(|e| e.state == EntryState::Sent && e.ticket_id.is_some()));
}

/// Rules whose evaluator dies or is missing never cost the ticket: it is filed with the form's
/// values, and the technician sees why in the "Submission errors" note.
#[tokio::test]
async fn a_crashed_or_missing_rules_evaluator_files_the_ticket_with_a_note() {
    let sandbox = util::sandbox().await;
    let settings = util::settings_for(&sandbox);
    let c = client(&sandbox);
    for exe in ["/bin/false", "/nonexistent/helpdesk-button-rules"] {
        let rules = helpdesk_core::submit::RulesConfig {
            exe: exe.into(),
            script: "priority = 'Critical'\n".into(),
            limits: Default::default(),
        };
        let d = Delivery {
            rules: Some(&rules),
            ..delivery(&c, &settings)
        };
        let outbox = Outbox::in_memory().unwrap();
        let submission = Submission {
            form: form(7),
            reference: new_reference(),
            screenshots: &[],
            inventory: None,
        };
        let result = outbox::submit(&outbox, &settings, submission, Ok(&d))
            .await
            .unwrap();
        let Submitted::Sent(outcome) = result else {
            panic!("{exe}: {result:?}")
        };
        let ticket = sandbox
            .tickets()
            .into_iter()
            .find(|t| t.ticket_id == outcome.ticket_id)
            .unwrap();
        assert!(ticket.description.contains("Submission errors"), "{exe}");
        assert!(ticket.description.contains("rules"), "{exe}");
        assert_ne!(
            ticket.priority, "Critical",
            "filed without the rules' changes"
        );
    }
}

/// An ambiguous POST (the ticket was created, the answer lost) is never sent again before
/// Atera's lists have caught up, and a lookup that fails never leads to a second POST nor marks
/// the entry failed. A ticket quoting the reference is not adopted in its place.
#[tokio::test]
async fn a_lost_answer_waits_for_the_list_lag_and_a_failing_lookup_never_resends() {
    let sandbox = util::sandbox().await;
    let settings = util::settings_for(&sandbox);
    let c = client(&sandbox);
    let d = delivery(&c, &settings);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(helpdesk_core::outbox::Clock::now(
        &helpdesk_core::outbox::SystemClock,
    )));
    let outbox = open(dir.path(), &clock);
    let reference = new_reference();
    // Someone else's ticket quoting the reference, with the same title, filed first.
    c.create_ticket(&helpdesk_core::atera::models::CreateTicket {
        title: "Problem number 3".into(),
        description: format!("<p>Is this the same as Helpdesk Button ref {reference}?</p>"),
        priority: "Low".into(),
        impact: "NoImpact".into(),
        status: "Open".into(),
        ticket_type: "Incident".into(),
        end_user_first_name: Some("Other".into()),
        end_user_last_name: Some("Person".into()),
        end_user_email: Some("other@example.com".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    sandbox.inject_fault(Fault::DoThenHang {
        method: "POST",
        path_prefix: "/tickets",
        hang: Duration::from_secs(2),
    });
    let submission = Submission {
        form: form(3),
        reference: reference.clone(),
        screenshots: &[],
        inventory: None,
    };
    let result = outbox::submit(&outbox, &settings, submission, Ok(&d))
        .await
        .unwrap();
    assert!(
        matches!(
            result,
            Submitted::Queued {
                confirming: true,
                ..
            }
        ),
        "{result:?}"
    );
    assert_eq!(util::posts(&sandbox, "/api/v3/tickets").len(), 2);
    // Before the lag has passed, nothing is looked up or sent, even when forced.
    clock.advance(10);
    let before = sandbox.requests().len();
    outbox.deliver_due(&d, true).await.unwrap();
    assert_eq!(sandbox.requests().len(), before, "waits for Atera's lists");
    // The lookups fail (a server error, then a rate limit): it waits, never resends, never fails.
    for status in [500, 429] {
        sandbox.inject_fault(Fault::Status {
            method: "GET",
            path_prefix: "/tickets/lastmodified",
            status,
            retry_after: Some(5),
        });
        clock.advance(600);
        let results = outbox.deliver_due(&d, false).await.unwrap();
        assert!(
            matches!(results.as_slice(), [DeliveryResult::Confirming { .. }]),
            "{results:?}"
        );
        assert_eq!(outbox.list().unwrap()[0].state, EntryState::Sending);
    }
    clock.advance(600);
    let results = outbox.deliver_due(&d, false).await.unwrap();
    let [DeliveryResult::Sent { outcome, .. }] = results.as_slice() else {
        panic!("{results:?}")
    };
    assert!(outcome.adopted, "the created ticket is adopted");
    assert_eq!(
        util::posts(&sandbox, "/api/v3/tickets").len(),
        2,
        "the quoting ticket and ours: never a second POST of ours"
    );
    let ours = sandbox
        .tickets()
        .into_iter()
        .find(|t| t.ticket_id == outcome.ticket_id)
        .unwrap();
    assert!(ours.description.contains("Problem number 3"));
    assert!(!ours.description.contains("Is this the same"));
}
