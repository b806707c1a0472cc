//! The app against the sandbox's live-tenant mode ([`Behaviour::live_tenant`]): null fields left
//! out, timestamps in mixed shapes, `prevLink …page=0`, `EndUserID: 0` on technician comments,
//! comment creation answered 201 with no body, `409 Email already exists` for an archived
//! contact's e-mail, hundreds of other contacts, and only one of the two contact filter names
//! honoured (or none).

use helpdesk_core::check::{run_integration_test, CheckOptions, StepStatus};
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, Outbox, Submitted};
use helpdesk_core::sandbox::{Behaviour, ContactSearch, Sandbox, SandboxConfig};
use helpdesk_core::submit::{new_reference, submit_ticket, ContactMatch, RetryPolicy, Submission};
use helpdesk_core::tracking::ChangeKind;

use crate::util;

const HOST: &str = "PC-042";
const MAC: &str = "aa:bb:cc:dd:ee:ff";

/// A live tenant with this PC's customer (Contoso, with an agent for this PC), a contact in it,
/// an archived contact, and 300 contacts of other customers.
async fn tenant(search: ContactSearch) -> (Sandbox, i64) {
    let config = SandboxConfig {
        api_keys: vec![util::KEY.into()],
        behaviour: Behaviour::live_tenant(search),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let contoso = sandbox.add_customer("Contoso");
    sandbox.add_agent(
        contoso,
        HOST,
        Some("AA-BB-CC-DD-EE-FF"),
        "2026-11-01T09:00:00Z",
    );
    let bob = sandbox.add_contact(contoso, "Bob", "Builder", "bob@contoso.com");
    sandbox.add_archived_contact(contoso, "Grace", "Gone", "grace@contoso.com");
    for n in 0..300 {
        let customer = sandbox.add_customer(&format!("Other {n}"));
        sandbox.add_contact(
            customer,
            "Sam",
            &format!("Other{n}"),
            &format!("sam{n}@other{n}.example"),
        );
    }
    (sandbox, bob)
}

fn form(email: &str) -> TicketForm {
    TicketForm {
        name: "Grace Hopper".into(),
        email: email.into(),
        description: "The printer on floor 2 is jammed".into(),
        ..Default::default()
    }
}

/// Files a ticket for `email` from this PC (`HOST`), as the form does without an outbox.
async fn submit_from_this_pc(
    sandbox: &Sandbox,
    email: &str,
) -> helpdesk_core::submit::SubmitOutcome {
    let client = util::client_for(sandbox, util::KEY);
    let inv = util::inventory(HOST, MAC);
    submit_ticket(
        &client,
        &util::settings_for(sandbox),
        util::submission(form(email), &[], Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap()
}

fn contact_searches(sandbox: &Sandbox, before: usize) -> usize {
    sandbox.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v3/contacts")
        .count()
}

#[tokio::test]
async fn an_existing_contact_is_found_whichever_filter_name_the_tenant_honours() {
    for search in [ContactSearch::Email, ContactSearch::SearchOptions] {
        let (sandbox, bob) = tenant(search).await;
        let before = sandbox.requests().len();
        let outcome = submit_from_this_pc(&sandbox, "Bob@Contoso.com").await;
        assert!(
            matches!(outcome.contact, ContactMatch::Existing { end_user_id, .. } if end_user_id == bob),
            "{search:?}: {:?}",
            outcome.contact
        );
        assert_eq!(
            contact_searches(&sandbox, before),
            1,
            "{search:?}: one filtered page"
        );
    }
}

/// A server that ignores the filter lists every contact: the search reads one page, not seven,
/// and the ticket is still filed.
#[tokio::test]
async fn a_tenant_that_ignores_the_filter_is_not_paged_through() {
    let (sandbox, _) = tenant(ContactSearch::Ignored).await;
    let before = sandbox.requests().len();
    let outcome = submit_from_this_pc(&sandbox, "new.person@contoso.com").await;
    assert!(
        contact_searches(&sandbox, before) <= 1,
        "{} searches",
        contact_searches(&sandbox, before)
    );
    assert!(
        matches!(outcome.contact, ContactMatch::CreatedUnderCustomer { .. }),
        "{:?}",
        outcome.contact
    );
}

/// `409 Email already exists` for an archived contact that search does not return: the ticket is
/// filed anyway, and says how the requester was named.
#[tokio::test]
async fn an_email_taken_by_an_archived_contact_never_fails_the_ticket() {
    let (sandbox, _) = tenant(ContactSearch::Email).await;
    let outcome = submit_from_this_pc(&sandbox, "grace@contoso.com").await;
    assert!(
        matches!(
            outcome.contact,
            ContactMatch::NameAndEmail {
                email_taken: true,
                ..
            }
        ),
        "{:?}",
        outcome.contact
    );
    let conflicts = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v3/contacts" && r.status == 409)
        .count();
    assert_eq!(
        conflicts, 1,
        "one create, answered 409, and not retried blindly"
    );
    let ticket = &sandbox.tickets()[0];
    assert_eq!(ticket.ticket_id, outcome.ticket_id);
    assert!(
        ticket.description.contains("does not list (archived?)"),
        "{}",
        ticket.description
    );
}

/// My tickets on a live tenant: a technician's reply carries `EndUserID: 0` and mixed timestamp
/// shapes, and still reaches the user; a reply answered 201 with no body is a success.
#[tokio::test]
async fn replies_reach_the_user_and_a_reply_answered_without_a_body_succeeds() {
    let (sandbox, _) = tenant(ContactSearch::Email).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&outbox::outbox_file(dir.path())).unwrap();
    let client = util::client_for(&sandbox, util::KEY);
    let settings = util::settings_for(&sandbox);
    let delivery = outbox::Delivery {
        destination: helpdesk_core::outbox::Destination::Atera(&client),
        settings: &settings,
        rules: None,
        app_version: "0.1.0",
        policy: RetryPolicy::default(),
        customer: None,
    };
    let submission = Submission {
        form: form("bob@contoso.com"),
        reference: new_reference(),
        screenshots: &[],
        inventory: None,
    };
    let Submitted::Sent(outcome) = outbox::submit(&outbox, &settings, submission, Ok(&delivery))
        .await
        .unwrap()
    else {
        panic!("not filed")
    };
    assert!(outbox.poll_tickets(&client).await.unwrap().is_empty());
    sandbox.add_technician_comment(
        outcome.ticket_id,
        "Sam Tech",
        "Please restart the printer.",
        false,
    );
    let changes = outbox.poll_tickets(&client).await.unwrap();
    assert!(
        changes.iter().any(|c| matches!(&c.kind, ChangeKind::Reply { text, .. } if text.contains("restart the printer"))),
        "{changes:?}"
    );
    outbox
        .reply(&client, outcome.ticket_id, "Done, thanks")
        .await
        .expect("a 201 without a body is a success");
    let thread = outbox.thread(&client, outcome.ticket_id).await.unwrap();
    assert!(
        thread.iter().any(|m| m.text.contains("Done, thanks")),
        "{thread:?}"
    );
}

/// The Integration Test passes against a live tenant.
#[tokio::test]
async fn the_integration_test_passes_against_a_live_tenant() {
    let (sandbox, _) = tenant(ContactSearch::SearchOptions).await;
    let client = util::client_for(&sandbox, util::KEY);
    let inv = util::inventory(HOST, MAC);
    let options = CheckOptions {
        test_email: "bob@contoso.com".into(),
        send: true,
    };
    let steps = run_integration_test(
        &client,
        &util::settings_for(&sandbox),
        &inv,
        &options,
        "0.1.0",
        |_| {},
    )
    .await;
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(
        steps.iter().all(|s| s.status == StepStatus::Ok),
        "{steps:?}"
    );
}
