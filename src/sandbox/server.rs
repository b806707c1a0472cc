//! The sandbox's HTTP side: one axum handler that takes injected faults, records every request,
//! and hands it to the API (`/api/v3`) or to the human pages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::conn::ConnHandle;
use super::{api, page, Fault, RecordedRequest, Shared};

/// The largest request body the sandbox reads (tickets carry inline screenshots).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The address a client on this machine connects to: loopback when bound to "any".
pub(crate) fn connect_addr(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bound.port())
        }
        _ => bound,
    }
}

/// Percent-decodes one path segment (invalid escapes are kept as they are).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The one handler: faults, recording, then the API or a human page.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let conn = parts
        .extensions
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let (bytes, too_large) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => (bytes, false),
        Err(_) => (Default::default(), true),
    };
    let fault = {
        let mut store = shared.store();
        let at = store.faults.iter().position(|f| f.matches(&method, &path));
        at.and_then(|i| store.faults.remove(i))
    };
    let mut hang = None;
    let response = match fault {
        Some(Fault::Status {
            status,
            retry_after,
            ..
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut problem = api::Problem::new(
                status,
                "Injected by the sandbox: the request was not processed.",
            );
            if let Some(seconds) = retry_after {
                problem
                    .headers
                    .push((header::RETRY_AFTER, seconds.to_string()));
            }
            problem.into_response()
        }
        Some(Fault::DropConnection { .. }) => {
            match &conn {
                Some(conn) => conn.kill(),
                None => tracing::warn!("sandbox cannot drop a connection it has no handle for"),
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(Fault::Html { .. }) => page::captive_portal(),
        other => {
            if let Some(Fault::DoThenHang { hang: h, .. }) = other {
                hang = Some(h);
            }
            let drop_after = matches!(other, Some(Fault::DoThenDrop { .. }));
            if too_large {
                api::Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request bodies are limited to {MAX_BODY_BYTES} bytes."),
                )
                .into_response()
            } else {
                let response = route(&shared, &method, &path, &query, &parts.headers, &bytes);
                if drop_after {
                    match &conn {
                        Some(conn) => conn.kill(),
                        None => {
                            tracing::warn!("sandbox cannot drop a connection it has no handle for")
                        }
                    }
                }
                response
            }
        }
    };
    let status = if conn.as_ref().is_some_and(ConnHandle::is_killed) {
        0
    } else {
        response.status().as_u16()
    };
    shared.store().requests.push(RecordedRequest {
        method: method.to_string(),
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        status,
    });
    if let Some(hang) = hang {
        let mut shutdown = shared.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(hang) => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
    response
}

/// Sends a request to the API (below `/api/v3`) or to a human page.
fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Some(rest) = path
        .strip_prefix("/api/v3")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<String> = rest.split('/').skip(1).map(percent_decode).collect();
        return api::handle(shared, method, &segments, query, headers, body);
    }
    if method == Method::POST {
        if let Some(id) = path
            .strip_prefix("/tickets/")
            .and_then(|r| r.strip_suffix("/technician"))
            .and_then(|id| id.parse::<i64>().ok())
        {
            return technician(shared, id, body);
        }
    }
    page::handle(shared, method, path)
}

/// `POST /tickets/{id}/technician` with `{"status": "...", "reply": "...", "internal": false,
/// "technician": "Sam Tech"}` (all optional): plays the technician, for demos and the
/// end-to-end tests of "My tickets". Not part of Atera's API.
fn technician(shared: &Shared, ticket_id: i64, body: &[u8]) -> Response {
    use axum::response::IntoResponse as _;
    let Ok(action) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "send JSON like {\"status\": \"Pending\", \"reply\": \"On my way\"}",
        )
            .into_response();
    };
    let mut store = shared.store();
    if store.ticket(ticket_id).is_none() {
        return (axum::http::StatusCode::NOT_FOUND, "no such ticket").into_response();
    }
    if let Some(status) = action.get("status").and_then(|v| v.as_str()) {
        if let Some(record) = store
            .tickets
            .iter_mut()
            .find(|t| t.ticket.ticket_id == ticket_id)
        {
            record.ticket.status = status.to_string();
            record.modified = time::OffsetDateTime::now_utc();
        }
    }
    if let Some(text) = action.get("reply").and_then(|v| v.as_str()) {
        let comment = super::StoredComment {
            date: super::store::now(),
            text: text.to_string(),
            is_internal: action
                .get("internal")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            technician: Some(
                action
                    .get("technician")
                    .and_then(|v| v.as_str())
                    .unwrap_or("Sam Tech")
                    .to_string(),
            ),
            enduser_id: None,
        };
        store.add_comment(ticket_id, comment, Some(1));
    }
    axum::http::StatusCode::NO_CONTENT.into_response()
}
