//! Every request body the app can send, checked against Atera's own OpenAPI spec: property
//! names, types, enums and `additionalProperties: false`.

use helpdesk_core::form::TicketForm;
use helpdesk_core::sandbox::validate_request_body;
use helpdesk_core::submit::{submit_ticket, Submission};

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
    sandbox.add_agent(customer, "AGENT-PC", Some("aa:bb:cc:00:00:01"), "2026-11-01T10:00:00Z");
    let client = util::client_for(&sandbox, util::KEY);
    let settings = util::settings_for(&sandbox);
    let agent_pc = util::inventory("AGENT-PC", "aa:bb:cc:00:00:01");
    let lone_pc = util::inventory("LONE-PC", "aa:bb:cc:00:00:02");
    for (email, inv) in [("grace@navy.example", &agent_pc), ("new@navy.example", &agent_pc), ("stranger@else.example", &lone_pc)] {
        let submission = Submission { form: form(email), screenshots: &[], inventory: Some(inv) };
        submit_ticket(&client, &settings, submission, "0.1.0").await.unwrap();
    }
    let tickets = util::posts(&sandbox, "/api/v3/tickets");
    let contacts = util::posts(&sandbox, "/api/v3/contacts");
    assert_eq!((tickets.len(), contacts.len()), (3, 1), "existing contact, created contact, name-and-email");
    for request in tickets.iter() {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        validate_request_body("CreateTicketModel", &body).unwrap_or_else(|e| panic!("{e:?} in {body}"));
    }
    for request in contacts.iter() {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        validate_request_body("CreateContactRequest", &body).unwrap_or_else(|e| panic!("{e:?} in {body}"));
    }
    let third: serde_json::Value = serde_json::from_str(&tickets[2].body).unwrap();
    assert_eq!(third["EndUserFirstName"], "Grace");
    assert_eq!(third["EndUserLastName"], "Hopper");
    assert_eq!(third["EndUserEmail"], "stranger@else.example");
    assert!(third.get("EndUserID").is_none());
}

#[test]
fn the_validator_itself_refuses_what_atera_refuses() {
    assert!(validate_request_body("CreateTicketModel", &serde_json::json!({"TicketTitle": "x", "Foo": 1})).is_err());
    assert!(validate_request_body("CreateTicketModel", &serde_json::json!({"TicketTitle": "x", "TicketImpact": "Site Down"})).is_err());
    assert!(validate_request_body("CreateTicketModel", &serde_json::json!({"TicketTitle": "x", "TicketImpact": "SiteDown"})).is_ok());
}
