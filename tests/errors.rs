//! One test per way a call to Atera can fail, each made to happen for real on 127.0.0.1 (the
//! sandbox with an injected fault, or a bare socket for answers the sandbox cannot give). Each
//! asserts the error class, whether trying again can help (and whether the request may have been
//! processed anyway), that the message says what to do, and that no message shows the API key.

use std::io;
use std::time::{Duration, Instant};

use helpdesk_core::atera::models::CreateTicket;
use helpdesk_core::atera::{AteraClient, AteraError, Timeouts};
use helpdesk_core::sandbox::{Fault, Sandbox, SandboxConfig};
use helpdesk_core::secrets::ApiKey;
use helpdesk_core::settings::AuthMode;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::Url;

/// The sandbox's key: distinctive, so a leak into any message is unmistakable.
const SECRET: &str = "atera-key-MUST-NOT-LEAK-7f3a9c1e";

async fn sandbox() -> Sandbox {
    let config = SandboxConfig {
        api_keys: vec![SECRET.into()],
        ..SandboxConfig::default()
    };
    Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox starts")
}

fn client_with(base: &str, key: &str, request: Duration) -> AteraClient {
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request,
    };
    AteraClient::new(
        Url::parse(base).unwrap(),
        &ApiKey::new(key).unwrap(),
        AuthMode::Auto,
        timeouts,
    )
    .unwrap()
}

/// A client holding [`SECRET`] with short timeouts.
fn client(base: &str) -> AteraClient {
    client_with(base, SECRET, Duration::from_secs(2))
}

/// Asserts that the admin message says `hint`, and that neither it, the `Debug` form nor the end
/// user's message shows `key`.
fn assert_explained(err: &AteraError, hint: &str, key: &str) {
    let shown = err.to_string();
    assert!(shown.contains(hint), "{shown:?} should say {hint:?}");
    assert!(!err.user_message().trim().is_empty());
    for text in [
        shown,
        format!("{err:?}"),
        format!("{err:#?}"),
        err.user_message(),
    ] {
        assert!(!text.contains(key), "the key leaked: {text}");
    }
}

fn ticket(end_user_id: i64) -> CreateTicket {
    CreateTicket {
        title: "Outlook crashes".into(),
        description: "<p>Outlook crashes when I open the calendar.</p>".into(),
        priority: "High".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        ticket_type: "Problem".into(),
        end_user_id: Some(end_user_id),
        ..Default::default()
    }
}

/// A sandbox holding one contact, and that contact's EndUserID.
async fn sandbox_with_contact() -> (Sandbox, i64) {
    let sandbox = sandbox().await;
    let customer = sandbox.add_customer("Contoso Ltd");
    let bob = sandbox.add_contact(customer, "Bob", "Builder", "bob@contoso.com");
    (sandbox, bob)
}

/// A bare HTTP/1.1 server on 127.0.0.1 that answers every request with the same fixed response
/// (`Connection: close`). Returns its `/api/v3/` base URL and the request line of each request it
/// answered. It lives as long as the test's runtime.
async fn raw_server(
    status: &str,
    content_type: &str,
    body: &str,
) -> (String, mpsc::UnboundedReceiver<String>) {
    raw_server_with(format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await
}

/// [`raw_server`] answering with exactly `response` (head and body).
async fn raw_server_with(response: String) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (response, seen) = (response.clone(), seen.clone());
            tokio::spawn(async move {
                // These requests are GETs without a body: the head is the whole request.
                let Ok(head) = read_head(&stream).await else {
                    return;
                };
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                let _ = seen.send(String::from_utf8_lossy(line).into_owned());
                let _ = write_all(&stream, response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/api/v3/"), requests)
}

/// Reads up to and including the blank line that ends a request head.
async fn read_head(stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0_u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        stream.readable().await?;
        match stream.try_read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_rejected_key_is_unauthorized_and_not_retried() {
    let sandbox = sandbox().await;
    let wrong = "wrong-key-MUST-NOT-LEAK-0b5d2e";
    let err = client_with(&sandbox.base_url(), wrong, Duration::from_secs(2))
        .account()
        .await
        .unwrap_err();
    let AteraError::Unauthorized {
        status: 401,
        detail: Some(detail),
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        detail.contains("invalid API key"),
        "Atera's reason is kept: {detail}"
    );
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "copy the key again from Atera (Admin > API)", wrong);

    sandbox.inject_fault(Fault::Status {
        method: "GET",
        path_prefix: "/account",
        status: 403,
        retry_after: None,
    });
    let err = client(&sandbox.base_url()).account().await.unwrap_err();
    assert!(
        matches!(err, AteraError::Unauthorized { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "copy the key again", SECRET);
}

#[tokio::test]
async fn an_unknown_host_is_host_not_found() {
    let err = client("https://does-not-exist.invalid/api/v3/")
        .account()
        .await
        .unwrap_err();
    let AteraError::HostNotFound { host, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, "does-not-exist.invalid");
    assert!(err.is_retryable(), "the network may come back");
    assert!(!err.is_ambiguous(), "nothing was sent");
    assert_explained(&err, "Check the endpoint setting", SECRET);
}

#[tokio::test]
async fn a_web_page_or_an_html_404_is_not_atera() {
    let sandbox = sandbox().await;
    sandbox.inject_fault(Fault::Html {
        method: "GET",
        path_prefix: "/account",
    });
    let err = client(&sandbox.base_url()).account().await.unwrap_err();
    let AteraError::NotAtera { endpoint, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(endpoint, "127.0.0.1");
    assert!(reason.contains("web page"), "{reason}");
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(
        &err,
        "Check the endpoint setting (usually app.atera.com)",
        SECRET,
    );

    let page = "<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>";
    let (base, mut requests) = raw_server("404 Not Found", "text/html; charset=utf-8", page).await;
    let err = client(&base).account().await.unwrap_err();
    let AteraError::NotAtera { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("/api/v3/account does not exist there (HTTP 404)"),
        "{reason}"
    );
    assert!(!err.is_retryable());
    assert_explained(&err, "Check the endpoint setting", SECRET);
    assert!(requests
        .recv()
        .await
        .unwrap()
        .starts_with("GET /api/v3/account"));
}

#[tokio::test]
async fn tls_to_a_plain_http_port_is_a_tls_error() {
    let sandbox = sandbox().await;
    let base = format!("https://127.0.0.1:{}/api/v3/", sandbox.addr().port());
    let err = client(&base).account().await.unwrap_err();
    let AteraError::Tls { host, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, "127.0.0.1");
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(
        &err,
        "A proxy or antivirus may be intercepting HTTPS",
        SECRET,
    );
}

#[tokio::test]
async fn no_answer_in_time_is_an_ambiguous_timeout() {
    let (sandbox, bob) = sandbox_with_contact().await;
    let hang = Duration::from_secs(5);
    sandbox.inject_fault(Fault::DoThenHang {
        method: "GET",
        path_prefix: "/account",
        hang,
    });
    sandbox.inject_fault(Fault::DoThenHang {
        method: "POST",
        path_prefix: "/tickets",
        hang,
    });
    let client = client_with(&sandbox.base_url(), SECRET, Duration::from_secs(1));
    let new = ticket(bob);
    let started = Instant::now();
    let (account, created) = tokio::join!(client.account(), client.create_ticket(&new));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for err in [account.unwrap_err(), created.unwrap_err()] {
        assert_eq!(err, AteraError::Timeout(Duration::from_secs(1)));
        assert!(err.is_retryable() && err.is_ambiguous());
        assert_explained(
            &err,
            "the request may or may not have been processed",
            SECRET,
        );
    }
    assert_eq!(
        sandbox.tickets().len(),
        1,
        "the ticket was created although no answer came: hence ambiguous"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_lost_retryable_and_ambiguous() {
    let (sandbox, bob) = sandbox_with_contact().await;
    sandbox.inject_fault(Fault::DropConnection {
        method: "POST",
        path_prefix: "/tickets",
    });
    let err = client(&sandbox.base_url())
        .create_ticket(&ticket(bob))
        .await
        .unwrap_err();
    assert!(matches!(err, AteraError::ConnectionLost(_)), "{err:?}");
    assert!(
        err.is_retryable() && err.is_ambiguous(),
        "a create must look for what it created before trying again"
    );
    assert_explained(
        &err,
        "the request may or may not have been processed",
        SECRET,
    );
    let posts: Vec<u16> = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, [0], "sent once, dropped, not retried by the client");
    assert!(sandbox.tickets().is_empty());
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_asked_wait() {
    let sandbox = sandbox().await;
    sandbox.inject_fault(Fault::Status {
        method: "GET",
        path_prefix: "/account",
        status: 429,
        retry_after: Some(7),
    });
    let err = client(&sandbox.base_url()).account().await.unwrap_err();
    assert_eq!(
        err,
        AteraError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "it asked us to wait 7 s", SECRET);
}

#[tokio::test]
async fn a_400_is_validation_with_ateras_reason() {
    let (sandbox, _bob) = sandbox_with_contact().await;
    let client = client(&sandbox.base_url());
    sandbox.inject_fault(Fault::Status {
        method: "POST",
        path_prefix: "/tickets",
        status: 400,
        retry_after: None,
    });
    let err = client.create_ticket(&ticket(1)).await.unwrap_err();
    let AteraError::Validation { detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        detail,
        "Injected by the sandbox: the request was not processed."
    );
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(
        &err,
        "Atera refused the request (HTTP 400): Injected by the sandbox",
        SECRET,
    );

    // The sandbox's own check: an EndUserID that is no contact.
    let err = client.create_ticket(&ticket(999_999)).await.unwrap_err();
    let AteraError::Validation { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(
        detail.contains("EndUserID: no contact with id 999999"),
        "{detail}"
    );
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "EndUserID: no contact with id 999999", SECRET);
    assert!(
        err.user_message()
            .contains("EndUserID: no contact with id 999999"),
        "{}",
        err.user_message()
    );
    assert!(sandbox.tickets().is_empty());
}

#[tokio::test]
async fn a_503_is_a_retryable_server_error() {
    let sandbox = sandbox().await;
    sandbox.inject_fault(Fault::Status {
        method: "GET",
        path_prefix: "/account",
        status: 503,
        retry_after: None,
    });
    let err = client(&sandbox.base_url()).account().await.unwrap_err();
    let AteraError::Server {
        status: 503,
        detail: Some(detail),
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(detail.contains("not processed"), "{detail}");
    assert!(err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "It is usually temporary.", SECRET);
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_a_decode_error_naming_the_field() {
    let (base, mut requests) =
        raw_server("200 OK", "application/json", r#"{"AccountID": 5}"#).await;
    let err = client(&base).account().await.unwrap_err();
    let AteraError::Decode { path, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, "AccountID");
    assert!(message.contains("expected a string"), "{message}");
    assert!(!err.is_retryable() && !err.is_ambiguous());
    assert_explained(&err, "could not be read at `AccountID`", SECRET);
    assert!(err.user_message().contains("call your IT support"));
    assert!(requests
        .recv()
        .await
        .unwrap()
        .starts_with("GET /api/v3/account"));

    let (base, mut requests) = raw_server(
        "200 OK",
        "application/json",
        r#"{"items":[{"EndUserID":"x"}]}"#,
    )
    .await;
    let err = client(&base)
        .find_contacts_by_email("bob@contoso.com")
        .await
        .unwrap_err();
    let AteraError::Decode { path, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, "items[0].EndUserID");
    assert_explained(&err, "could not be read at `items[0].EndUserID`", SECRET);
    assert!(requests
        .recv()
        .await
        .unwrap()
        .starts_with("GET /api/v3/contacts?"));
}

#[tokio::test]
async fn the_key_travels_only_in_a_header_never_in_the_url() {
    let (sandbox, bob) = sandbox_with_contact().await;
    let client = client(&sandbox.base_url());
    client.account().await.unwrap();
    client
        .find_contacts_by_email("bob@contoso.com")
        .await
        .unwrap();
    client.agents_by_machine("RECEPTION-PC").await.unwrap();
    let ticket_id = client.create_ticket(&ticket(bob)).await.unwrap();
    client.comments(ticket_id).await.unwrap();
    client.tickets(1, 20).await.unwrap();
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 6);
    for r in &requests {
        assert!(
            !r.path.contains(SECRET) && !r.query.contains(SECRET),
            "{r:?}"
        );
        assert!(!r.body.contains(SECRET), "{r:?}");
        let key_headers: Vec<&str> = r
            .headers
            .iter()
            .filter(|(_, v)| v.contains(SECRET))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(key_headers, ["x-api-key"], "{r:?}");
    }
}

/// A redirect is never followed: the key would go wherever it points. The error names the
/// target, and the target receives nothing.
#[tokio::test]
async fn a_redirect_is_an_error_naming_where_it_pointed_and_is_never_followed() {
    let (elsewhere, mut reached) = raw_server("200 OK", "application/json", "{}").await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let target = format!("{elsewhere}account");
        let (base, mut requests) = raw_server_with(format!(
            "HTTP/1.1 {status}\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
        .await;
        let err = client(&base).account().await.unwrap_err();
        let AteraError::Redirected {
            location,
            status: code,
            ..
        } = &err
        else {
            panic!("{status}: {err:?}")
        };
        assert_eq!(location, &target);
        assert_eq!(code.to_string(), status[..3]);
        assert!(!err.is_retryable(), "a redirect does not go away by itself");
        assert_explained(&err, "does not follow redirects", SECRET);
        assert!(err.to_string().contains(&target), "{err}");
        assert!(requests.recv().await.is_some());
        assert!(
            reached.try_recv().is_err(),
            "{status}: the redirect was followed"
        );
    }
    // A Location made to flood a log is cut short and made printable.
    let long = format!("http://127.0.0.1:9/{}", "a".repeat(10_000));
    let (base, _requests) = raw_server_with(format!(
        "HTTP/1.1 302 Found\r\nLocation: {long}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ))
    .await;
    let err = client(&base).account().await.unwrap_err();
    assert!(
        err.to_string().len() < 700,
        "{} bytes",
        err.to_string().len()
    );
}

/// An answer larger than the cap is refused, whether it declares its length or not; reading
/// stops at the cap.
#[tokio::test]
async fn an_oversized_answer_is_refused_at_the_cap() {
    let huge = "x".repeat(helpdesk_core::atera::client::MAX_BODY_BYTES + 1);
    let (declared, _r1) = raw_server("200 OK", "application/json", &huge).await;
    let (undeclared, _r2) = raw_server_with(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{huge}"
    ))
    .await;
    for base in [declared, undeclared] {
        let err = client_with(&base, SECRET, Duration::from_secs(20))
            .account()
            .await
            .unwrap_err();
        assert!(matches!(err, AteraError::TooLarge { .. }), "{err:?}");
        assert!(err.is_ambiguous(), "a create may have been processed");
        assert_explained(&err, "larger than", SECRET);
    }
}

/// Errors named for what they are: Atera's own 404 ("Invalid input" for a rejected comment, a
/// missing ticket) is "not found", not "this is not Atera"; a firewall's HTML 403 page is
/// "blocked before it reached Atera", not "the key was rejected"; a 401 with an empty body is
/// the key.
#[tokio::test]
async fn a_404_from_atera_is_not_found_and_a_firewall_page_is_blocked() {
    for (content_type, body) in [
        ("text/plain", "Invalid input"),
        ("application/json", "\"Invalid input\""),
    ] {
        let (base, _r) = raw_server("404 Not Found", content_type, body).await;
        let err = client(&base).ticket(70001).await.unwrap_err();
        let AteraError::NotFound { what } = &err else {
            panic!("{content_type}: {err:?}")
        };
        assert!(
            what.contains("tickets/70001") && what.contains("Invalid input"),
            "{what}"
        );
        assert!(!err.is_retryable());
        assert_explained(&err, "could not find", SECRET);
    }
    let page = "<html><head><title>Attention Required! | Cloudflare</title></head><body>blocked</body></html>";
    let (base, _r) = raw_server("403 Forbidden", "text/html", page).await;
    let err = client(&base).account().await.unwrap_err();
    assert!(
        matches!(err, AteraError::Blocked { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_explained(&err, "blocked before it reached Atera's API", SECRET);
    assert!(!err.to_string().contains("rejected the API key"), "{err}");
    let (base, _r) = raw_server("401 Unauthorized", "text/plain", "").await;
    let err = client(&base).account().await.unwrap_err();
    assert!(
        matches!(err, AteraError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
}
