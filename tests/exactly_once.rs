//! Exactly once against Atera at its least helpful ([`Behaviour::unfriendly`]): new tickets stay
//! out of the lists for 30 s, lists come in no useful order, thousands of other customers'
//! tickets share the account, one of them quotes a submission's reference, and every kind of
//! fault hits the posts and the lookups. The outbox and the sandbox share one manual clock, so
//! the lag is real to the outbox without the test waiting for it.
//!
//! The control test runs the same scenario with an outbox that does not wait for the lag, and
//! shows a duplicate: the sandbox's mode is what makes the main test able to fail.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use helpdesk_core::atera::{AteraClient, Timeouts};
use helpdesk_core::clock::{Clock, ManualClock, SystemClock};
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, lookup, Delivery, DeliveryResult, DeliveryTiming, Outbox};
use helpdesk_core::sandbox::{Behaviour, Fault, Sandbox, SandboxConfig};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::{AuthMode, Settings};
use helpdesk_core::submit::{new_reference, RetryPolicy, Submission};

use crate::util;

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(20),
    max_total: Duration::from_secs(10),
};

/// Tickets of other customers in the account.
const OTHER_TICKETS: usize = 2_000;

struct Account {
    sandbox: Sandbox,
    clock: Arc<ManualClock>,
    /// A contact of another customer.
    other_requester: i64,
}

async fn unfriendly_account() -> Account {
    let clock = Arc::new(ManualClock::at(SystemClock.now()));
    let config = SandboxConfig {
        api_keys: vec![util::KEY.into()],
        behaviour: Behaviour::unfriendly(Arc::clone(&clock) as Arc<dyn Clock>),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("the sandbox starts");
    let mut requesters = Vec::new();
    for n in 0..20 {
        let customer = sandbox.add_customer(&format!("Customer {n}"));
        requesters.push(sandbox.add_contact(
            customer,
            "Sam",
            &format!("Other{n}"),
            &format!("sam{n}@customer-{n}.example"),
        ));
    }
    for n in 0..OTHER_TICKETS {
        sandbox.add_ticket(
            requesters[n % requesters.len()],
            &format!("E-mail request {n}"),
            &format!("<p>Request {n}, sent by e-mail.</p>"),
        );
    }
    Account {
        sandbox,
        clock,
        other_requester: requesters[0],
    }
}

fn client(sandbox: &Sandbox) -> AteraClient {
    AteraClient::new(
        util::settings_for(sandbox).endpoint().unwrap().base_url(),
        &ApiKey::new(util::KEY).unwrap(),
        AuthMode::Auto,
        Timeouts {
            connect: Duration::from_secs(5),
            // A hanging answer turns into a lost one quickly.
            request: Duration::from_secs(2),
        },
    )
    .unwrap()
}

/// An outbox on the account's clock, in `dir`.
fn outbox_on(account: &Account, dir: &std::path::Path, timing: DeliveryTiming) -> Outbox {
    Outbox::open_with(
        &outbox::outbox_file(dir),
        Arc::clone(&account.clock) as Arc<dyn Clock>,
        timing,
    )
    .unwrap()
}

/// How the tests deliver: no rules, fast retries.
fn delivery<'a>(client: &'a AteraClient, settings: &'a Settings) -> Delivery<'a> {
    Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(client),
        settings,
        rules: None,
        app_version: "0.1.0",
        policy: FAST,
        customer: None,
    }
}

fn form(n: usize) -> TicketForm {
    TicketForm {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        description: format!("Problem number {n}: the analytical engine is jammed again"),
        ..Default::default()
    }
}

/// The fault each submission meets on its first POST (cycled).
fn post_fault(n: usize) -> Option<Fault> {
    let (method, path_prefix) = ("POST", "/api/v3/tickets");
    match n % 7 {
        0 => Some(Fault::DoThenDrop {
            method,
            path_prefix,
        }),
        1 => Some(Fault::DropConnection {
            method,
            path_prefix,
        }),
        2 => Some(Fault::DoThenHang {
            method,
            path_prefix,
            hang: Duration::from_secs(4),
        }),
        3 => Some(Fault::Status {
            method,
            path_prefix,
            status: 502,
            retry_after: None,
        }),
        4 => Some(Fault::Status {
            method,
            path_prefix,
            status: 429,
            retry_after: Some(90),
        }),
        5 => Some(Fault::Status {
            method,
            path_prefix,
            status: 503,
            retry_after: None,
        }),
        _ => None,
    }
}

/// Submits `count` tickets through the outbox, each meeting its fault, then runs the outbox as
/// the worker would (the clock moving a minute per cycle) until nothing is left. Returns each
/// reference with the ticket id the outbox reported.
async fn file_all(
    account: &Account,
    timing: DeliveryTiming,
    count: usize,
) -> BTreeMap<String, i64> {
    let sandbox = &account.sandbox;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_on(account, dir.path(), timing);
    let settings = util::settings_for(sandbox);
    let client = client(sandbox);
    let delivery = delivery(&client, &settings);
    let mut filed = BTreeMap::new();
    for n in 0..count {
        let reference = new_reference();
        if n == 1 {
            // Another customer's ticket quotes this reference in its own first line, under
            // another title (a forwarded confirmation): it must never be taken for this one.
            sandbox.add_ticket(
                account.other_requester,
                "FW: your ticket",
                &format!("<p>{} (forwarded)</p>", lookup::marker(&reference)),
            );
        }
        if let Some(fault) = post_fault(n) {
            sandbox.inject_fault(fault);
        }
        if n % 5 == 0 {
            // Its lookups meet trouble too.
            sandbox.inject_fault(Fault::Status {
                method: "GET",
                path_prefix: "/api/v3/tickets/lastmodified",
                status: 500,
                retry_after: None,
            });
        }
        let submission = Submission {
            form: form(n),
            reference: reference.clone(),
            screenshots: &[],
            inventory: None,
        };
        match outbox::submit(&outbox, &settings, submission, Ok(&delivery))
            .await
            .expect("saved")
        {
            outbox::Submitted::Sent(outcome) => {
                filed.insert(reference, outcome.ticket_id);
            }
            outbox::Submitted::Queued { .. } => {}
        }
    }
    for _ in 0..60 {
        if outbox.unsent_count().unwrap() == 0 {
            break;
        }
        account.clock.advance(60);
        for result in outbox.deliver_due(&delivery, false).await.unwrap() {
            match result {
                DeliveryResult::Sent { reference, outcome } => {
                    assert!(
                        filed.insert(reference.clone(), outcome.ticket_id).is_none(),
                        "{reference} reported sent twice"
                    );
                }
                DeliveryResult::Failed { reference, error } => {
                    panic!("{reference} failed: {error}")
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        outbox.unsent_count().unwrap(),
        0,
        "everything delivered within an hour"
    );
    filed
}

/// The tickets in the account that carry a Helpdesk Button reference in their own place, by
/// reference, with every ticket id that carries it.
fn ours(sandbox: &Sandbox) -> BTreeMap<String, Vec<i64>> {
    let mut found: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for ticket in sandbox.tickets() {
        if ticket.title.starts_with("FW:") || ticket.title.starts_with("E-mail request") {
            continue;
        }
        let reference = ticket
            .description
            .split("Helpdesk Button ref ")
            .nth(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .expect("our tickets carry their reference");
        found.entry(reference).or_default().push(ticket.ticket_id);
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_submission_is_one_ticket_on_an_unfriendly_account() {
    let account = unfriendly_account().await;
    let count = 14;
    let filed = file_all(&account, DeliveryTiming::default(), count).await;
    assert_eq!(filed.len(), count, "every submission was reported filed");
    let tickets = ours(&account.sandbox);
    let submitted: Vec<&String> = filed.keys().collect();
    let in_atera: Vec<&String> = tickets.keys().collect();
    assert_eq!(in_atera, submitted, "the ticket set is the submission set");
    for (reference, ids) in &tickets {
        assert_eq!(ids.len(), 1, "{reference} is one ticket, not {ids:?}");
        assert_eq!(
            filed[reference], ids[0],
            "{reference}: the id reported is the ticket's"
        );
    }
    // The lookups read the time window, never "the newest N".
    let lookups: Vec<_> = account
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v3/tickets"))
        .collect();
    assert!(!lookups.is_empty(), "lost answers were looked up");
    // (`GET /tickets/{id}` after a filing reads the new ticket's number; it is not a lookup.)
    let by_id = |r: &&helpdesk_core::sandbox::RecordedRequest| {
        r.path
            .strip_prefix("/api/v3/tickets/")
            .is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit()))
    };
    let unbounded: Vec<_> = lookups
        .iter()
        .filter(|r| !by_id(r))
        .filter(|r| !(r.path == "/api/v3/tickets/lastmodified" && r.query.contains("date=")))
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(
        unbounded.is_empty(),
        "every lookup reads a time window: {unbounded:?}"
    );
}

/// The control: an outbox that looks once, right away, resends a ticket the list does not show
/// yet. If this ever passes without a duplicate, the sandbox's lag no longer tests anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_waiting_for_the_list_lag_the_unfriendly_account_gets_a_duplicate() {
    let account = unfriendly_account().await;
    let hasty = DeliveryTiming {
        list_lag: Duration::ZERO,
        scan_gap: Duration::ZERO,
        clean_scans: 1,
        ..DeliveryTiming::default()
    };
    // One submission whose answer is lost after Atera filed it.
    account.sandbox.inject_fault(Fault::DoThenDrop {
        method: "POST",
        path_prefix: "/api/v3/tickets",
    });
    let sandbox = &account.sandbox;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_on(&account, dir.path(), hasty);
    let settings = util::settings_for(sandbox);
    let client = client(sandbox);
    let delivery = delivery(&client, &settings);
    let submission = Submission {
        form: form(0),
        reference: new_reference(),
        screenshots: &[],
        inventory: None,
    };
    outbox::submit(&outbox, &settings, submission, Ok(&delivery))
        .await
        .expect("saved");
    for _ in 0..3 {
        if outbox.unsent_count().unwrap() == 0 {
            break;
        }
        // A few seconds on: well inside the account's 30 s list lag.
        account.clock.advance(2);
        outbox.deliver_due(&delivery, true).await.unwrap();
    }
    let tickets = ours(sandbox);
    assert_eq!(tickets.len(), 1);
    let ids = tickets.values().next().unwrap();
    let seen: Vec<String> = sandbox
        .requests()
        .iter()
        .filter(|r| {
            !r.path.starts_with("/api/v3/contacts") && !r.path.starts_with("/api/v3/agents")
        })
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the hasty outbox filed it twice: {ids:?}; requests: {seen:?}"
    );
}
