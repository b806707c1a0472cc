//! The admin API (v1): the MSP's admins read, check, test and save the dispatcher rules that run
//! here for every device, from the app's admin window (README, "The admin API (v1)").
//!
//! It takes admin tokens only (`helpdesk-relay admin create`), never a device credential. Checks
//! and test runs are child processes, two at a time; a save is checked first, names the version
//! it started from, and applies to the next ticket any instance files.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api::{bearer, from_store, parse_json_within, refused, ApiError};
use super::protocol::{
    Refusal, RulesCheck, RulesCheckRequest, RulesDocument, RulesSaveRequest, RulesTestRequest,
    MAX_ADMIN_REQUEST_BYTES,
};
use super::server::RelayState;
use super::store::{AdminIdentity, StoreError};
use crate::rules::{RuleDiagnostic, RuleOutcome};

/// The longest a check or test waits for one of the evaluator slots.
const EVALUATION_WAIT: Duration = Duration::from_secs(10);

const UNAUTHENTICATED: &str = "send an admin token as `Authorization: Bearer hba1...`; create one on the relay with `helpdesk-relay admin create --name NAME` (a device's credential is not an admin token)";

/// The admin behind the request's token, counted against the same per-minute limit as a device.
fn admin(state: &RelayState, headers: &HeaderMap) -> Result<AdminIdentity, ApiError> {
    let token =
        bearer(headers).ok_or_else(|| refused(state, Refusal::Unauthenticated, UNAUTHENTICATED))?;
    let who = state
        .store
        .authenticate_admin(token, state.now())
        .map_err(|e| match e {
            StoreError::Refused(Refusal::Unauthenticated) => {
                refused(state, Refusal::Unauthenticated, UNAUTHENTICATED)
            }
            other => from_store(state, other),
        })?;
    state
        .spend(&format!("admin:{}", who.admin_id), false)
        .map_err(|code| {
            refused(
                state,
                code,
                "this admin token is over its requests a minute; wait a minute",
            )
        })?;
    Ok(who)
}

/// The saved rules (`None` before the first save) as an admin sees them.
fn stored_document(
    stored: Option<super::store::StoredRules>,
    who: &AdminIdentity,
) -> RulesDocument {
    let (script, version, saved_at, saved_by) = match stored {
        Some(r) => (r.script, r.version, Some(r.saved_at), Some(r.saved_by)),
        None => (String::new(), 0, None, None),
    };
    RulesDocument {
        script,
        version,
        editable: true,
        source: "saved on the relay; they run for every enrolled PC".into(),
        saved_at,
        saved_by,
        admin: who.name.clone(),
    }
}

/// The rules as an admin sees them: `rules_file`'s, else the newest saved.
fn document(state: &RelayState, who: &AdminIdentity) -> Result<RulesDocument, ApiError> {
    Ok(match &state.rules.file {
        Some((path, script)) => RulesDocument {
            script: script.clone(),
            version: 0,
            editable: false,
            source: format!(
                "the file {} on the relay (rules_file in relay.toml); edit it there and restart the relay",
                path.display()
            ),
            saved_at: None,
            saved_by: None,
            admin: who.name.clone(),
        },
        None => stored_document(
            state.store.rules().map_err(|e| from_store(state, e))?,
            who,
        ),
    })
}

/// Runs `job` (a child process of the evaluator) in one of the evaluator slots.
async fn evaluate<T: Send + 'static>(
    state: &Arc<RelayState>,
    job: impl FnOnce(&std::path::Path) -> Result<T, crate::rules::RulesError> + Send + 'static,
) -> Result<T, ApiError> {
    let busy = || {
        refused(
            state,
            Refusal::Unavailable,
            "the relay is busy checking other rules; try again in a moment",
        )
    };
    // The slot goes with the child: a client that hangs up does not free it while the child
    // still runs.
    let slot = tokio::time::timeout(EVALUATION_WAIT, state.evaluations.clone().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let exe = state.rules.exe.clone();
    let failed = || {
        refused(
            state,
            Refusal::Unavailable,
            "the rules evaluator on the relay failed; the relay's log says why",
        )
    };
    tokio::task::spawn_blocking(move || {
        let answer = job(&exe);
        drop(slot);
        answer
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the rules evaluator's task failed");
        failed()
    })?
    .map_err(|e| {
        tracing::error!(error = %e, "the rules evaluator failed");
        failed()
    })
}

/// The syntax check's answer.
async fn check(
    state: &Arc<RelayState>,
    script: String,
) -> Result<Result<Vec<RuleDiagnostic>, RuleDiagnostic>, ApiError> {
    evaluate(state, move |exe| crate::rules::check_in_child(exe, &script)).await
}

async fn read_rules(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
) -> Result<Json<RulesDocument>, ApiError> {
    let who = admin(&state, &headers)?;
    document(&state, &who).map(Json)
}

async fn check_rules(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RulesCheck>, ApiError> {
    admin(&state, &headers)?;
    let request: RulesCheckRequest =
        parse_json_within(&state, body, MAX_ADMIN_REQUEST_BYTES, "").await?;
    Ok(Json(match check(&state, request.script).await? {
        Ok(warnings) => RulesCheck {
            ok: true,
            diagnostics: warnings,
        },
        Err(error) => RulesCheck {
            ok: false,
            diagnostics: vec![error],
        },
    }))
}

async fn test_rules(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RuleOutcome>, ApiError> {
    admin(&state, &headers)?;
    let request: RulesTestRequest =
        parse_json_within(&state, body, MAX_ADMIN_REQUEST_BYTES, "").await?;
    let limits = state.rules.limits.clone();
    evaluate(&state, move |exe| {
        crate::rules::evaluate(exe, &request.script, &request.input, &limits)
    })
    .await
    .map(Json)
}

async fn save_rules(
    State(state): State<Arc<RelayState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RulesDocument>, ApiError> {
    let who = admin(&state, &headers)?;
    let request: RulesSaveRequest =
        parse_json_within(&state, body, MAX_ADMIN_REQUEST_BYTES, "").await?;
    if let Some((path, _)) = &state.rules.file {
        return Err(refused(
            &state,
            Refusal::ReadOnly,
            &format!(
                "these rules come from {} (rules_file in relay.toml): edit that file on the relay, or remove rules_file to edit them from the admin window",
                path.display()
            ),
        ));
    }
    // A script that cannot run is never saved: every ticket would stop on it.
    if !request.script.trim().is_empty() {
        if let Err(e) = check(&state, request.script.clone()).await? {
            // A check stopped by its time limit (a busy relay) says nothing about the script.
            if e.kind == crate::rules::DiagnosticKind::Limit {
                return Err(refused(
                    &state,
                    Refusal::Unavailable,
                    "the relay could not check the rules in time; nothing was saved, try again",
                ));
            }
            return Err(refused(
                &state,
                Refusal::Invalid,
                &format!(
                    "line {}, column {}: {}. Fix it before saving",
                    e.line, e.column, e.message
                ),
            ));
        }
    }
    let saved = state
        .store
        .save_rules(&request.script, request.version, &who, state.now())
        .map_err(|e| match e {
            StoreError::Refused(Refusal::Conflict) => {
                let newest = state.store.rules().ok().flatten();
                let message = match newest {
                    Some(n) => format!(
                        "{} saved version {} of the rules at {} since you opened version {}; reload them and make your change again",
                        n.saved_by,
                        n.version,
                        crate::clock::rfc3339(n.saved_at),
                        request.version
                    ),
                    None => "the rules changed since you opened them; reload them".into(),
                };
                refused(&state, Refusal::Conflict, &message)
            }
            other => from_store(&state, other),
        })?;
    tracing::info!(
        admin = who.admin_id,
        version = saved.version,
        bytes = request.script.len(),
        "rules saved"
    );
    // What was stored, not a read after it: another admin's save in between would otherwise
    // become this admin's base without their seeing it.
    Ok(Json(stored_document(Some(saved), &who)))
}

/// The admin routes, merged into the relay's router.
pub(super) fn routes() -> Router<Arc<RelayState>> {
    Router::new()
        .route("/v1/admin/rules", get(read_rules).put(save_rules))
        .route("/v1/admin/rules/check", post(check_rules))
        .route("/v1/admin/rules/test", post(test_rules))
}
