//! The sandbox exercised over real HTTP on 127.0.0.1:0.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const KEY: &str = "sandbox-key";

async fn get(sb: &Sandbox, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path}", sb.base_url()))
        .header("X-API-KEY", KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post(sb: &Sandbox, path: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}{path}", sb.base_url()))
        .header("X-API-KEY", KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_schema(schema: &str, value: &Value) {
    if let Err(errors) = validate_request_body(schema, value) {
        panic!("response is not a valid {schema}: {errors:#?}\n{value:#}");
    }
}

fn good_ticket() -> Value {
    json!({
        "TicketTitle": "Printer on fire",
        "Description": "<p>It <b>smokes</b></p><script>alert(1)</script>",
        "TicketPriority": "High", "TicketImpact": "Minor", "TicketType": "Incident",
        "EndUserFirstName": "Bob", "EndUserLastName": "Builder", "EndUserEmail": "bob@contoso.com"
    })
}

#[tokio::test]
async fn sandbox_rejects_missing_or_wrong_keys_and_accepts_both_header_styles() {
    let sb = sandbox().await;
    let url = format!("{}/account", sb.base_url());
    for request in [
        client().get(&url),
        client().get(&url).header("X-API-KEY", "wrong-key"),
        client().get(&url).bearer_auth("wrong-key"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let text = response.text().await.unwrap();
        assert!(!text.contains("wrong-key") && !text.contains(KEY), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (body["title"].as_str(), body["status"].as_u64()),
            (Some("Unauthorized"), Some(401))
        );
        assert!(body["type"].is_string() && body["detail"].is_string());
    }
    for request in [
        client().get(&url).header("X-API-KEY", KEY),
        client().get(&url).bearer_auth(KEY),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["CompanyName"], "Sandbox MSP");
        assert_schema("AccountInfoResponse", &body);
    }
    let unknown = client()
        .get(format!("{}/nope", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401, "authentication comes before routing");
    assert!(format!("{:?}", SandboxConfig::default()).contains("masked"));
    assert!(!format!("{:?}", SandboxConfig::default()).contains(KEY));
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_ticket_bodies_are_validated_against_the_spec() {
    let sb = sandbox().await;
    let mut unknown = good_ticket();
    unknown["Foo"] = json!(1);
    let (status, body) = post(&sb, "/tickets", &unknown).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Foo: unknown property"),
        "{body}"
    );
    assert!(body["errors"]["Foo"].is_array(), "{body}");
    assert_schema("ProblemDetails", &body);

    let mut bad_enum = good_ticket();
    bad_enum["TicketPriority"] = json!("Urgent");
    let (status, body) = post(&sb, "/tickets", &bad_enum).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("TicketPriority"),
        "{body}"
    );

    let (status, body) = post(
        &sb,
        "/tickets",
        &json!({"TicketTitle": "t", "Description": "d", "EndUserFirstName": "Bob"}),
    )
    .await;
    assert_eq!(status, 400);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("EndUserLastName")
            && detail.contains("EndUserEmail")
            && detail.contains("EndUserID"),
        "{detail}"
    );

    let (status, body) = post(
        &sb,
        "/tickets",
        &json!({"TicketTitle": " ", "EndUserID": 424242}),
    )
    .await;
    assert_eq!(status, 400);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("TicketTitle")
            && detail.contains("Description")
            && detail.contains("EndUserID"),
        "{detail}"
    );

    let response = client()
        .post(format!("{}/tickets", sb.base_url()))
        .header("X-API-KEY", KEY)
        .header("content-type", "text/plain")
        .body(good_ticket().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = client()
        .post(format!("{}/tickets", sb.base_url()))
        .header("X-API-KEY", KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(sb.tickets().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_creates_tickets_and_serves_them_in_atera_shapes() {
    let sb = sandbox().await;
    let (status, body) = post(&sb, "/tickets", &good_ticket()).await;
    assert_eq!(status, 201);
    let id_text = body["ActionID"]
        .as_str()
        .expect("ActionID is a JSON string");
    assert_schema("Result", &body);
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.ticket_id.to_string(), id_text);
    assert_eq!(t.request_json, good_ticket());
    assert_eq!(
        (
            t.priority.as_str(),
            t.impact.as_str(),
            t.ticket_type.as_str()
        ),
        ("High", "Minor", "Incident")
    );
    assert_eq!(
        (t.status.as_str(), t.end_user_email.as_str()),
        ("Open", "bob@contoso.com")
    );
    let contacts = sb.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        (contacts[0].end_user_id, contacts[0].first_name.as_str()),
        (t.end_user_id, "Bob")
    );

    // A second ticket by EndUserID reuses the contact.
    let (status, _) = post(
        &sb,
        "/tickets",
        &json!({"TicketTitle": "Again", "Description": "d", "EndUserID": t.end_user_id, "TicketStatus": "pending"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(sb.tickets()[1].status, "Pending");

    let (status, dto) = get(&sb, &format!("/tickets/{id_text}")).await;
    assert_eq!(status, 200);
    assert_schema("TicketDto", &dto);
    assert_eq!(dto["FirstComment"], "It smokes");
    assert_eq!(
        (
            dto["EndUserFirstName"].as_str(),
            dto["CustomerName"].as_str()
        ),
        (Some("Bob"), Some("Unassigned"))
    );
    let (_, list) = get(&sb, "/tickets?ticketStatus=open").await;
    assert_schema("TicketDtoPagedResult", &list);
    assert_eq!(list["totalItemCount"], 1);
    let (_, modified) = get(&sb, "/tickets/lastmodified?includeComments=true").await;
    assert_schema("TicketDtoPagedResult", &modified);
    assert_eq!(modified["totalItemCount"], 2);
    let (_, modified) = get(&sb, "/tickets/lastmodified?date=2999-01-01").await;
    assert_eq!(modified["totalItemCount"], 0);
    assert_eq!(get(&sb, "/tickets/lastmodified?date=someday").await.0, 400);
    assert_eq!(get(&sb, "/tickets/1").await.0, 404);
    assert_eq!(get(&sb, "/tickets/abc").await.0, 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_contacts_match_email_partially_and_customers_page() {
    let sb = sandbox().await;
    let contoso = sb.add_customer("Contoso");
    let bob = sb.add_contact(contoso, "Bob", "B", "bob@contoso.com");
    let jimbob = sb.add_contact(contoso, "Jim", "Bob", "jimbob@contoso.com");
    sb.add_contact(contoso, "Alice", "A", "alice@contoso.com");
    let (status, found) = get(&sb, "/contacts?Email=BOB@contoso.com").await;
    assert_eq!(status, 200);
    assert_schema("ContactDtoPagedResult", &found);
    let mut ids: Vec<i64> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["EndUserID"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [bob, jimbob], "the decoy jimbob@ is returned too");
    let (status, one) = get(&sb, &format!("/contacts/{bob}")).await;
    assert_eq!((status, one["Firstname"].as_str()), (200, Some("Bob")));

    let (status, created) = post(
        &sb,
        "/contacts",
        &json!({"Email": "new@contoso.com", "CustomerName": "contoso", "Firstname": "N"}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(created["ActionID"].is_i64());
    assert_eq!(
        post(
            &sb,
            "/contacts",
            &json!({"Email": "x@y.z", "CustomerID": 999})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            &sb,
            "/contacts",
            &json!({"Email": "x@y.z", "CustomerID": contoso, "Nope": 1})
        )
        .await
        .0,
        400
    );

    for i in 0..24 {
        sb.add_customer(&format!("Customer {i}"));
    }
    let (status, page) = get(&sb, "/customers?page=3&itemsInPage=10").await;
    assert_eq!(status, 200);
    assert_schema("CustomerDtoPagedResult", &page);
    assert_eq!(
        (page["totalItemCount"].as_i64(), page["totalPages"].as_i64()),
        (Some(25), Some(3))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["nextLink"], "");
    assert!(
        page["prevLink"]
            .as_str()
            .unwrap()
            .ends_with("/api/v3/customers?page=2&itemsInPage=10"),
        "{page}"
    );
    let (status, problem) = get(&sb, "/customers?itemsInPage=51").await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("50"),
        "{problem}"
    );
    assert_eq!(get(&sb, "/customers?page=0").await.0, 400);
    assert_eq!(get(&sb, "/customers?itemsInPage=0").await.0, 400);
    assert_eq!(
        get(&sb, &format!("/customers/{contoso}")).await.1["CustomerName"],
        "Contoso"
    );
    assert_eq!(get(&sb, "/customers/1").await.0, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_agents_by_machine_and_routing_errors() {
    let sb = sandbox().await;
    let customer = sb.add_customer("Contoso");
    let agent = sb.add_agent(
        customer,
        "PC-042",
        Some("00:11:22:33:44:55"),
        "2025-01-01T10:00:00Z",
    );
    sb.add_agent(customer, "PC-0420", None, "2025-01-01T10:00:00Z");
    let (status, found) = get(&sb, "/agents/machine/pc-042").await;
    assert_eq!(status, 200);
    assert_schema("AgentDtoPagedResult", &found);
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["AgentID"], agent);
    assert_eq!(items[0]["MacAddresses"], json!(["00:11:22:33:44:55"]));
    assert_eq!(items[0]["CustomerName"], "Contoso");

    let (status, problem) = get(&sb, "/no/such/thing").await;
    assert_eq!(status, 404);
    assert_schema("ProblemDetails", &problem);
    let response = client()
        .delete(format!("{}/tickets", sb.base_url()))
        .header("X-API-KEY", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_ticket_comments_follow_the_spec() {
    let sb = sandbox().await;
    let (_, created) = post(&sb, "/tickets", &good_ticket()).await;
    let id = created["ActionID"].as_str().unwrap().to_owned();
    let end_user = sb.tickets()[0].end_user_id;
    let path = format!("/tickets/{id}/comments");
    let (status, _) = post(
        &sb,
        &path,
        &json!({"CommentText": "Still smoking", "EnduserCommentDetails": {"EnduserId": end_user}}),
    )
    .await;
    assert_eq!(status, 201);
    let technician = json!({"CommentText": "On my way", "CommentTimestampUTC": "2025-02-03T04:05:06Z",
        "TechnicianCommentDetails": {"TechnicianId": 7, "IsInternal": true, "TechnicianEmail": "tech@msp.example"}});
    assert_eq!(post(&sb, &path, &technician).await.0, 201);
    let both = json!({"CommentText": "x", "EnduserCommentDetails": {"EnduserId": end_user}, "TechnicianCommentDetails": {"TechnicianId": 1}});
    assert_eq!(post(&sb, &path, &both).await.0, 400);
    assert_eq!(
        post(&sb, &path, &json!({"CommentText": "x", "Bogus": true}))
            .await
            .0,
        400
    );
    assert_eq!(
        post(
            &sb,
            "/tickets/1/comments",
            &json!({"CommentText": "x", "EnduserCommentDetails": {"EnduserId": end_user}})
        )
        .await
        .0,
        404
    );

    let stored = &sb.tickets()[0].comments;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0].enduser_id, stored[0].is_internal),
        (Some(end_user), false)
    );
    assert_eq!(
        (stored[1].technician.as_deref(), stored[1].is_internal),
        (Some("tech@msp.example"), true)
    );
    assert_eq!(stored[1].date, "2025-02-03T04:05:06Z");

    let (status, list) = get(&sb, &path).await;
    assert_eq!(status, 200);
    assert_schema("TicketCommentDtoPagedResult", &list);
    assert_eq!(
        list["totalItemCount"], 3,
        "the description comes first, as in Atera"
    );
    assert_eq!(list["items"][2]["TechnicianContactID"], 7);
    let (_, dto) = get(&sb, &format!("/tickets/{id}")).await;
    assert_eq!(
        (
            dto["LastEndUserComment"].as_str(),
            dto["LastTechnicianComment"].as_str()
        ),
        (Some("Still smoking"), Some("On my way"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_status_and_html_faults_skip_the_work() {
    let sb = sandbox().await;
    sb.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/api/v3/tickets",
        status: 503,
        retry_after: Some(7),
    });
    sb.inject_fault(Fault::Html {
        method: "post",
        path_prefix: "/tickets",
    });
    let url = format!("{}/tickets", sb.base_url());
    // A GET does not match the POST faults.
    assert_eq!(get(&sb, "/tickets").await.0, 200);
    let response = client()
        .post(&url)
        .header("X-API-KEY", KEY)
        .json(&good_ticket())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.json::<Value>().await.unwrap()["status"], 503);
    let response = client()
        .post(&url)
        .header("X-API-KEY", KEY)
        .json(&good_ticket())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<html"));
    assert!(sb.tickets().is_empty());
    assert_eq!(
        post(&sb, "/tickets", &good_ticket()).await.0,
        201,
        "faults apply once"
    );
    let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 503, 200, 201]);
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_drop_connection_answers_nothing_and_does_nothing() {
    let sb = sandbox().await;
    sb.inject_fault(Fault::DropConnection {
        method: "POST",
        path_prefix: "/api/v3/tickets",
    });
    let result = client()
        .post(format!("{}/tickets", sb.base_url()))
        .header("X-API-KEY", KEY)
        .json(&good_ticket())
        .send()
        .await;
    let error = result.expect_err("the connection is dropped without a response");
    assert!(!error.is_status(), "{error:?}");
    assert!(sb.tickets().is_empty());
    assert_eq!(sb.requests()[0].status, 0);
    assert_eq!(post(&sb, "/tickets", &good_ticket()).await.0, 201);
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_do_then_hang_creates_the_ticket_although_the_client_times_out() {
    let sb = sandbox().await;
    sb.inject_fault(Fault::DoThenHang {
        method: "POST",
        path_prefix: "/api/v3/tickets",
        hang: Duration::from_secs(60),
    });
    let result = client()
        .post(format!("{}/tickets", sb.base_url()))
        .header("X-API-KEY", KEY)
        .timeout(Duration::from_millis(500))
        .json(&good_ticket())
        .send()
        .await;
    assert!(result.expect_err("the response hangs").is_timeout());
    assert_eq!(sb.tickets().len(), 1);
    assert_eq!(sb.requests()[0].status, 201);
    // Shutting down ends the hang instead of waiting a minute.
    let started = std::time::Instant::now();
    sb.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sandbox_records_requests_and_serves_human_pages() {
    let sb = sandbox().await;
    let (_, created) = post(&sb, "/tickets", &good_ticket()).await;
    let id = created["ActionID"].as_str().unwrap().to_owned();
    let recorded = &sb.requests()[0];
    assert_eq!(
        (
            recorded.method.as_str(),
            recorded.path.as_str(),
            recorded.status
        ),
        ("POST", "/api/v3/tickets", 201)
    );
    assert!(recorded
        .headers
        .iter()
        .any(|(k, v)| k == "x-api-key" && v == KEY));
    assert_eq!(
        serde_json::from_str::<Value>(&recorded.body).unwrap(),
        good_ticket()
    );
    assert!(!format!("{recorded:?}").contains(KEY), "Debug masks keys");

    let origin = format!("http://{}", sb.endpoint());
    let index = client()
        .get(format!("{origin}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        index.contains("<title>Atera sandbox</title>")
            && index.contains(&format!("href=\"/tickets/{id}\""))
    );
    assert!(index.contains("Printer on fire") && index.contains("bob@contoso.com"));
    let page = client()
        .get(format!("{origin}/tickets/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<iframe sandbox "), "{page}");
    assert!(
        page.contains("srcdoc=\"&lt;p&gt;It &lt;b&gt;smokes&lt;/b&gt;&lt;/p&gt;&lt;script&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<script>"),
        "the description's script stays inert"
    );
    assert!(page.contains("<details>"));
    let all: Value = client()
        .get(format!("{origin}/tickets.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all[0]["request_json"], good_ticket());
    assert_eq!(
        client()
            .get(format!("{origin}/tickets/999"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(sb.base_url(), format!("{origin}/api/v3"));
    sb.shutdown().await;
}

/// Live-tenant mode answers in the shapes live tenants send.
#[tokio::test]
async fn live_tenant_mode_answers_in_live_shapes() {
    let config = SandboxConfig {
        behaviour: Behaviour::live_tenant(ContactSearch::SearchOptions),
        ..SandboxConfig::default()
    };
    let sb = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let customer = sb.add_customer("Contoso");
    let bob = sb.add_contact(customer, "Bob", "Builder", "bob@contoso.com");
    sb.add_archived_contact(customer, "Old", "Gone", "old@contoso.com");
    let ticket = sb.add_ticket(bob, "Printer", "<p>jammed</p>");
    sb.add_technician_comment(ticket, "Sam Tech", "On my way", false);

    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(has_null),
            Value::Object(o) => o.values().any(has_null),
            _ => false,
        }
    }
    let (_, comments) = get(&sb, &format!("/tickets/{ticket}/comments")).await;
    assert!(
        !has_null(&comments),
        "null fields are left out: {comments:#}"
    );
    assert_eq!(
        comments["items"][1]["EndUserID"], 0,
        "a technician's comment: EndUserID 0"
    );
    assert!(
        comments["prevLink"].as_str().unwrap().ends_with("page=0"),
        "{comments:#}"
    );
    // Only `searchOptions.email` filters; archived contacts are not listed.
    let (_, by_email) = get(&sb, "/contacts?Email=bob@contoso.com").await;
    assert_eq!(
        by_email["items"].as_array().unwrap().len(),
        1,
        "`Email` is ignored: all listed contacts"
    );
    let (_, by_option) = get(&sb, "/contacts?searchOptions.email=old@contoso.com").await;
    assert_eq!(
        by_option["items"].as_array().unwrap().len(),
        0,
        "the archived contact is not listed"
    );
    // Its e-mail is taken all the same.
    let (status, _) = post(
        &sb,
        "/contacts",
        &json!({"Email": "old@contoso.com", "CustomerID": customer, "Firstname": "A", "Lastname": "B"}),
    )
    .await;
    assert_eq!(status, 409);
    // A comment is created with 201 and no body.
    let response = client()
        .post(format!("{}/tickets/{ticket}/comments", sb.base_url()))
        .header("X-API-KEY", KEY)
        .json(&json!({"CommentText": "thanks", "EnduserCommentDetails": {"EnduserId": bob}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.bytes().await.unwrap().is_empty());
}
