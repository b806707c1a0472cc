//! Whole submissions against the sandbox, asserting what it received.

use base64::Engine as _;
use helpdesk_core::atera::AteraError;
use helpdesk_core::form::TicketForm;
use helpdesk_core::sandbox::Fault;
use helpdesk_core::submit::{submit_ticket, ContactMatch, SubmitError};

use crate::util;

fn form() -> TicketForm {
    TicketForm {
        name: "Bob Builder".into(),
        email: "  BOB@contoso.com ".into(),
        description: "Outlook <b>crashes</b> & freezes\nwhen I open \"Calendar\"".into(),
        selections: vec!["This is an emergency".into(), "Call me".into()],
        priority: "urgent".into(),
        ticket_type: "service request".into(),
        impact: "site down".into(),
        included_screenshots: vec![0, 1],
        ..Default::default()
    }
}

#[tokio::test]
async fn exact_email_match_wins_over_atera_partial_matches() {
    let sandbox = util::sandbox().await;
    let customer = sandbox.add_customer("Contoso");
    sandbox.add_contact(customer, "Jim", "Bob", "jimbob@contoso.com");
    sandbox.add_contact(customer, "Bob", "Au", "bob@contoso.com.au");
    let bob = sandbox.add_contact(customer, "Bob", "Builder", "Bob@Contoso.com");
    sandbox.add_contact(customer, "Bobby", "Tables", "bobby@contoso.com");
    let client = util::client_for(&sandbox, util::KEY);
    let inv = util::inventory("PC-042", "aa:bb:cc:dd:ee:ff");
    let outcome = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(form(), &[], Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.contact,
        ContactMatch::Existing {
            end_user_id: bob,
            name: "Bob Builder".into(),
            customer: None,
        }
    );
    let tickets = sandbox.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].request_json["EndUserID"], bob);
    assert!(
        tickets[0].request_json.get("EndUserEmail").is_none(),
        "no name fields when the contact is known"
    );
    assert_eq!(outcome.ticket_id, tickets[0].ticket_id);
    assert!(
        util::posts(&sandbox, "/api/v3/contacts").is_empty(),
        "no contact created"
    );
}

#[tokio::test]
async fn ticket_fields_are_atera_values_and_the_body_is_escaped_with_inline_screenshots() {
    let sandbox = util::sandbox().await;
    let client = util::client_for(&sandbox, util::KEY);
    let shots = util::screenshots();
    let inv = util::inventory("PC-042", "aa:bb:cc:dd:ee:ff");
    let outcome = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(form(), &shots, Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap();
    let t = &sandbox.tickets()[0];
    assert_eq!(
        (
            t.priority.as_str(),
            t.ticket_type.as_str(),
            t.impact.as_str(),
            t.status.as_str()
        ),
        ("Critical", "Request", "SiteDown", "Open")
    );
    assert_eq!(t.title, "Outlook <b>crashes</b> & freezes");
    let d = &t.description;
    assert!(d.contains("Outlook &lt;b&gt;crashes&lt;/b&gt; &amp; freezes<br>\nwhen I open &quot;Calendar&quot;"), "{}", &d[..400]);
    assert!(!d.contains("<b>crashes"));
    assert!(d.contains("This is an emergency") && d.contains("How should we contact you? Call me"));
    assert!(d.contains("PC-042") && d.contains("192.0.2.10") && d.contains("aa:bb:cc:dd:ee:ff"));
    assert!(d.contains(&outcome.reference));
    // The two screenshots are inline JPEGs that decode to the scaled frames.
    let images: Vec<&str> = d
        .split("src=\"data:image/jpeg;base64,")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(images.len(), 2);
    let first = image::load_from_memory(
        &base64::engine::general_purpose::STANDARD
            .decode(images[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!((first.width(), first.height()), (1600, 900));
    assert!(d.contains("HDMI-1 · 1920×1080 · primary"));
}

#[tokio::test]
async fn excluded_screenshots_are_not_sent() {
    let sandbox = util::sandbox().await;
    let client = util::client_for(&sandbox, util::KEY);
    let shots = util::screenshots();
    let mut f = form();
    f.included_screenshots = vec![1];
    submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(f, &shots, None),
        "0.1.0",
    )
    .await
    .unwrap();
    let d = &sandbox.tickets()[0].description;
    assert_eq!(d.matches("data:image/jpeg;base64,").count(), 1);
    assert!(d.contains("DP-2") && !d.contains("HDMI-1"));
}

/// The requester belongs to this PC's customer: an exact e-mail match in another customer is
/// not used when this PC's customer is known; the contact is found or created under it, and the
/// ticket says how.
#[tokio::test]
async fn the_requester_is_matched_within_this_pcs_customer() {
    let sandbox = util::sandbox().await;
    let other = sandbox.add_customer("Fabrikam");
    let contoso = sandbox.add_customer("Contoso");
    let namesake = sandbox.add_contact(other, "Grace", "Elsewhere", "grace@shared.example");
    sandbox.add_agent(
        contoso,
        "PC-042",
        Some("AA-BB-CC-DD-EE-FF"),
        "2026-01-01T09:00:00Z",
    );
    let client = util::client_for(&sandbox, util::KEY);
    let inv = util::inventory("PC-042", "aa:bb:cc:dd:ee:ff");
    let mut f = form();
    f.name = "Grace Hopper".into();
    f.email = "grace@shared.example".into();
    let settings = util::settings_for(&sandbox);
    let outcome = submit_ticket(
        &client,
        &settings,
        util::submission(f.clone(), &[], Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap();
    let ContactMatch::CreatedUnderCustomer {
        end_user_id,
        customer_id,
        ..
    } = outcome.contact
    else {
        panic!(
            "the namesake in another customer must not be used: {:?}",
            outcome.contact
        )
    };
    assert_ne!(end_user_id, namesake);
    assert_eq!(customer_id, contoso);
    assert!(sandbox.tickets()[0]
        .description
        .contains("created under Contoso"));
    // The next ticket finds that contact, in this customer, and says so.
    let outcome = submit_ticket(
        &client,
        &settings,
        util::submission(f.clone(), &[], Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.contact,
        ContactMatch::Existing {
            end_user_id,
            name: "Grace Hopper".into(),
            customer: Some("Contoso".into()),
        }
    );
    assert!(
        sandbox.tickets()[1]
            .description
            .contains("of Contoso, this computer&#39;s customer"),
        "{}",
        sandbox.tickets()[1].description
    );
    // A PC Atera does not know: the exact match anywhere is used, and the ticket says why.
    let unknown = util::inventory("PC-999", "11:22:33:44:55:66");
    let outcome = submit_ticket(
        &client,
        &settings,
        util::submission(f, &[], Some(&unknown)),
        "0.1.0",
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome.contact, ContactMatch::Existing { customer: None, end_user_id: id, .. } if id == namesake),
        "{:?}",
        outcome.contact
    );
}

#[tokio::test]
async fn unknown_email_creates_the_contact_under_this_machines_customer() {
    let sandbox = util::sandbox().await;
    let old = sandbox.add_customer("Old Owner");
    let contoso = sandbox.add_customer("Contoso");
    sandbox.add_agent(
        old,
        "PC-042",
        Some("00:00:00:00:00:01"),
        "2026-11-27T09:00:00Z",
    );
    sandbox.add_agent(
        contoso,
        "PC-042",
        Some("AA-BB-CC-DD-EE-FF"),
        "2026-01-01T09:00:00Z",
    );
    let client = util::client_for(&sandbox, util::KEY);
    let inv = util::inventory("PC-042", "aa:bb:cc:dd:ee:ff");
    let mut f = form();
    f.name = "Ludwig van Beethoven".into();
    f.email = "ludwig@contoso.com".into();
    f.phone = "+49 228 981750".into();
    let outcome = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(f, &[], Some(&inv)),
        "0.1.0",
    )
    .await
    .unwrap();
    let ContactMatch::CreatedUnderCustomer {
        end_user_id,
        customer_id,
        ..
    } = outcome.contact
    else {
        panic!("{:?}", outcome.contact)
    };
    assert_eq!(
        customer_id, contoso,
        "the agent whose MAC matches wins over the newer one"
    );
    let created = sandbox
        .contacts()
        .into_iter()
        .find(|c| c.end_user_id == end_user_id)
        .unwrap();
    assert_eq!(
        (
            created.first_name.as_str(),
            created.last_name.as_str(),
            created.customer_id
        ),
        ("Ludwig", "van Beethoven", contoso)
    );
    assert_eq!(created.phone.as_deref(), Some("+49 228 981750"));
    assert_eq!(sandbox.tickets()[0].request_json["EndUserID"], end_user_id);
    assert!(sandbox.tickets()[0]
        .description
        .contains("created under Contoso"));
}

#[tokio::test]
async fn unknown_email_and_machine_use_the_fallback_contact_when_configured() {
    let sandbox = util::sandbox().await;
    let c = sandbox.add_customer("MSP");
    let fallback = sandbox.add_contact(c, "Front", "Desk", "frontdesk@msp.example");
    let client = util::client_for(&sandbox, util::KEY);
    let mut settings = util::settings_for(&sandbox);
    settings.atera.fallback_contact_email = "frontdesk@msp.example".into();
    let outcome = submit_ticket(
        &client,
        &settings,
        util::submission(form(), &[], None),
        "0.1.0",
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.contact,
        ContactMatch::Fallback {
            end_user_id: fallback,
            email: "frontdesk@msp.example".into(),
            email_taken: false,
        }
    );
    assert!(
        sandbox.tickets()[0].description.contains("BOB@contoso.com"),
        "the real requester is still in the body"
    );
}

#[tokio::test]
async fn invalid_form_is_refused_before_any_request_is_made() {
    let sandbox = util::sandbox().await;
    let client = util::client_for(&sandbox, util::KEY);
    let mut f = form();
    f.email = "bob.contoso.com".into();
    f.description = " ".into();
    let err = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(f, &[], None),
        "0.1.0",
    )
    .await
    .unwrap_err();
    let fields = err.fields().expect("field errors");
    assert_eq!(
        fields.0.keys().collect::<Vec<_>>(),
        ["description", "email"]
    );
    assert_eq!(err.kind(), "invalid");
    assert!(sandbox.requests().is_empty());
}

#[tokio::test]
async fn a_rejected_key_says_what_to_do_and_never_shows_the_key() {
    let sandbox = util::sandbox().await;
    let wrong = "wrong-key-that-must-not-leak-42";
    let client = util::client_for(&sandbox, wrong);
    let err = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(form(), &[], None),
        "0.1.0",
    )
    .await
    .unwrap_err();
    let SubmitError::Atera(AteraError::Unauthorized { status: 401, .. }) = &err else {
        panic!("{err:?}")
    };
    let text = format!("{err} {err:?} {}", err.user_message());
    assert!(text.contains("copy the key again"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!err.is_retryable_for_test());
}

trait RetryableForTest {
    fn is_retryable_for_test(&self) -> bool;
}

impl RetryableForTest for SubmitError {
    fn is_retryable_for_test(&self) -> bool {
        matches!(self, SubmitError::Atera(e) if e.is_retryable())
    }
}

#[tokio::test]
async fn a_web_page_answering_the_post_is_reported_and_never_taken_for_not_created() {
    let sandbox = util::sandbox().await;
    sandbox.inject_fault(Fault::Html {
        method: "POST",
        path_prefix: "/tickets",
    });
    let client = util::client_for(&sandbox, util::KEY);
    let err = submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(form(), &[], None),
        "0.1.0",
    )
    .await
    .unwrap_err();
    // A 2xx web page to a POST may be a captive portal, or Atera behind one that filed the
    // ticket: it is confirmed by lookup before any resend, never taken for "not created".
    assert!(
        matches!(&err, SubmitError::Atera(AteraError::AcceptedUnreadable { detail }) if detail.contains("web page")),
        "{err:?}"
    );
    assert!(err.to_string().contains("Check the endpoint setting"));
    assert!(sandbox.tickets().is_empty());
}

#[tokio::test]
async fn requests_carry_the_key_header_user_agent_and_accept_json() {
    let sandbox = util::sandbox().await;
    let client = util::client_for(&sandbox, util::KEY);
    submit_ticket(
        &client,
        &util::settings_for(&sandbox),
        util::submission(form(), &[], None),
        "0.1.0",
    )
    .await
    .unwrap();
    let requests = sandbox.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("x-api-key"),
            Some(util::KEY),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(header("authorization"), None);
        assert_eq!(header("accept"), Some("application/json"));
        assert!(header("user-agent").is_some_and(|ua| ua.starts_with("HelpdeskButton/")));
    }
}

#[tokio::test]
async fn a_jwt_token_is_sent_as_bearer() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtc3AifQ.c2lnbmF0dXJlLXNhbmRib3g";
    let config = helpdesk_core::sandbox::SandboxConfig {
        api_keys: vec![jwt.into()],
        ..Default::default()
    };
    let sandbox = helpdesk_core::sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let client = util::client_for(&sandbox, jwt);
    client.account().await.unwrap();
    let r = &sandbox.requests()[0];
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == &format!("Bearer {jwt}")));
    assert!(!r.headers.iter().any(|(k, _)| k == "x-api-key"));
}

#[tokio::test]
async fn when_users_may_not_exclude_monitors_every_screen_is_sent() {
    let sandbox = util::sandbox().await;
    let client = util::client_for(&sandbox, util::KEY);
    let shots = util::screenshots();
    let mut settings = util::settings_for(&sandbox);
    settings.screenshots.allow_exclude = false;
    let mut f = form();
    f.included_screenshots = vec![];
    let submission = util::submission(f, &shots, None);
    submit_ticket(&client, &settings, submission, "0.1.0")
        .await
        .unwrap();
    assert_eq!(
        sandbox.tickets()[0]
            .description
            .matches("data:image/jpeg;base64,")
            .count(),
        2
    );
}
