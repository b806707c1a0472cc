//! "My tickets": polling Atera politely for status changes and technician replies, the thread
//! without internal notes, and replies posted as the requester.

use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, Outbox, Submitted};
use helpdesk_core::sandbox::{Fault, Sandbox};
use helpdesk_core::submit::{new_reference, RetryPolicy, Submission};
use helpdesk_core::tracking::{ChangeKind, POLL_BUDGET};

use crate::util;

async fn filed(sandbox: &Sandbox, outbox: &Outbox, subject: &str) -> i64 {
    let client = util::client_for(sandbox, util::KEY);
    let form = TicketForm {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        description: subject.into(),
        ..Default::default()
    };
    let submission = Submission {
        form,
        reference: new_reference(),
        screenshots: &[],
        inventory: None,
    };
    let settings = util::settings_for(sandbox);
    let delivery = outbox::Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(&client),
        settings: &settings,
        rules: None,
        app_version: "0.1.0",
        policy: RetryPolicy::default(),
        customer: None,
    };
    match outbox::submit(outbox, &settings, submission, Ok(&delivery))
        .await
        .unwrap()
    {
        Submitted::Sent(o) => o.ticket_id,
        other => panic!("{other:?}"),
    }
}

fn gets_since(sandbox: &Sandbox, before: usize) -> usize {
    sandbox.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET")
        .count()
}

#[tokio::test]
async fn a_poll_reports_status_changes_and_replies_once_within_its_budget() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let a = filed(&sandbox, &outbox, "Printer jammed").await;
    let b = filed(&sandbox, &outbox, "VPN drops").await;
    assert!(
        outbox.poll_tickets(&client).await.unwrap().is_empty(),
        "the first poll only learns the state"
    );

    sandbox.set_ticket_status(a, "Pending");
    sandbox.add_technician_comment(b, "Sam Tech", "Please restart the router.", false);
    sandbox.add_technician_comment(b, "Sam Tech", "internal: user is VIP", true);
    let before = sandbox.requests().len();
    let changes = outbox.poll_tickets(&client).await.unwrap();
    let requests = gets_since(&sandbox, before);
    assert!(requests <= POLL_BUDGET && requests == 2, "one lastmodified call covers every ticket, plus the thread of the one with a reply; made {requests}");
    assert!(
        changes.iter().any(|c| c.ticket_id == a
            && c.kind
                == ChangeKind::Status {
                    from: "Open".into(),
                    to: "Pending".into()
                }),
        "{changes:?}"
    );
    assert!(changes.iter().any(|c| c.ticket_id == b && matches!(&c.kind, ChangeKind::Reply { text, .. } if text.contains("restart the router"))), "{changes:?}");
    assert!(
        !changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::Reply { text, .. } if text.contains("VIP"))),
        "internal notes never reach the user"
    );
    assert!(
        outbox.poll_tickets(&client).await.unwrap().is_empty(),
        "a change is reported once"
    );

    let mine = outbox.my_tickets().unwrap();
    let b_row = mine.iter().find(|t| t.ticket_id == Some(b)).unwrap();
    assert!(
        b_row.unread
            && b_row
                .last_reply
                .as_ref()
                .unwrap()
                .text
                .contains("restart the router")
    );
    let thread = outbox.thread(&client, b).await.unwrap();
    assert!(thread
        .iter()
        .any(|c| c.is_technician && c.text.contains("restart the router")));
    assert!(!thread.iter().any(|c| c.text.contains("VIP")));
    assert!(
        !outbox
            .my_tickets()
            .unwrap()
            .iter()
            .find(|t| t.ticket_id == Some(b))
            .unwrap()
            .unread,
        "opening the thread marks it read"
    );
}

#[tokio::test]
async fn closed_tickets_are_not_polled_and_a_rate_limit_pauses_polling() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let a = filed(&sandbox, &outbox, "Old problem").await;
    outbox.poll_tickets(&client).await.unwrap();
    sandbox.set_ticket_status(a, "Closed");
    let changes = outbox.poll_tickets(&client).await.unwrap();
    assert_eq!(changes.len(), 1);
    let before = sandbox.requests().len();
    outbox.poll_tickets(&client).await.unwrap();
    assert_eq!(
        sandbox.requests().len(),
        before,
        "nothing left to poll: no request"
    );

    let b = filed(&sandbox, &outbox, "New problem").await;
    let _ = b;
    sandbox.inject_fault(Fault::Status {
        method: "GET",
        path_prefix: "/tickets/lastmodified",
        status: 429,
        retry_after: Some(600),
    });
    assert!(outbox.poll_tickets(&client).await.is_err());
    let before = sandbox.requests().len();
    assert!(outbox.poll_tickets(&client).await.unwrap().is_empty());
    assert_eq!(
        sandbox.requests().len(),
        before,
        "no polling while Atera asked us to wait"
    );
}

#[tokio::test]
async fn a_reply_is_posted_as_the_requester_and_other_tickets_are_refused() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let a = filed(&sandbox, &outbox, "Screen flickers").await;
    outbox
        .reply(&client, a, "  It also happens on the second monitor.  ")
        .await
        .unwrap();
    let t = sandbox
        .tickets()
        .into_iter()
        .find(|t| t.ticket_id == a)
        .unwrap();
    let comment = t.comments.last().unwrap();
    assert_eq!(comment.text, "It also happens on the second monitor.");
    assert_eq!(comment.enduser_id, Some(t.end_user_id));
    let posted = util::posts(&sandbox, &format!("/api/v3/tickets/{a}/comments"));
    let body: serde_json::Value = serde_json::from_str(&posted[0].body).unwrap();
    helpdesk_core::sandbox::validate_request_body("AddCommentToTicketModel", &body).unwrap();
    assert!(outbox.reply(&client, a, "   ").await.is_err());
    assert!(
        outbox.reply(&client, 999_999, "hello").await.is_err(),
        "not a ticket of this PC"
    );
}

/// A busy account: the change to this PC's ticket is on page 13 of `lastmodified`. The list is
/// read to its last page across cycles, the cursor does not move past the unread pages, every
/// request counts, and the hour's budget holds however often a poll is asked for.
#[tokio::test]
async fn a_busy_account_is_read_to_its_last_page_across_cycles_within_the_hourly_budget() {
    use helpdesk_core::tracking::HOURLY_POLL_BUDGET;
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let start = sandbox.requests().len();
    let mine = filed(&sandbox, &outbox, "Printer jammed").await;
    assert!(outbox.poll_tickets(&client).await.unwrap().is_empty());

    sandbox.set_ticket_status(mine, "Pending");
    // 600 newer tickets of another customer push it to the last of 13 pages (newest first).
    let customer = sandbox.add_customer("Fabrikam");
    let other = sandbox.add_contact(customer, "Sam", "Other", "sam@fabrikam.example");
    for n in 0..600 {
        sandbox.add_ticket(other, &format!("Request {n}"), "<p>by e-mail</p>");
    }
    let before = sandbox.requests().len();
    let first = outbox.poll_tickets(&client).await.unwrap();
    let spent = gets_since(&sandbox, before);
    assert!(
        (1..=POLL_BUDGET).contains(&spent),
        "a cycle stays within its budget: {spent}"
    );
    assert!(first.is_empty(), "page 13 is not read yet: {first:?}");
    let before = sandbox.requests().len();
    let second = outbox.poll_tickets(&client).await.unwrap();
    assert!(gets_since(&sandbox, before) <= POLL_BUDGET);
    assert!(
        second.iter().any(|c| c.ticket_id == mine
            && c.kind
                == ChangeKind::Status {
                    from: "Open".into(),
                    to: "Pending".into()
                }),
        "the next cycle goes on where the last stopped and finds the change: {second:?}"
    );
    // Refresh pressed again and again: the hour's budget holds.
    for _ in 0..12 {
        sandbox.add_ticket(other, "One more", "<p>by e-mail</p>");
        let _ = outbox.poll_tickets(&client).await;
    }
    let polled = sandbox.requests()[start..]
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v3/tickets/lastmodified")
        .count();
    assert!(
        polled <= HOURLY_POLL_BUDGET,
        "{polled} polling requests in an hour"
    );
}

/// More new replies than one cycle's budget can read: the ones not read this cycle are read in
/// the next, never skipped because the list moved on.
#[tokio::test]
async fn replies_beyond_one_cycles_budget_arrive_in_the_next_cycle() {
    let sandbox = util::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let mut mine = Vec::new();
    for n in 0..12 {
        mine.push(filed(&sandbox, &outbox, &format!("Problem {n}")).await);
    }
    for id in &mine {
        sandbox.add_technician_comment(*id, "Sam Tech", &format!("Reply to {id}"), false);
    }
    // All of it an hour ago: a cursor that moved past the first cycle would never list it again.
    sandbox.backdate(3600);
    let mut replied = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let before = sandbox.requests().len();
        for change in outbox.poll_tickets(&client).await.unwrap() {
            if matches!(change.kind, ChangeKind::Reply { .. }) {
                assert!(
                    replied.insert(change.ticket_id),
                    "reply to #{} reported twice",
                    change.ticket_id
                );
            }
        }
        assert!(gets_since(&sandbox, before) <= POLL_BUDGET);
    }
    assert_eq!(
        replied.len(),
        mine.len(),
        "every reply arrived: {replied:?}"
    );
}
