//! The device API (v1) over HTTP: each handler authenticates the device, holds it to its limits,
//! and answers JSON or a typed refusal ([`ApiError`]). README, "The device API (v1)".

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::protocol::{
    DeviceIdentity, EnrollRequest, Enrolled, ErrorBody, ErrorDetail, PushedSettings, Refusal,
    RelayedState, SubmitRequest, TicketList, TicketStatus, MAX_REQUEST_BYTES, MAX_SUBMIT_WAIT_MS,
};
use super::server::RelayState;
use super::store::StoreError;

/// The most tickets `GET /v1/tickets` lists.
const MAX_LISTED: u32 = 200;
/// The longest a reference may be.
const MAX_REFERENCE_CHARS: usize = 64;

/// A refusal as the device API sends it.
#[derive(Debug)]
pub struct ApiError {
    code: Refusal,
    message: String,
    pub(super) retry_after: Option<u64>,
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

pub(super) fn refused(state: &RelayState, code: Refusal, message: &str) -> ApiError {
    *state.counters().refusals.entry(code).or_default() += 1;
    let mut e = ApiError::new(code, message);
    if code == Refusal::RateLimited {
        e.retry_after = Some(60);
    }
    e
}

pub(super) fn store_failed(state: &RelayState, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "the relay's store failed");
    refused(
        state,
        Refusal::Unavailable,
        "the relay's store failed; the device keeps the ticket and retries",
    )
}

pub(super) fn from_store(state: &RelayState, e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(code) => refused(state, code, refusal_message(code)),
        StoreError::Database(e) => store_failed(state, e),
    }
}

pub(super) fn refusal_message(code: Refusal) -> &'static str {
    match code {
        Refusal::Unauthenticated => "send the device credential from enrollment as `Authorization: Bearer hbd1...`; re-enroll a device whose credential was lost",
        Refusal::DeviceRevoked => "this device was revoked (`helpdesk-relay devices list` shows when); enroll it again with a new token if that was a mistake",
        Refusal::TokenUnknown => "the enrollment token is not one this relay issued; create one with `helpdesk-relay enroll create`",
        Refusal::TokenExpired => "the enrollment token has expired; create a new one with `helpdesk-relay enroll create`",
        Refusal::TokenUsedUp => "the enrollment token has no uses left; create one with more `--uses`",
        Refusal::ReferenceTaken => "another device already filed a ticket with this reference; send it with a new reference",
        Refusal::NotFound => "this device filed no ticket with that reference",
        Refusal::RateLimited => "this device is over its request or ticket limit; wait a minute",
        Refusal::Forbidden => "this admin token was revoked (`helpdesk-relay admin list` shows when); ask for a new one with `helpdesk-relay admin create`",
        Refusal::Conflict => "someone else changed this since you read it; read it again and make your change on top",
        _ => "the request was refused",
    }
}

/// The credential in `Authorization: Bearer …`.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The device behind the request's credential, counted against its limits.
fn device(
    state: &RelayState,
    headers: &HeaderMap,
    ticket: bool,
) -> Result<DeviceIdentity, ApiError> {
    let credential = bearer(headers).ok_or_else(|| {
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
    parse_json_within(state, body, MAX_REQUEST_BYTES, "; leave out a screenshot").await
}

/// The body as JSON, read up to `limit` bytes.
pub(super) async fn parse_json_within<T: serde::de::DeserializeOwned>(
    state: &RelayState,
    body: Body,
    limit: usize,
    hint: &str,
) -> Result<T, ApiError> {
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        refused(
            state,
            Refusal::TooLarge,
            &format!("requests are limited to {limit} bytes{hint}"),
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
        .merge(super::admin_api::routes())
        .fallback(fallback)
        // Bodies are read (and capped) by the handlers, so an oversized one gets the API's error.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}
