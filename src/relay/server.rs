//! The relay process: the device API over HTTP, and the queue that files every device's tickets
//! in Atera with the core's exactly-once pipeline ([`crate::outbox`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::watch;

use super::protocol::{
    DeviceIdentity, EnrollRequest, Enrolled, ErrorBody, ErrorDetail, PushedSettings, Refusal,
    RelayedState, SubmitRequest, TicketList, TicketStatus, MAX_REQUEST_BYTES, MAX_SUBMIT_WAIT_MS,
};
use super::store::{Store, StoreError};
use crate::atera::AteraClient;
use crate::outbox::{Delivery, DeliveryResult, Destination, EntryState, Outbox, OutboxError};
use crate::settings::Settings;
use crate::submit::{RetryPolicy, RulesConfig};

/// The most tickets `GET /v1/tickets` lists.
const MAX_LISTED: u32 = 200;
/// The longest a reference may be.
const MAX_REFERENCE_CHARS: usize = 64;

/// Everything one relay process serves from.
pub struct RelayState {
    pub store: Store,
    pub queue: Outbox,
    pub atera: AteraClient,
    pub settings: Settings,
    pub rules: Option<RulesConfig>,
    pub options: RelayOptions,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Bumped whenever an entry changes state; submits waiting for their filing watch it.
    changed: watch::Sender<u64>,
    /// Wakes the delivery loop.
    wake: tokio::sync::Notify,
    counters: Mutex<Counters>,
    windows: Mutex<HashMap<String, DeviceWindow>>,
    /// Per device, a counter bumped whenever one of its tickets changes (events).
    device_seq: Mutex<HashMap<String, u64>>,
    /// Wakes the Atera poller (a webhook came in).
    poll_wake: tokio::sync::Notify,
}

/// How the relay behaves, beyond its store and Atera client.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub limits: super::config::Limits,
    /// How often the relay reads Atera's changes for every device's tickets.
    pub poll_every: Duration,
    /// The secret path segment of `POST /v1/atera-webhook/{secret}`; no webhook without it.
    pub webhook_secret: Option<String>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            limits: super::config::Limits::default(),
            poll_every: Duration::from_secs(120),
            webhook_secret: None,
        }
    }
}

impl std::fmt::Debug for RelayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayState")
    }
}

#[derive(Default)]
struct Counters {
    submissions: u64,
    refusals: HashMap<Refusal, u64>,
    deliveries: HashMap<&'static str, u64>,
    delivery_seconds_sum: f64,
    delivery_count: u64,
    polls: u64,
    poll_errors: u64,
    webhooks: u64,
}

/// A device's use of its limits in the current minute and hour.
struct DeviceWindow {
    minute_start: i64,
    requests: u32,
    hour_start: i64,
    submissions: u32,
}

impl RelayState {
    /// A relay over an opened store and queue.
    pub fn new(
        store: Store,
        queue: Outbox,
        atera: AteraClient,
        settings: Settings,
        rules: Option<RulesConfig>,
        options: RelayOptions,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            queue,
            atera,
            settings,
            rules,
            options,
            clock,
            changed: watch::channel(0).0,
            wake: tokio::sync::Notify::new(),
            counters: Mutex::default(),
            windows: Mutex::default(),
            device_seq: Mutex::default(),
            poll_wake: tokio::sync::Notify::new(),
        })
    }

    /// Marks a ticket changed: its device's events answer, and waiting submits look again.
    fn bump(&self, reference: &str) {
        if let Ok(Some(device)) = self.store.owner(reference) {
            *self
                .device_seq
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(device)
                .or_default() += 1;
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn seq_of(&self, device: &str) -> u64 {
        self.device_seq
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device)
            .copied()
            .unwrap_or_default()
    }

    /// One read of Atera's changes for every device's tickets at once (the core's polite
    /// `lastmodified` pass, with its hourly budget): the load on Atera does not grow with the
    /// number of PCs.
    pub async fn poll_once(&self) {
        match self.queue.poll_tickets(&self.atera).await {
            Ok(changes) => {
                self.counters().polls += 1;
                for change in changes {
                    if let Ok(reference) = self.queue.reference_of(change.ticket_id) {
                        self.bump(&reference);
                    }
                }
            }
            Err(e) => {
                self.counters().poll_errors += 1;
                tracing::info!(error = %e, "reading Atera's changes failed; next cycle");
            }
        }
    }

    /// The poller: every `poll_every`, or at once after a webhook.
    pub async fn run_polling(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.options.poll_every) => {}
                () = self.poll_wake.notified() => {}
            }
            self.poll_once().await;
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Files every due entry once, each with its device's customer. Returns when the next one is
    /// due (at most a minute ahead).
    pub async fn deliver_due(&self) -> Duration {
        let idle = Duration::from_secs(60);
        if let Ok(Some(until)) = self.queue.paused_until() {
            return Duration::from_secs((until - self.now()).clamp(1, 3600) as u64);
        }
        let due = match self.queue.due(self.now(), false) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "the relay's queue cannot be read");
                return Duration::from_secs(5);
            }
        };
        for reference in due {
            let customer = match self.store.owner(&reference) {
                Ok(Some(device)) => self.store.customer_of(&device).ok().flatten(),
                _ => None,
            };
            let Some((customer_id, customer_name)) = customer else {
                // Every entry is claimed before it is queued; one without a device is not filed
                // under a guessed customer.
                tracing::error!(
                    reference,
                    "a queued ticket has no enrolled device; it is left for an admin"
                );
                continue;
            };
            let delivery = Delivery {
                destination: Destination::Atera(&self.atera),
                settings: &self.settings,
                rules: self.rules.as_ref(),
                app_version: env!("CARGO_PKG_VERSION"),
                policy: RetryPolicy::default(),
                customer: Some((customer_id, &customer_name)),
            };
            let started = Instant::now();
            let result = self.queue.deliver_one(&reference, &delivery).await;
            let kind = match &result {
                Ok(DeliveryResult::Sent { outcome, .. }) => {
                    let owner = self.store.owner(&reference).ok().flatten();
                    let _ = self.store.audit(
                        self.now(),
                        owner.as_deref(),
                        "filed",
                        Some(&reference),
                        Some(&format!("ticket {}", outcome.ticket_id)),
                    );
                    "sent"
                }
                Ok(DeliveryResult::Retrying { .. }) => "retrying",
                Ok(DeliveryResult::Confirming { .. }) => "confirming",
                Ok(DeliveryResult::Failed { .. }) => "failed",
                Ok(DeliveryResult::Blocked { .. }) => "blocked",
                Err(_) => "error",
            };
            {
                let mut c = self.counters();
                *c.deliveries.entry(kind).or_default() += 1;
                c.delivery_seconds_sum += started.elapsed().as_secs_f64();
                c.delivery_count += 1;
            }
            self.bump(&reference);
            if let Err(e) = &result {
                tracing::error!(reference, error = %e, "the relay's queue failed; delivery stops until the next cycle");
                return Duration::from_secs(5);
            }
            if result.as_ref().is_ok_and(DeliveryResult::rate_limited) {
                break;
            }
        }
        match self.queue.next_due_at() {
            Ok(Some(at)) => Duration::from_secs((at - self.now()).clamp(0, 60) as u64)
                .max(Duration::from_millis(200)),
            _ => idle,
        }
    }

    /// The delivery loop: runs until the process ends.
    pub async fn run_deliveries(self: Arc<Self>) {
        loop {
            let wait = self.deliver_due().await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    fn status(&self, reference: &str) -> Result<Option<TicketStatus>, OutboxError> {
        let Some(entry) = self.queue.entry(reference)? else {
            return Ok(None);
        };
        let (status, last_reply, unread) = self.queue.tracked(reference)?;
        let state = match entry.state {
            EntryState::Sent => RelayedState::Filed,
            EntryState::Failed if entry.blocked => RelayedState::Blocked,
            EntryState::Failed => RelayedState::Failed,
            EntryState::Pending | EntryState::Sending => RelayedState::Queued,
        };
        Ok(Some(TicketStatus {
            reference: entry.reference,
            state,
            subject: entry.subject,
            created_at: entry.created_at,
            ticket_id: entry.ticket_id.filter(|_| state == RelayedState::Filed),
            ticket_number: entry.ticket_number.filter(|_| state == RelayedState::Filed),
            reason: match state {
                RelayedState::Blocked => entry.last_error,
                RelayedState::Failed => Some(
                    "Your IT provider's helpdesk could not file this ticket; they have been told."
                        .into(),
                ),
                _ => None,
            },
            status,
            last_reply,
            unread,
        }))
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        let depth = self.queue.unsent_count().unwrap_or_default();
        let devices = self.store.active_devices().unwrap_or_default();
        let c = self.counters();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in lines {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "helpdesk_relay_queue_depth",
            "gauge",
            "Tickets stored on the relay and not yet filed in Atera.",
            vec![(String::new(), depth.to_string())],
        );
        metric(
            "helpdesk_relay_devices",
            "gauge",
            "Enrolled devices that are not revoked.",
            vec![(String::new(), devices.to_string())],
        );
        metric(
            "helpdesk_relay_submissions_total",
            "counter",
            "Tickets devices handed to the relay (first copies only).",
            vec![(String::new(), c.submissions.to_string())],
        );
        let mut refusals: Vec<_> = c.refusals.iter().collect();
        refusals.sort_by_key(|(code, _)| format!("{code:?}"));
        metric(
            "helpdesk_relay_refusals_total",
            "counter",
            "Requests the relay refused, by code.",
            refusals
                .into_iter()
                .map(|(code, n)| (format!("{{code=\"{}\"}}", code_name(*code)), n.to_string()))
                .collect(),
        );
        let mut deliveries: Vec<_> = c.deliveries.iter().collect();
        deliveries.sort();
        metric(
            "helpdesk_relay_deliveries_total",
            "counter",
            "Delivery attempts to Atera, by result.",
            deliveries
                .into_iter()
                .map(|(k, n)| (format!("{{result=\"{k}\"}}"), n.to_string()))
                .collect(),
        );
        metric(
            "helpdesk_relay_atera_polls_total",
            "counter",
            "Reads of Atera's changes for all devices at once, by result.",
            vec![
                ("{result=\"ok\"}".into(), c.polls.to_string()),
                ("{result=\"error\"}".into(), c.poll_errors.to_string()),
            ],
        );
        metric(
            "helpdesk_relay_webhooks_total",
            "counter",
            "Atera webhooks received at the secret URL.",
            vec![(String::new(), c.webhooks.to_string())],
        );
        metric(
            "helpdesk_relay_atera_delivery_seconds",
            "summary",
            "Time spent filing tickets in Atera (all requests of one delivery).",
            vec![
                ("_sum".into(), format!("{:.3}", c.delivery_seconds_sum)),
                ("_count".into(), c.delivery_count.to_string()),
            ],
        );
        out
    }

    /// Counts one request of `device` or, with `ticket`, one new ticket; refuses past the limits.
    fn spend(&self, device: &str, ticket: bool) -> Result<(), Refusal> {
        let now = self.now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = windows.entry(device.to_string()).or_insert(DeviceWindow {
            minute_start: now,
            requests: 0,
            hour_start: now,
            submissions: 0,
        });
        if now - w.minute_start >= 60 || now < w.minute_start {
            w.minute_start = now;
            w.requests = 0;
        }
        if now - w.hour_start >= 3600 || now < w.hour_start {
            w.hour_start = now;
            w.submissions = 0;
        }
        if ticket {
            if w.submissions >= self.options.limits.submissions_per_hour {
                return Err(Refusal::RateLimited);
            }
            w.submissions += 1;
        } else {
            if w.requests >= self.options.limits.requests_per_minute {
                return Err(Refusal::RateLimited);
            }
            w.requests += 1;
        }
        Ok(())
    }
}

fn code_name(code: Refusal) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A refusal as the device API sends it.
#[derive(Debug)]
pub struct ApiError {
    code: Refusal,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: Refusal, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code,
                    message: self.message,
                },
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = seconds.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

fn refused(state: &RelayState, code: Refusal, message: &str) -> ApiError {
    *state.counters().refusals.entry(code).or_default() += 1;
    let mut e = ApiError::new(code, message);
    if code == Refusal::RateLimited {
        e.retry_after = Some(60);
    }
    e
}

fn store_failed(state: &RelayState, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "the relay's store failed");
    refused(
        state,
        Refusal::Unavailable,
        "the relay's store failed; the device keeps the ticket and retries",
    )
}

fn from_store(state: &RelayState, e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(code) => refused(state, code, refusal_message(code)),
        StoreError::Database(e) => store_failed(state, e),
    }
}

fn refusal_message(code: Refusal) -> &'static str {
    match code {
        Refusal::Unauthenticated => "send the device credential from enrollment as `Authorization: Bearer hbd1...`; re-enroll a device whose credential was lost",
        Refusal::DeviceRevoked => "this device was revoked (`helpdesk-relay devices list` shows when); enroll it again with a new token if that was a mistake",
        Refusal::TokenUnknown => "the enrollment token is not one this relay issued; create one with `helpdesk-relay enroll create`",
        Refusal::TokenExpired => "the enrollment token has expired; create a new one with `helpdesk-relay enroll create`",
        Refusal::TokenUsedUp => "the enrollment token has no uses left; create one with more `--uses`",
        Refusal::ReferenceTaken => "another device already filed a ticket with this reference; send it with a new reference",
        Refusal::NotFound => "this device filed no ticket with that reference",
        Refusal::RateLimited => "this device is over its request or ticket limit; wait a minute",
        _ => "the request was refused",
    }
}

/// The device behind the request's credential, counted against its limits.
fn device(
    state: &RelayState,
    headers: &HeaderMap,
    ticket: bool,
) -> Result<DeviceIdentity, ApiError> {
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            refused(
                state,
                Refusal::Unauthenticated,
                refusal_message(Refusal::Unauthenticated),
            )
        })?;
    let identity = state
        .store
        .authenticate(credential, state.now())
        .map_err(|e| from_store(state, e))?;
    state
        .spend(&identity.device_id, ticket)
        .map_err(|code| refused(state, code, refusal_message(code)))?;
    Ok(identity)
}

async fn parse_json<T: serde::de::DeserializeOwned>(
    state: &RelayState,
    body: Body,
) -> Result<T, ApiError> {
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            refused(
                state,
                Refusal::TooLarge,
                &format!(
                    "requests are limited to {MAX_REQUEST_BYTES} bytes; leave out a screenshot"
                ),
            )
        })?;
    serde_json::from_slice(&body).map_err(|e| {
        refused(
            state,
            Refusal::Invalid,
            &format!("the request body is not valid: {e}"),
        )
    })
}

async fn enroll(
    State(state): State<Arc<RelayState>>,
    body: Body,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    let request: EnrollRequest = parse_json(&state, body).await?;
    let hostname = request.hostname.trim();
    if hostname.is_empty() || hostname.len() > 255 {
        return Err(refused(
            &state,
            Refusal::Invalid,
            "hostname must be 1 to 255 characters",
        ));
    }
    let mac = request
        .mac
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty() && m.len() <= 64);
    // The agent for this hostname, best effort and bounded: enrollment never waits on Atera long.
    let agents = tokio::time::timeout(
        Duration::from_secs(10),
        state.atera.agents_by_machine(hostname),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    let (credential, identity) = state
        .store
        .enroll(
            &request.token,
            hostname,
            mac,
            |customer_id| {
                let own: Vec<_> = agents
                    .iter()
                    .filter(|a| a.customer_id == Some(customer_id))
                    .cloned()
                    .collect();
                crate::submit::best_agent(&own, mac).and_then(|a| a.agent_id)
            },
            state.now(),
        )
        .map_err(|e| from_store(&state, e))?;
    tracing::info!(
        device = identity.device_id,
        customer = identity.customer_id,
        "device enrolled"
    );
    Ok((
        StatusCode::CREATED,
        Json(Enrolled {
            credential,
            identity,
        }),
    ))
}

#[derive(Deserialize)]
struct SubmitQuery {
    #[serde(default)]
    wait_ms: u64,
}

fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= MAX_REFERENCE_CHARS
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn submit(
    State(state): State<Arc<RelayState>>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TicketStatus>, ApiError> {
    let device = device(&state, &headers, false)?;
    let request: SubmitRequest = parse_json(&state, body).await?;
    let mut saved = request.submission;
    // What older app versions stored after matching and the rules is the relay's to decide: a
    // device must not name a contact (another customer's) or skip the rules.
    saved.contact = None;
    saved.values = None;
    saved.append = None;
    if !valid_reference(&saved.reference) {
        return Err(refused(
            &state,
            Refusal::Invalid,
            "the reference must be 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    if let Err(fields) = saved.form.validate(&state.settings) {
        return Err(refused(
            &state,
            Refusal::Invalid,
            &format!("the form is not valid: {fields:?}"),
        ));
    }
    // A resend of a reference this device filed is not another ticket: it does not count.
    let owner = state
        .store
        .owner(&saved.reference)
        .map_err(|e| from_store(&state, e))?;
    if owner.as_deref() != Some(device.device_id.as_str()) {
        state
            .spend(&device.device_id, true)
            .map_err(|code| refused(&state, code, refusal_message(code)))?;
    }
    // Claimed first (idempotent), then queued (INSERT OR IGNORE): a crash between the two leaves a
    // claim the device's retry completes.
    let first = state
        .store
        .claim(&saved.reference, &device.device_id, state.now())
        .map_err(|e| from_store(&state, e))?;
    state
        .queue
        .enqueue(&saved)
        .map_err(|e| store_failed(&state, e))?;
    if first {
        state.counters().submissions += 1;
    }
    state.wake.notify_one();
    let wait = Duration::from_millis(query.wait_ms.min(MAX_SUBMIT_WAIT_MS));
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = state.changed.subscribe();
    loop {
        let status = state
            .status(&saved.reference)
            .map_err(|e| store_failed(&state, e))?
            .ok_or_else(|| store_failed(&state, "a stored ticket is missing"))?;
        if status.state != RelayedState::Queued
            || tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
        {
            return Ok(Json(status));
        }
    }
}

async fn my_tickets(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
) -> Result<Json<TicketList>, ApiError> {
    let device = device(&state, &headers, false)?;
    let references = state
        .store
        .references(&device.device_id, MAX_LISTED)
        .map_err(|e| from_store(&state, e))?;
    let mut tickets = Vec::with_capacity(references.len());
    for reference in references {
        if let Some(status) = state
            .status(&reference)
            .map_err(|e| store_failed(&state, e))?
        {
            tickets.push(status);
        }
    }
    Ok(Json(TicketList { tickets }))
}

async fn one_ticket(
    State(state): State<Arc<RelayState>>,
    UrlPath(reference): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<TicketStatus>, ApiError> {
    let device = device(&state, &headers, false)?;
    let owner = state
        .store
        .owner(&reference)
        .map_err(|e| from_store(&state, e))?;
    // Another device's ticket reads exactly like no ticket.
    if owner.as_deref() != Some(device.device_id.as_str()) {
        return Err(refused(
            &state,
            Refusal::NotFound,
            refusal_message(Refusal::NotFound),
        ));
    }
    state
        .status(&reference)
        .map_err(|e| store_failed(&state, e))?
        .map(Json)
        .ok_or_else(|| {
            refused(
                &state,
                Refusal::NotFound,
                refusal_message(Refusal::NotFound),
            )
        })
}

/// The ticket id of one of `device`'s filed tickets.
fn owned_ticket(
    state: &RelayState,
    device: &DeviceIdentity,
    reference: &str,
) -> Result<i64, ApiError> {
    let owner = state
        .store
        .owner(reference)
        .map_err(|e| from_store(state, e))?;
    let not_found = || refused(state, Refusal::NotFound, refusal_message(Refusal::NotFound));
    if owner.as_deref() != Some(device.device_id.as_str()) {
        return Err(not_found());
    }
    state
        .status(reference)
        .map_err(|e| store_failed(state, e))?
        .and_then(|s| s.ticket_id)
        .ok_or_else(|| {
            refused(
                state,
                Refusal::NotFound,
                "the ticket is not filed in Atera yet; its thread follows once it is",
            )
        })
}

fn from_tracking(state: &RelayState, e: crate::tracking::TrackingError) -> ApiError {
    use crate::tracking::TrackingError;
    match e {
        TrackingError::EmptyReply => refused(state, Refusal::Invalid, "write a reply first"),
        TrackingError::NotMine(_) => {
            refused(state, Refusal::NotFound, refusal_message(Refusal::NotFound))
        }
        TrackingError::Atera(a) => {
            tracing::warn!(error = %a, "Atera failed for a device's thread or reply");
            let mut e = refused(
                state,
                if matches!(a, crate::atera::AteraError::RateLimited { .. }) {
                    Refusal::RateLimited
                } else {
                    Refusal::Unavailable
                },
                "the relay could not reach Atera for this; try again shortly",
            );
            if let crate::atera::AteraError::RateLimited { retry_after } = a {
                e.retry_after = Some(retry_after.map_or(60, |d| d.as_secs().clamp(1, 3600)));
            }
            e
        }
        other => store_failed(state, other),
    }
}

async fn thread(
    State(state): State<Arc<RelayState>>,
    UrlPath(reference): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<super::protocol::Thread>, ApiError> {
    let device = device(&state, &headers, false)?;
    let ticket_id = owned_ticket(&state, &device, &reference)?;
    let comments = state
        .queue
        .thread(&state.atera, ticket_id)
        .await
        .map_err(|e| from_tracking(&state, e))?;
    Ok(Json(super::protocol::Thread { comments }))
}

async fn reply(
    State(state): State<Arc<RelayState>>,
    UrlPath(reference): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let device = device(&state, &headers, false)?;
    let request: super::protocol::ReplyRequest = parse_json(&state, body).await?;
    if request.text.chars().count() > super::protocol::MAX_REPLY_CHARS {
        return Err(refused(
            &state,
            Refusal::Invalid,
            &format!(
                "a reply is limited to {} characters",
                super::protocol::MAX_REPLY_CHARS
            ),
        ));
    }
    let ticket_id = owned_ticket(&state, &device, &reference)?;
    state
        .queue
        .reply(&state.atera, ticket_id, &request.text)
        .await
        .map_err(|e| from_tracking(&state, e))?;
    let _ = state.store.audit(
        state.now(),
        Some(&device.device_id),
        "replied",
        Some(&reference),
        None,
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_ms: u64,
}

async fn events(
    State(state): State<Arc<RelayState>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Json<super::protocol::Events>, ApiError> {
    let device = device(&state, &headers, false)?;
    let wait = Duration::from_millis(query.wait_ms.min(super::protocol::MAX_EVENTS_WAIT_MS));
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = state.changed.subscribe();
    loop {
        let seq = state.seq_of(&device.device_id);
        // A relay that restarted counts from 0 again: any other number is news.
        if seq != query.after {
            return Ok(Json(super::protocol::Events { seq, changed: true }));
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return Ok(Json(super::protocol::Events {
                seq,
                changed: false,
            }));
        }
    }
}

/// Atera's webhook (new, status-changed and closed tickets, on its higher plans), at a secret
/// URL: it only wakes the poller, so a forged call costs one polite read and changes nothing.
async fn webhook(
    State(state): State<Arc<RelayState>>,
    UrlPath(secret): UrlPath<String>,
    body: Body,
) -> StatusCode {
    let known = state
        .options
        .webhook_secret
        .as_deref()
        .is_some_and(|s| super::store::same_secret(s, &secret));
    if !known {
        return StatusCode::NOT_FOUND;
    }
    // The body is not trusted or needed; read (bounded) and drop it.
    let _ = axum::body::to_bytes(body, 64 * 1024).await;
    state.counters().webhooks += 1;
    state.poll_wake.notify_one();
    StatusCode::NO_CONTENT
}

async fn whoami(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
) -> Result<Json<DeviceIdentity>, ApiError> {
    device(&state, &headers, false).map(Json)
}

async fn pushed_settings(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
) -> Result<Json<PushedSettings>, ApiError> {
    device(&state, &headers, false)?;
    Ok(Json(PushedSettings {
        defaults: state.settings.atera.defaults.clone(),
        form: state.settings.form.clone(),
        branding: state.settings.branding.clone(),
    }))
}

async fn atera_check(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
) -> Result<Json<super::protocol::AteraCheck>, ApiError> {
    device(&state, &headers, false)?;
    match tokio::time::timeout(Duration::from_secs(30), state.atera.account()).await {
        Ok(Ok(account)) => Ok(Json(super::protocol::AteraCheck {
            message: format!(
                "the relay reaches Atera at {} (account {})",
                state.atera.base_url().host_str().unwrap_or_default(),
                account.company_name.as_deref().unwrap_or("without a name")
            ),
        })),
        // The relay's admin reads the reason in its log; the device learns only that it failed.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the relay's Atera check failed");
            Err(refused(
                &state,
                Refusal::Unavailable,
                &format!(
                    "the relay cannot use Atera ({}); its admin can see why in the relay's log",
                    e.kind()
                ),
            ))
        }
        Err(_) => Err(refused(
            &state,
            Refusal::Unavailable,
            "the relay's Atera check took longer than 30 s",
        )),
    }
}

async fn healthz(State(state): State<Arc<RelayState>>) -> Response {
    match state.queue.unsent_count() {
        Ok(depth) => {
            Json(serde_json::json!({"status": "ok", "queue_depth": depth})).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: the queue cannot be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<RelayState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics(),
    )
        .into_response()
}

async fn fallback(State(state): State<Arc<RelayState>>) -> ApiError {
    refused(
        &state,
        Refusal::NotFound,
        "no such endpoint; the device API is under /v1 (README, \"The relay's device API\")",
    )
}

/// The relay's routes.
pub fn router(state: Arc<RelayState>) -> Router {
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/tickets", post(submit).get(my_tickets))
        .route("/v1/tickets/{reference}", get(one_ticket))
        .route("/v1/tickets/{reference}/thread", get(thread))
        .route("/v1/tickets/{reference}/replies", post(reply))
        .route("/v1/events", get(events))
        .route("/v1/atera-webhook/{secret}", post(webhook))
        .route("/v1/device", get(whoami))
        .route("/v1/settings", get(pushed_settings))
        .route("/v1/check", get(atera_check))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(fallback)
        // Bodies are read (and capped) by the handlers, so an oversized one gets the API's error.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// [`serve`] over TLS.
///
/// # Errors
/// When serving fails.
pub async fn serve_tls(
    state: Arc<RelayState>,
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = super::tls::TlsListener::new(listener, acceptor)?;
    let deliveries = tokio::spawn(state.clone().run_deliveries());
    let polling = tokio::spawn(state.clone().run_polling());
    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    deliveries.abort();
    polling.abort();
    result
}

/// Serves `state` on `listener` until `shutdown` resolves, with the delivery loop alongside.
///
/// # Errors
/// When serving fails.
pub async fn serve(
    state: Arc<RelayState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let deliveries = tokio::spawn(state.clone().run_deliveries());
    let polling = tokio::spawn(state.clone().run_polling());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    deliveries.abort();
    polling.abort();
    result
}
