//! A local, strict stand-in for Atera's REST API v3 ("the sandbox").
//!
//! This module owns the sandbox server: an axum app that answers the `/api/v3` endpoints the
//! Helpdesk Button uses (account, customers, contacts, agents by machine name, tickets and ticket
//! comments) with Atera's field names, validates every request body against Atera's own OpenAPI
//! document (embedded from `atera-openapi.json`), records every request, can inject faults
//! (error statuses, dropped connections, hangs, captive-portal HTML), and serves human pages
//! (`/`, `/tickets/{id}`, `/tickets.json`) that show the received tickets the way a technician
//! would see them.
//!
//! Integration tests start it in-process on `127.0.0.1:0`; `helpdesk-button sandbox --port N`
//! starts it for demos.

mod api;
mod conn;
mod page;
mod rules;
mod server;
mod store;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use axum::Router;
use tokio::sync::watch;

use conn::{ConnHandle, KillableListener};
use server::connect_addr;
use store::Store;

use crate::clock::{Clock, SystemClock};

pub use validate::validate_request_body;

/// How long [`Sandbox::shutdown`] waits for open connections before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the sandbox is set up.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Accepted API keys: a request is authorised if `X-API-KEY` or `Authorization: Bearer <k>`
    /// equals one of them.
    pub api_keys: Vec<String>,
    /// `CompanyName` answered by `GET /account`.
    pub account_name: String,
    /// How faithfully it plays the real Atera's unfriendly side (list lag, order).
    pub behaviour: Behaviour,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            api_keys: vec!["sandbox-key".into()],
            account_name: "Sandbox MSP".into(),
            behaviour: Behaviour::default(),
        }
    }
}

/// The order of `GET /tickets` and `GET /tickets/lastmodified`. Atera documents none for the
/// first, and no direction for the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    /// Newest first (the friendly default).
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// A stable order unrelated to time or id: a new ticket lands anywhere in the list.
    Scrambled,
}

/// Which name of the contact search's e-mail filter the sandbox honours. Atera's docs name it
/// `Email` (2026) and `searchOptions.email` (the older generation); tenants differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSearch {
    /// `Email` only.
    Email,
    /// `searchOptions.email` only.
    SearchOptions,
    /// Neither: every contact comes back, as from a server that ignores the filter.
    Ignored,
}

/// What the sandbox does the way real Atera does and the spec does not say. The default is the
/// friendly model (no lag, newest first); [`Behaviour::unfriendly`] is what a client must survive.
#[derive(Clone)]
pub struct Behaviour {
    /// How long a new ticket stays out of the list endpoints (it can be fetched by id at once).
    /// Atera's lists can lag up to 30 s.
    pub list_lag: Duration,
    /// The order of the ticket lists.
    pub order: ListOrder,
    /// The clock the lag is measured on (tests share a [`crate::clock::ManualClock`] with the
    /// outbox).
    pub clock: Arc<dyn Clock>,
    /// Answer in the shapes live tenants send rather than the spec's: null fields left out,
    /// timestamps with 7 or no fractional digits and no zone (or `Z`), `prevLink` `…page=0` on
    /// page 1, `EndUserID: 0` on technician comments, comment creation answered `201` with an
    /// empty body, and `409 Email already exists` for an e-mail any contact (archived ones too)
    /// holds.
    pub live_tenant: bool,
    /// Which e-mail filter name the contact search honours.
    pub contact_search: ContactSearch,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            list_lag: Duration::ZERO,
            order: ListOrder::NewestFirst,
            clock: Arc::new(SystemClock),
            live_tenant: false,
            contact_search: ContactSearch::Email,
        }
    }
}

impl Behaviour {
    /// Atera at its least helpful: a 30 s list lag and lists in no useful order.
    pub fn unfriendly(clock: Arc<dyn Clock>) -> Self {
        Self {
            list_lag: Duration::from_secs(30),
            order: ListOrder::Scrambled,
            clock,
            ..Self::default()
        }
    }

    /// A live tenant's shapes (see [`Behaviour::live_tenant`]), honouring one contact filter name.
    pub fn live_tenant(contact_search: ContactSearch) -> Self {
        Self {
            live_tenant: true,
            contact_search,
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("list_lag", &self.list_lag)
            .field("order", &self.order)
            .field("live_tenant", &self.live_tenant)
            .field("contact_search", &self.contact_search)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field(
                "api_keys",
                &format_args!("[{} key(s), masked]", self.api_keys.len()),
            )
            .field("account_name", &self.account_name)
            .field("behaviour", &self.behaviour)
            .finish()
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bound socket's address could not be read.
    #[error("cannot read the sandbox's listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The embedded OpenAPI document is not valid JSON.
    #[error("the embedded Atera OpenAPI spec is not valid JSON (line {line}, column {column})")]
    SpecNotJson {
        /// Line of the parse error.
        line: usize,
        /// Column of the parse error.
        column: usize,
    },
    /// The embedded OpenAPI document lacks something the sandbox relies on.
    #[error("the embedded Atera OpenAPI spec lacks {0}")]
    SpecIncomplete(&'static str),
}

/// A fault to inject; each applies once, to the next request whose method and path prefix match.
///
/// `method` is compared case-insensitively (`"*"` matches any method). `path_prefix` is compared
/// with the request path (e.g. `"/api/v3/tickets"`); a prefix that does not start with `/api/`
/// is also tried against the path below `/api/v3` (so `"/tickets"` matches `/api/v3/tickets`).
/// Faults apply before authentication and are recorded like any request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (ProblemDetails body, `Retry-After` if given) without doing the work.
    Status {
        /// Method to match.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: &'static str,
        /// Status to answer (an invalid one becomes 500).
        status: u16,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Close the connection without any response and without doing the work (recorded with
    /// status 0).
    DropConnection {
        /// Method to match.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: &'static str,
    },
    /// Do the work (e.g. create the ticket), then wait `hang` before responding.
    DoThenHang {
        /// Method to match.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: &'static str,
        /// How long to wait before sending the response.
        hang: Duration,
    },
    /// Do the work (e.g. create the ticket), then close the connection without a response: the
    /// answer lost after the commit.
    DoThenDrop {
        /// Method to match.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: &'static str,
    },
    /// Answer 200 with an HTML page, as a captive portal would, without doing the work.
    Html {
        /// Method to match.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: &'static str,
    },
}

impl Fault {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let (m, prefix) = match self {
            Fault::Status {
                method,
                path_prefix,
                ..
            }
            | Fault::DropConnection {
                method,
                path_prefix,
            }
            | Fault::DoThenHang {
                method,
                path_prefix,
                ..
            }
            | Fault::Html {
                method,
                path_prefix,
            }
            | Fault::DoThenDrop {
                method,
                path_prefix,
            } => (*method, *path_prefix),
        };
        let method_ok = m == "*" || m.eq_ignore_ascii_case(method.as_str());
        let below_api = path
            .strip_prefix("/api/v3")
            .filter(|_| !prefix.starts_with("/api/"));
        method_ok
            && (path.starts_with(prefix) || below_api.is_some_and(|rest| rest.starts_with(prefix)))
    }
}

/// A ticket created through `POST /api/v3/tickets`.
#[derive(Debug, Clone)]
pub struct StoredTicket {
    /// TicketID.
    pub ticket_id: i64,
    /// Exactly what was POSTed.
    pub request_json: serde_json::Value,
    /// TicketTitle.
    pub title: String,
    /// Description (HTML, as sent).
    pub description: String,
    /// TicketPriority (default `Low`).
    pub priority: String,
    /// TicketImpact (default `NoImpact`).
    pub impact: String,
    /// TicketType (default `Problem`).
    pub ticket_type: String,
    /// TicketStatus (default `Open`).
    pub status: String,
    /// EndUserID of the requester (created from EndUserEmail etc. when not given).
    pub end_user_id: i64,
    /// The requester's email.
    pub end_user_email: String,
    /// Creation time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    /// Comments posted to the ticket, oldest first (the description is not among them).
    pub comments: Vec<StoredComment>,
}

/// A comment posted through `POST /api/v3/tickets/{id}/comments`.
#[derive(Debug, Clone)]
pub struct StoredComment {
    /// CommentTimestampUTC, or when it was received.
    pub date: String,
    /// CommentText.
    pub text: String,
    /// TechnicianCommentDetails.IsInternal (false for end-user comments).
    pub is_internal: bool,
    /// The technician's email, or `Technician #<id>`, for technician comments.
    pub technician: Option<String>,
    /// EnduserCommentDetails.EnduserId, for end-user comments.
    pub enduser_id: Option<i64>,
}

/// A contact (Atera "end user").
#[derive(Debug, Clone)]
pub struct StoredContact {
    /// EndUserID.
    pub end_user_id: i64,
    /// CustomerID it belongs to.
    pub customer_id: i64,
    /// Firstname.
    pub first_name: String,
    /// Lastname.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: Option<String>,
}

/// One request the sandbox received.
#[derive(Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string (empty if none).
    pub query: String,
    /// Headers, names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8).
    pub body: String,
    /// Status answered; 0 when the connection was dropped without a response.
    pub status: u16,
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| match k.as_str() {
                "x-api-key" | "authorization" | "cookie" => (k.as_str(), "***"),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("status", &self.status)
            .finish()
    }
}

/// State shared by the server and the [`Sandbox`] handle.
pub(crate) struct Shared {
    config: SandboxConfig,
    /// `http://HOST:PORT`, for paging links.
    origin: String,
    store: Mutex<Store>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Handle to a running sandbox server. Dropping it stops the server too.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Checks that the embedded spec parses and has what the sandbox uses.
fn check_spec() -> Result<(), SandboxError> {
    validate::spec().map_err(|(line, column)| SandboxError::SpecNotJson { line, column })?;
    let operations = [
        (
            "/api/v3/tickets",
            "the request schema of POST /api/v3/tickets",
        ),
        (
            "/api/v3/contacts",
            "the request schema of POST /api/v3/contacts",
        ),
        (
            "/api/v3/tickets/{ticketId}/comments",
            "the request schema of POST /api/v3/tickets/{ticketId}/comments",
        ),
    ];
    for (path, what) in operations {
        validate::request_schema("post", path)
            .and_then(validate::schema)
            .ok_or(SandboxError::SpecIncomplete(what))?;
    }
    for name in [
        "TicketPriorityOptions",
        "TicketsImpactOptions",
        "TicketTypesForAPI",
    ] {
        if validate::enum_values(name).is_empty() {
            return Err(SandboxError::SpecIncomplete(
                "the ticket enums (priority, impact, type)",
            ));
        }
    }
    Ok(())
}

impl Sandbox {
    /// Binds `addr` (port 0 picks a free port) and serves the sandbox on the current tokio runtime.
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> Result<Sandbox, SandboxError> {
        check_spec()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let bound = listener.local_addr().map_err(SandboxError::LocalAddr)?;
        let (stop, shutdown) = watch::channel(false);
        let mut store = Store::default();
        store.behaviour = config.behaviour.clone();
        let shared = Arc::new(Shared {
            config,
            origin: format!("http://{}", connect_addr(bound)),
            store: Mutex::new(store),
            shutdown: shutdown.clone(),
        });
        let app = Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let mut signal = shutdown;
        let server = axum::serve(
            KillableListener(listener),
            app.into_make_service_with_connect_info::<ConnHandle>(),
        )
        .with_graceful_shutdown(async move {
            // An error means the handle is gone, which also means: stop.
            let _ = signal.wait_for(|stop| *stop).await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::warn!(%error, "sandbox server stopped with an error");
            }
        });
        tracing::info!(addr = %bound, "Atera sandbox listening");
        Ok(Sandbox {
            addr: bound,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: what the app stores as its Atera endpoint.
    pub fn endpoint(&self) -> String {
        connect_addr(self.addr).to_string()
    }

    /// `http://127.0.0.1:PORT/api/v3`.
    pub fn base_url(&self) -> String {
        format!("{}/api/v3", self.shared.origin)
    }

    /// Every ticket successfully created, in order.
    pub fn tickets(&self) -> Vec<StoredTicket> {
        self.shared
            .store()
            .tickets
            .iter()
            .map(|t| t.ticket.clone())
            .collect()
    }

    /// Every contact, in order of creation.
    pub fn contacts(&self) -> Vec<StoredContact> {
        self.shared
            .store()
            .contacts
            .iter()
            .map(|c| c.contact.clone())
            .collect()
    }

    /// Every request received, in the order they were answered.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.store().requests.clone()
    }

    /// Adds a customer; returns its CustomerID.
    pub fn add_customer(&self, name: &str) -> i64 {
        self.shared.store().add_customer(name)
    }

    /// Adds a contact to a customer; returns its EndUserID.
    pub fn add_contact(&self, customer_id: i64, first: &str, last: &str, email: &str) -> i64 {
        self.shared
            .store()
            .add_contact(customer_id, first, last, email, None)
    }

    /// Adds an archived contact: searches leave it out, but its e-mail stays taken (in live
    /// tenant mode, creating a contact with it answers 409). Returns its EndUserID.
    pub fn add_archived_contact(
        &self,
        customer_id: i64,
        first: &str,
        last: &str,
        email: &str,
    ) -> i64 {
        let mut store = self.shared.store();
        let id = store.add_contact(customer_id, first, last, email, None);
        if let Some(c) = store
            .contacts
            .iter_mut()
            .find(|c| c.contact.end_user_id == id)
        {
            c.archived = true;
        }
        id
    }

    /// Adds an agent (a managed machine); `last_seen` should be an ISO 8601 date-time. Returns
    /// its AgentID.
    pub fn add_agent(
        &self,
        customer_id: i64,
        machine_name: &str,
        mac: Option<&str>,
        last_seen: &str,
    ) -> i64 {
        self.shared
            .store()
            .add_agent(customer_id, machine_name, mac, last_seen)
    }

    /// Adds a ticket as another source would (e-mail, a technician, another PC), for the
    /// requester `end_user_id` (which must exist); returns its TicketID.
    pub fn add_ticket(&self, end_user_id: i64, title: &str, description: &str) -> i64 {
        let mut store = self.shared.store();
        let request_json = serde_json::json!({
            "TicketTitle": title, "Description": description, "EndUserID": end_user_id
        });
        store.add_ticket(store::NewTicket {
            request_json,
            title: title.to_string(),
            description: description.to_string(),
            priority: "Low".into(),
            impact: "NoImpact".into(),
            ticket_type: "Problem".into(),
            status: "Open".into(),
            end_user_id,
        })
    }

    /// Moves every ticket's last modification `seconds` into the past, as if what happened to
    /// them happened that long ago (tests of windows and cursors without waiting).
    pub fn backdate(&self, seconds: i64) {
        for record in &mut self.shared.store().tickets {
            record.modified -= time::Duration::seconds(seconds);
        }
    }

    /// Plays the technician: sets a ticket's status. Returns false for an unknown ticket.
    pub fn set_ticket_status(&self, ticket_id: i64, status: &str) -> bool {
        let mut store = self.shared.store();
        let Some(record) = store
            .tickets
            .iter_mut()
            .find(|t| t.ticket.ticket_id == ticket_id)
        else {
            return false;
        };
        record.ticket.status = status.to_string();
        record.modified = time::OffsetDateTime::now_utc();
        true
    }

    /// Plays the technician: adds a public reply (or an internal note) to a ticket. Returns
    /// false for an unknown ticket.
    pub fn add_technician_comment(
        &self,
        ticket_id: i64,
        technician: &str,
        text: &str,
        internal: bool,
    ) -> bool {
        let comment = StoredComment {
            date: store::now(),
            text: text.to_string(),
            is_internal: internal,
            technician: Some(technician.to_string()),
            enduser_id: None,
        };
        self.shared
            .store()
            .add_comment(ticket_id, comment, Some(1))
            .is_some()
    }

    /// Queues a fault for the next matching request (faults are taken first-in, first-out).
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.store().faults.push_back(fault);
    }

    /// Stops the server: ends hanging responses, waits briefly for open connections, then
    /// abandons them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
