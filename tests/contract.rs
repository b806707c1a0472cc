//! Every request body the app can send, checked against Atera's own OpenAPI spec: property
//! names, types, enums and `additionalProperties: false`; and every response the app reads, as
//! example answers in `tests/fixtures/atera/` that follow the spec and read into our models.

use helpdesk_core::atera::models::{
    Account, ActionResult, Agent, Comment, Contact, CreateContact, CreateEndUserComment,
    CreateTicket, Customer, EndUserCommentDetails, Paged, ProblemDetails, Ticket,
};
use helpdesk_core::form::TicketForm;
use helpdesk_core::sandbox::validate_request_body;
use helpdesk_core::submit::{submit_ticket, Submission};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::util;

fn form(email: &str) -> TicketForm {
    TicketForm {
        name: "Grace Hopper".into(),
        email: email.into(),
        phone: "+1 555 0100".into(),
        description: "Compiler bug".into(),
        priority: "High".into(),
        ticket_type: "Problem".into(),
        impact: "Server Issue".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn ticket_and_contact_bodies_in_every_contact_path_follow_the_spec() {
    let sandbox = util::sandbox().await;
    let customer = sandbox.add_customer("Navy");
    sandbox.add_contact(customer, "Grace", "Hopper", "grace@navy.example");
    sandbox.add_agent(
        customer,
        "AGENT-PC",
        Some("aa:bb:cc:00:00:01"),
        "2026-11-01T10:00:00Z",
    );
    let client = util::client_for(&sandbox, util::KEY);
    let settings = util::settings_for(&sandbox);
    let agent_pc = util::inventory("AGENT-PC", "aa:bb:cc:00:00:01");
    let lone_pc = util::inventory("LONE-PC", "aa:bb:cc:00:00:02");
    for (email, inv) in [
        ("grace@navy.example", &agent_pc),
        ("new@navy.example", &agent_pc),
        ("stranger@else.example", &lone_pc),
    ] {
        let submission = Submission {
            reference: helpdesk_core::submit::new_reference(),
            form: form(email),
            screenshots: &[],
            inventory: Some(inv),
        };
        submit_ticket(&client, &settings, submission, "0.1.0")
            .await
            .unwrap();
    }
    let tickets = util::posts(&sandbox, "/api/v3/tickets");
    let contacts = util::posts(&sandbox, "/api/v3/contacts");
    assert_eq!(
        (tickets.len(), contacts.len()),
        (3, 1),
        "existing contact, created contact, name-and-email"
    );
    for request in tickets.iter() {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        validate_request_body("CreateTicketModel", &body)
            .unwrap_or_else(|e| panic!("{e:?} in {body}"));
    }
    for request in contacts.iter() {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        validate_request_body("CreateContactRequest", &body)
            .unwrap_or_else(|e| panic!("{e:?} in {body}"));
    }
    let third: serde_json::Value = serde_json::from_str(&tickets[2].body).unwrap();
    assert_eq!(third["EndUserFirstName"], "Grace");
    assert_eq!(third["EndUserLastName"], "Hopper");
    assert_eq!(third["EndUserEmail"], "stranger@else.example");
    assert!(third.get("EndUserID").is_none());
}

#[test]
fn the_validator_itself_refuses_what_atera_refuses() {
    assert!(validate_request_body(
        "CreateTicketModel",
        &serde_json::json!({"TicketTitle": "x", "Foo": 1})
    )
    .is_err());
    assert!(validate_request_body(
        "CreateTicketModel",
        &serde_json::json!({"TicketTitle": "x", "TicketImpact": "Site Down"})
    )
    .is_err());
    assert!(validate_request_body(
        "CreateTicketModel",
        &serde_json::json!({"TicketTitle": "x", "TicketImpact": "SiteDown"})
    )
    .is_ok());
}

// Responses: example answers written from Atera's spec (`tests/fixtures/atera/`), each checked
// against the spec and read into our model, so a model that cannot read what Atera documents
// fails here rather than in the field.

/// Validates a fixture against `schema` and reads it into `T`, naming the failing path either way.
fn fixture<T: DeserializeOwned>(schema: &str, text: &str) -> T {
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the {schema} fixture is not JSON: {e}"));
    validate_request_body(schema, &value)
        .unwrap_or_else(|e| panic!("the {schema} fixture breaks the spec: {e:#?}"));
    serde_path_to_error::deserialize(value).unwrap_or_else(|e| {
        panic!(
            "our model cannot read the {schema} fixture at `{}`: {}",
            e.path(),
            e.inner()
        )
    })
}

#[test]
fn documented_responses_follow_the_spec_and_read_into_our_models() {
    let account: Account = fixture(
        "AccountInfoResponse",
        include_str!("fixtures/atera/account.json"),
    );
    assert_eq!(
        account.account_id.as_deref(),
        Some("8f2c9e1a-4b7d-4c3e-9a61-2d5f0b7e3c14")
    );
    assert_eq!(
        account.company_name.as_deref(),
        Some("Northwind IT Services")
    );

    let customers: Paged<Customer> = fixture(
        "CustomerDtoPagedResult",
        include_str!("fixtures/atera/customers.json"),
    );
    assert_eq!((customers.page, customers.total_pages), (1, 1));
    let names: Vec<(Option<i64>, Option<&str>)> = customers
        .items
        .iter()
        .map(|c| (c.customer_id, c.customer_name.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (Some(12), Some("Contoso Ltd")),
            (Some(27), Some("Fabrikam Dental Care"))
        ]
    );

    let contacts: Paged<Contact> = fixture(
        "ContactDtoPagedResult",
        include_str!("fixtures/atera/contacts.json"),
    );
    let [bob, sparse] = &contacts.items[..] else {
        panic!("{contacts:?}")
    };
    assert_eq!(
        (
            bob.end_user_id,
            bob.customer_id,
            bob.customer_name.as_deref()
        ),
        (Some(5001), Some(12), Some("Contoso Ltd"))
    );
    assert_eq!(
        (
            bob.first_name.as_deref(),
            bob.last_name.as_deref(),
            bob.email.as_deref()
        ),
        (Some("Bob"), Some("Builder"), Some("bob@contoso.com"))
    );
    assert_eq!(
        (sparse.end_user_id, sparse.email.as_deref()),
        (Some(5187), Some("jimbob@contoso.com"))
    );
    assert_eq!(
        (sparse.first_name.as_deref(), sparse.last_name.as_deref()),
        (None, None),
        "null names read as None"
    );

    let agents: Paged<Agent> = fixture(
        "AgentDtoPagedResult",
        include_str!("fixtures/atera/agents.json"),
    );
    let [desk, laptop] = &agents.items[..] else {
        panic!("{agents:?}")
    };
    assert_eq!(
        (
            desk.agent_id,
            desk.customer_id,
            desk.machine_name.as_deref()
        ),
        (Some(40211), Some(12), Some("RECEPTION-PC"))
    );
    assert_eq!(
        desk.mac_addresses.as_deref(),
        Some(
            &[
                "D4-81-D7-3A-12-9F".to_string(),
                "00-15-5D-01-8A-02".to_string()
            ][..]
        )
    );
    assert_eq!(desk.last_seen.as_deref(), Some("2026-11-27T09:41:12Z"));
    assert_eq!(
        (laptop.customer_id, laptop.customer_name.as_deref()),
        (Some(27), Some("Fabrikam Dental Care"))
    );
    assert_eq!(
        laptop.mac_addresses.as_deref(),
        Some(&["8C:8D:28:4E:B1:07".to_string()][..])
    );

    let ticket: Ticket = fixture("TicketDto", include_str!("fixtures/atera/ticket.json"));
    assert_eq!(
        (ticket.ticket_id, ticket.ticket_number.as_deref()),
        (Some(48213), Some("3117"))
    );
    assert_eq!(
        ticket.title.as_deref(),
        Some("Outlook crashes when I open the shared calendar")
    );
    assert_eq!(
        (
            ticket.status.as_deref(),
            ticket.end_user_id,
            ticket.end_user_email.as_deref()
        ),
        (Some("Pending"), Some(5001), Some("bob@contoso.com"))
    );
    assert_eq!(ticket.created.as_deref(), Some("2026-11-27T09:45:03Z"));
    assert!(ticket
        .last_technician_comment
        .as_deref()
        .is_some_and(|c| c.starts_with("I have reset your Outlook profile")));
    assert_eq!(
        ticket.last_technician_comment_at.as_deref(),
        Some("2026-11-27T10:02:18Z")
    );

    let tickets: Paged<Ticket> = fixture(
        "TicketDtoPagedResult",
        include_str!("fixtures/atera/tickets.json"),
    );
    let numbers: Vec<(Option<i64>, Option<&str>)> = tickets
        .items
        .iter()
        .map(|t| (t.ticket_id, t.ticket_number.as_deref()))
        .collect();
    assert_eq!(
        numbers,
        [(Some(48213), Some("3117")), (Some(48190), Some("3109"))]
    );
    assert_eq!(
        tickets.items[1].last_technician_comment_at.as_deref(),
        Some("2026-11-26T15:11:32Z")
    );

    let comments: Paged<Comment> = fixture(
        "TicketCommentDtoPagedResult",
        include_str!("fixtures/atera/comments.json"),
    );
    let [asked, note, answer] = &comments.items[..] else {
        panic!("{comments:?}")
    };
    assert_eq!(
        (
            asked.end_user_id,
            asked.technician_contact_id,
            asked.is_internal
        ),
        (Some(5001), None, false)
    );
    assert_eq!(asked.text.as_deref(), Some("It happened again just now."));
    assert_eq!(
        (
            note.end_user_id,
            note.technician_contact_id,
            note.is_internal
        ),
        (None, Some(7), true)
    );
    assert_eq!(
        (
            answer.first_name.as_deref(),
            answer.last_name.as_deref(),
            answer.is_internal
        ),
        (Some("Dana"), Some("Whitfield"), false)
    );
    assert_eq!(answer.date.as_deref(), Some("2026-11-27T10:02:18Z"));
    assert!(answer
        .html
        .as_deref()
        .is_some_and(|h| h.starts_with("<div>I have reset")));

    let created: ActionResult =
        fixture("Result", include_str!("fixtures/atera/result-string.json"));
    assert_eq!(
        created.action_id, 123_i64,
        "the spec's string ActionID is read as a number"
    );

    let problem: ProblemDetails = fixture(
        "ProblemDetails",
        include_str!("fixtures/atera/problem.json"),
    );
    assert_eq!(
        problem.title.as_deref(),
        Some("One or more validation errors occurred.")
    );
    assert_eq!(
        problem.detail.as_deref(),
        Some("EndUserID: no contact with id 999999")
    );
}

#[test]
fn a_numeric_action_id_is_accepted_too() {
    let numeric = json!({"ActionID": 123});
    assert!(
        validate_request_body("Result", &numeric).is_err(),
        "off-spec, but clients in the wild see it"
    );
    let result: ActionResult = serde_json::from_value(numeric).unwrap();
    assert_eq!(result.action_id, 123);
}

#[test]
fn comment_and_contact_bodies_serialise_to_what_the_spec_allows() {
    let comment = CreateEndUserComment {
        text: "It happened again just now.".into(),
        end_user: EndUserCommentDetails { end_user_id: 5001 },
    };
    let body = serde_json::to_value(&comment).unwrap();
    validate_request_body("AddCommentToTicketModel", &body)
        .unwrap_or_else(|e| panic!("{e:?} in {body}"));
    assert_eq!(
        body,
        json!({"CommentText": "It happened again just now.", "EnduserCommentDetails": {"EnduserId": 5001}})
    );

    for phone in [Some("+49 228 981750".to_string()), None] {
        let contact = CreateContact {
            email: "ludwig@contoso.com".into(),
            customer_id: 12,
            first_name: "Ludwig".into(),
            last_name: "van Beethoven".into(),
            phone: phone.clone(),
        };
        let body = serde_json::to_value(&contact).unwrap();
        validate_request_body("CreateContactRequest", &body)
            .unwrap_or_else(|e| panic!("{e:?} in {body}"));
        assert_eq!(
            body.get("Phone").and_then(Value::as_str),
            phone.as_deref(),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_end_user_comment_sent_by_the_client_is_recorded_and_follows_the_spec() {
    let sandbox = util::sandbox().await;
    let customer = sandbox.add_customer("Contoso Ltd");
    let bob = sandbox.add_contact(customer, "Bob", "Builder", "bob@contoso.com");
    let client = util::client_for(&sandbox, util::KEY);
    let ticket = CreateTicket {
        title: "Outlook crashes when I open the shared calendar".into(),
        description: "<p>Outlook crashes.</p>".into(),
        priority: "High".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        ticket_type: "Problem".into(),
        end_user_id: Some(bob),
        ..Default::default()
    };
    let ticket_id = client.create_ticket(&ticket).await.unwrap();
    let comment = CreateEndUserComment {
        text: "It happened again just now.".into(),
        end_user: EndUserCommentDetails { end_user_id: bob },
    };
    let comment_id = client
        .create_end_user_comment(ticket_id, &comment)
        .await
        .unwrap();
    assert!(comment_id.is_some_and(|id| id > 0));

    let posted = util::posts(&sandbox, &format!("/api/v3/tickets/{ticket_id}/comments"));
    let [request] = &posted[..] else {
        panic!("{posted:?}")
    };
    assert_eq!(request.status, 201);
    let body: Value = serde_json::from_str(&request.body).unwrap();
    validate_request_body("AddCommentToTicketModel", &body)
        .unwrap_or_else(|e| panic!("{e:?} in {body}"));
    let stored = &sandbox.tickets()[0].comments;
    let [saved] = &stored[..] else {
        panic!("{stored:?}")
    };
    assert_eq!(
        (saved.text.as_str(), saved.enduser_id, saved.is_internal),
        ("It happened again just now.", Some(bob), false)
    );

    let read_back = client.comments(ticket_id).await.unwrap();
    assert!(
        read_back.iter().any(|c| c.end_user_id == Some(bob)
            && c.text.as_deref() == Some("It happened again just now.")),
        "{read_back:?}"
    );
}

// Atera's own documentation examples, two generations (`tests/fixtures/atera-samples/`, copied
// from `shared/reference/atera-samples/` with its SOURCES.md): every response example reads into
// our models, and the placeholders a doc generator writes give clear errors, never a panic.

/// Reads a sample into `T`, naming the failing path.
fn sample<T: DeserializeOwned>(name: &str, text: &str) -> T {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).unwrap_or_else(|e| {
        panic!(
            "our model cannot read {name} at `{}`: {}",
            e.path(),
            e.inner()
        )
    })
}

macro_rules! samples {
    ($($file:literal => $ty:ty),* $(,)?) => {
        [$(($file, (|text: &str| { let _: $ty = sample($file, text); }) as fn(&str), include_str!(concat!("fixtures/atera-samples/", $file)))),*]
    };
}

#[test]
fn every_documented_response_example_reads_into_our_models() {
    let all = samples![
        "account.atera-docs-2026-08.json" => Account,
        "agent_get.atera-docs-2026-08.json" => Agent,
        "agent_get.atera-swagger2-example.json" => Agent,
        "agent_item.psatera-sampledata-2021.json" => Agent,
        "agents_list.psatera-sampledata-2021.json" => Paged<Agent>,
        "agents_machine.atera-docs-2026-08.json" => Paged<Agent>,
        "comments_list.atera-docs-2026-08.json" => Paged<Comment>,
        "contact_get.atera-docs-2026-08.json" => Contact,
        "contact_get.atera-swagger2-example.json" => Contact,
        "contacts_list.atera-docs-2026-08.json" => Paged<Contact>,
        "customer_get.atera-docs-2026-08.json" => Customer,
        "customer_get.atera-swagger2-example.json" => Customer,
        "customers_list.atera-docs-2026-08.json" => Paged<Customer>,
        "ticket_get.atera-docs-2026-08.json" => Ticket,
        "ticket_get.atera-swagger2-example.json" => Ticket,
        "tickets_lastmodified.atera-docs-2026-08.json" => Paged<Ticket>,
        "tickets_list.atera-docs-2026-08.json" => Paged<Ticket>,
        "ticket_update.response.atera-swagger2-example.json" => ActionResult,
    ];
    assert_eq!(
        all.len() + 3 + 3,
        24,
        "every sample file is read here or below"
    );
    for (_, read, text) in all {
        read(text);
    }
    // Shapes the samples show: numeric enums, ids of 0 meaning none, `prevLink …page=0`.
    let old: Ticket = sample(
        "ticket_get.atera-swagger2-example.json",
        include_str!("fixtures/atera-samples/ticket_get.atera-swagger2-example.json"),
    );
    assert!(old.ticket_id.is_some());
    let comments: Paged<Comment> = sample(
        "comments_list",
        include_str!("fixtures/atera-samples/comments_list.atera-docs-2026-08.json"),
    );
    assert_eq!(
        comments.items[0].end_user_id, None,
        "EndUserID 0 is no end user"
    );
    let update: ActionResult = sample(
        "ticket_update",
        include_str!("fixtures/atera-samples/ticket_update.response.atera-swagger2-example.json"),
    );
    assert_eq!(update.action_id, 1);
}

/// The docs' create answers carry the placeholder `"ActionID": "string"`: a clear decode error
/// that names the field and the value, not a panic and not a made-up id.
#[test]
fn a_placeholder_action_id_is_a_clear_decode_error() {
    for (name, text) in [
        (
            "ticket_create",
            include_str!("fixtures/atera-samples/ticket_create.response.atera-docs-2026-08.json"),
        ),
        (
            "contact_create",
            include_str!("fixtures/atera-samples/contact_create.response.atera-docs-2026-08.json"),
        ),
        (
            "comment_create",
            include_str!("fixtures/atera-samples/comment_create.response.atera-docs-2026-08.json"),
        ),
    ] {
        let de = &mut serde_json::Deserializer::from_str(text);
        let err = serde_path_to_error::deserialize::<_, ActionResult>(de).unwrap_err();
        assert_eq!(err.path().to_string(), "ActionID", "{name}");
        assert!(
            err.inner()
                .to_string()
                .contains("\"string\" is not a number"),
            "{name}: {}",
            err.inner()
        );
    }
}

/// What we send uses only keys Atera's documented request examples have.
#[test]
fn our_requests_use_only_documented_keys() {
    fn keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(o) = v {
            for (k, v) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                keys(v, &key, out);
                out.push(key);
            }
        }
    }
    let documented = |text: &str| {
        let mut out = Vec::new();
        keys(&serde_json::from_str(text).unwrap(), "", &mut out);
        out
    };
    let ticket = CreateTicket {
        title: "t".into(),
        description: "d".into(),
        priority: "High".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        ticket_type: "Problem".into(),
        end_user_id: Some(1),
        end_user_first_name: Some("a".into()),
        end_user_last_name: Some("b".into()),
        end_user_email: Some("a@b.co".into()),
    };
    let contact = CreateContact {
        email: "a@b.co".into(),
        customer_id: 1,
        first_name: "a".into(),
        last_name: "b".into(),
        phone: Some("1".into()),
    };
    let comment = CreateEndUserComment {
        text: "x".into(),
        end_user: EndUserCommentDetails { end_user_id: 1 },
    };
    for (ours, doc) in [
        (
            serde_json::to_value(ticket).unwrap(),
            include_str!("fixtures/atera-samples/ticket_create.request.atera-docs-2026-08.json"),
        ),
        (
            serde_json::to_value(contact).unwrap(),
            include_str!("fixtures/atera-samples/contact_create.request.atera-docs-2026-08.json"),
        ),
        (
            serde_json::to_value(comment).unwrap(),
            include_str!("fixtures/atera-samples/comment_create.request.atera-docs-2026-08.json"),
        ),
    ] {
        let allowed = documented(doc);
        let mut sent = Vec::new();
        keys(&ours, "", &mut sent);
        for key in sent {
            assert!(
                allowed.contains(&key),
                "{key} is not in Atera's documented example {allowed:?}"
            );
        }
    }
}
