//! The sandbox's human pages (no authentication): the ticket list at `/`, one ticket the way a
//! technician sees it at `/tickets/{id}`, all tickets as JSON at `/tickets.json`, and the HTML
//! that [`Fault::Html`](super::Fault::Html) answers with.
//!
//! Every stored string is escaped with [`crate::html::escape`]; a ticket's Description (HTML made
//! by the app) is shown only inside `<iframe sandbox srcdoc>`, so scripts in it never run.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::store::{Store, TicketRecord};
use super::Shared;
use crate::html::escape;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f6f9;color:#1f2933}
header{background:#1b2a4a;color:#fff;padding:12px 24px;display:flex;gap:16px;align-items:baseline}
header a{color:#fff;text-decoration:none;font-weight:600}
header span{opacity:.75;font-size:14px}
main{max-width:1200px;margin:24px auto;padding:0 24px}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:16px;margin:24px 0 8px;color:#52606d;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:6px;overflow:hidden;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid #e4e7eb;font-size:14px;vertical-align:top}
th{background:#eef1f5;font-weight:600}
tr:last-child td{border-bottom:none}
a{color:#1f6feb}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e4e7eb;margin-right:4px}
.Critical{background:#fde2e1;color:#b42318}.High{background:#fff1d6;color:#b54708}
.Medium{background:#fef7c3;color:#854a0e}.Low{background:#e4e7eb;color:#3e4c59}
.Open{background:#dbeafe;color:#1e40af}.Closed,.Resolved{background:#dcfce7;color:#166534}
.fields td:first-child{width:160px;color:#52606d}
iframe{width:100%;height:80vh;min-height:600px;border:1px solid #cbd2d9;border-radius:6px;background:#fff}
.comment{background:#fff;border-radius:6px;padding:10px 14px;margin:8px 0;box-shadow:0 1px 2px #0002}
.comment.internal{background:#fffbea}
.meta{font-size:12px;color:#52606d;margin-bottom:4px}
pre{background:#fff;padding:12px;border-radius:6px;overflow:auto;max-height:70vh;font-size:12px}
.empty{background:#fff;padding:24px;border-radius:6px;color:#52606d}
";

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head>\
         <body><header><a href=\"/\">Atera sandbox</a><span>local stand-in for Atera API v3</span></header>\
         <main>{body}</main></body></html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Answers a request outside `/api/v3`.
pub(crate) fn handle(shared: &Shared, method: &Method, path: &str) -> Response {
    let known = path == "/" || path == "/tickets.json" || path.starts_with("/tickets/");
    if !known {
        return html_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "<h1>Not found</h1><p><a href=\"/\">All tickets</a></p>",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = html_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "<h1>Method not allowed</h1>",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let store = shared.store();
    if path == "/" {
        return list(&store, &shared.origin);
    }
    if path == "/tickets.json" {
        let all: Vec<Value> = store
            .tickets
            .iter()
            .map(|t| ticket_json(&t.ticket))
            .collect();
        let mut response = (StatusCode::OK, Value::Array(all).to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return response;
    }
    let id = path.trim_start_matches("/tickets/").trim_end_matches('/');
    match id.parse::<i64>().ok().and_then(|id| store.ticket(id)) {
        Some(record) => ticket(&store, record),
        None => html_page(
            StatusCode::NOT_FOUND,
            "Ticket not found",
            "<h1>Ticket not found</h1><p><a href=\"/\">All tickets</a></p>",
        ),
    }
}

/// A stored ticket as JSON, with the Rust field names.
fn ticket_json(t: &super::StoredTicket) -> Value {
    let comments: Vec<Value> = t
        .comments
        .iter()
        .map(|c| {
            json!({"date": c.date, "text": c.text, "is_internal": c.is_internal,
                   "technician": c.technician, "enduser_id": c.enduser_id})
        })
        .collect();
    json!({
        "ticket_id": t.ticket_id, "request_json": t.request_json, "title": t.title,
        "description": t.description, "priority": t.priority, "impact": t.impact,
        "ticket_type": t.ticket_type, "status": t.status, "end_user_id": t.end_user_id,
        "end_user_email": t.end_user_email, "created": t.created, "comments": comments
    })
}

fn requester(store: &Store, record: &TicketRecord) -> String {
    let t = &record.ticket;
    match store.contact(t.end_user_id) {
        Some(c) => {
            let name = format!("{} {}", c.contact.first_name, c.contact.last_name);
            format!(
                "{} &lt;{}&gt;",
                escape(name.trim()),
                escape(&c.contact.email)
            )
        }
        None => escape(&t.end_user_email),
    }
}

fn badge(value: &str) -> String {
    let class: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("<span class=\"badge {class}\">{}</span>", escape(value))
}

fn list(store: &Store, origin: &str) -> Response {
    let mut rows = String::new();
    for record in store.tickets.iter().rev() {
        let t = &record.ticket;
        rows.push_str(&format!(
            "<tr><td><a href=\"/tickets/{id}\">#{id}</a></td><td><a href=\"/tickets/{id}\">{title}</a></td>\
             <td>{requester}</td><td>{priority}</td><td>{ticket_type}</td><td>{impact}</td><td>{status}</td>\
             <td>{created}</td></tr>",
            id = t.ticket_id,
            title = escape(&t.title),
            requester = requester(store, record),
            priority = badge(&t.priority),
            ticket_type = escape(&t.ticket_type),
            impact = escape(&t.impact),
            status = badge(&t.status),
            created = escape(&t.created),
        ));
    }
    let body = if rows.is_empty() {
        format!(
            "<h1>Tickets</h1><div class=\"empty\">No tickets yet. Point the Helpdesk Button at the endpoint \
             <code>{}</code> (plain HTTP) with one of the sandbox's API keys and send one.</div>",
            escape(origin.trim_start_matches("http://"))
        )
    } else {
        format!(
            "<h1>Tickets ({})</h1><table><thead><tr><th>ID</th><th>Title</th><th>Requester</th><th>Priority</th>\
             <th>Type</th><th>Impact</th><th>Status</th><th>Created</th></tr></thead><tbody>{rows}</tbody></table>\
             <p><a href=\"/tickets.json\">All tickets as JSON</a></p>",
            store.tickets.len()
        )
    };
    html_page(StatusCode::OK, "Atera sandbox", &body)
}

fn ticket(store: &Store, record: &TicketRecord) -> Response {
    let t = &record.ticket;
    let customer = store
        .customer(record.customer_id)
        .map(|c| escape(&c.name))
        .unwrap_or_default();
    let fields = [
        ("Requester", requester(store, record)),
        ("End user ID", t.end_user_id.to_string()),
        ("Customer", customer),
        ("Created", escape(&t.created)),
        ("Type", escape(&t.ticket_type)),
        ("Impact", escape(&t.impact)),
        ("Source", "API".to_owned()),
    ];
    let rows: String = fields
        .iter()
        .map(|(k, v)| format!("<tr><td>{k}</td><td>{v}</td></tr>"))
        .collect();
    let mut comments = String::new();
    for c in &t.comments {
        let author = match (&c.technician, c.enduser_id.and_then(|id| store.contact(id))) {
            (Some(tech), _) => format!("Technician {}", escape(tech)),
            (None, Some(contact)) => escape(&contact.contact.email),
            (None, None) => "Unknown".to_owned(),
        };
        let internal = if c.is_internal { " internal" } else { "" };
        let label = if c.is_internal {
            " · internal note"
        } else {
            ""
        };
        comments.push_str(&format!(
            "<div class=\"comment{internal}\"><div class=\"meta\">{author} · {}{label}</div>{}</div>",
            escape(&c.date),
            crate::html::escape_multiline(&c.text)
        ));
    }
    if comments.is_empty() {
        comments.push_str("<p class=\"meta\">No comments.</p>");
    }
    let raw = serde_json::to_string_pretty(&t.request_json)
        .unwrap_or_else(|_| t.request_json.to_string());
    let body = format!(
        "<h1>#{id} {title}</h1><p>{status}{priority}</p><table class=\"fields\">{rows}</table>\
         <h2>Description</h2><iframe sandbox title=\"Ticket description\" srcdoc=\"{srcdoc}\"></iframe>\
         <h2>Comments ({count})</h2>{comments}\
         <h2>Request</h2><details><summary>Raw JSON as POSTed to /api/v3/tickets</summary><pre>{raw}</pre></details>\
         <p><a href=\"/\">&larr; All tickets</a></p>",
        id = t.ticket_id,
        title = escape(&t.title),
        status = badge(&t.status),
        priority = badge(&t.priority),
        srcdoc = escape(&t.description),
        count = t.comments.len(),
        raw = escape(&raw),
    );
    html_page(
        StatusCode::OK,
        &format!("#{} {}", t.ticket_id, t.title),
        &body,
    )
}

/// What [`Fault::Html`](super::Fault::Html) answers: a captive portal's login page, status 200.
pub(crate) fn captive_portal() -> Response {
    let html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Guest Wi-Fi</title></head>\
                <body style=\"font-family:system-ui,sans-serif\"><h1>Welcome to Guest Wi-Fi</h1>\
                <p>Please accept the terms of use to continue.</p><form><button>Accept</button></form></body></html>\n";
    let mut response = (StatusCode::OK, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
