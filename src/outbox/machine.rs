//! The state machine of one entry (see the diagram in [`super`]): each transition is one write,
//! made before the step it enables, so a kill between any two lines leaves a state the next
//! delivery continues from correctly.

use std::time::{Duration, Instant};

use crate::db::{params, OptionalExtension, Sql};

use super::pipeline::{self, Composed, Delivery};
use super::{
    keeps_retrying, lookup, next_wait, DeliveryResult, Outbox, OutboxError, Stage, RETRY_HORIZON,
};
use crate::atera::AteraError;
use crate::submit::{SubmitError, SubmitOutcome};

/// One entry's row, as the state machine needs it.
pub(super) struct Row {
    pub(super) stage: Stage,
    pub(super) composed: Option<String>,
    pub(super) first_posted_at: Option<i64>,
    pub(super) clean_scans: u32,
    pub(super) next_attempt_at: i64,
    pub(super) ticket_id: Option<i64>,
    pub(super) ticket_number: Option<String>,
    pub(super) last_error: Option<String>,
}

impl Outbox {
    pub(super) fn row(&self, reference: &str) -> Result<Row, OutboxError> {
        self.db()
            .query_row(
                "SELECT stage, composed, first_posted_at, clean_scans, next_attempt_at, ticket_id, ticket_number, last_error
                 FROM outbox WHERE reference = ?1",
                params![reference],
                |r| {
                    Ok(Row {
                        stage: Stage::parse(&r.get::<String>(0)?),
                        composed: r.get(1)?,
                        first_posted_at: r.get(2)?,
                        clean_scans: r.get(3)?,
                        next_attempt_at: r.get(4)?,
                        ticket_id: r.get(5)?,
                        ticket_number: r.get(6)?,
                        last_error: r.get(7)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| OutboxError::NotFound(reference.to_string()))
    }

    pub(super) fn set_stage(&self, reference: &str, stage: Stage) -> Result<(), OutboxError> {
        self.db().execute(
            "UPDATE outbox SET stage = ?2, state = ?3 WHERE reference = ?1",
            params![reference, stage.as_str(), state_column(stage)],
        )?;
        Ok(())
    }

    /// Moves the entry one or more steps on. See the module docs of [`super`].
    pub(super) async fn advance(
        &self,
        reference: &str,
        d: &Delivery<'_>,
    ) -> Result<DeliveryResult, OutboxError> {
        let client = match d.destination {
            super::Destination::Atera(client) => client,
            super::Destination::Relay(relay) => return self.forward(reference, relay).await,
        };
        let row = self.row(reference)?;
        let mut stage = row.stage;
        let mut clean_scans = row.clean_scans;
        let mut composed: Option<Composed> = match &row.composed {
            Some(json) => Some(serde_json::from_str(json)?),
            None => None,
        };
        loop {
            match stage {
                Stage::Sent => {
                    // Delivered meanwhile (by another caller): report it, never send again.
                    return Ok(DeliveryResult::Sent {
                        reference: reference.into(),
                        outcome: outcome(
                            reference,
                            row.ticket_id.unwrap_or_default(),
                            row.ticket_number.clone().unwrap_or_default(),
                            composed.as_ref(),
                            true,
                        ),
                    });
                }
                Stage::Blocked => {
                    return Ok(DeliveryResult::Blocked {
                        reference: reference.into(),
                        reason: row.last_error.clone().unwrap_or_default(),
                    })
                }
                Stage::Failed => {
                    // A manual flush: try again from where it stopped.
                    stage = if composed.is_some() {
                        Stage::Ready
                    } else {
                        Stage::New
                    };
                }
                Stage::Posting => {
                    // Found mid-POST: the app stopped during the request, or its deadline
                    // struck. The ticket may exist.
                    return self.to_unconfirmed(reference, None);
                }
                Stage::Unconfirmed => {
                    let now = self.now();
                    if row.next_attempt_at > now
                        && row.next_attempt_at <= now + super::MAX_SCHEDULED_WAIT.as_secs() as i64
                    {
                        return Ok(DeliveryResult::Confirming {
                            reference: reference.into(),
                            check_at: row.next_attempt_at,
                            error: None,
                        });
                    }
                    let Some(c) = composed.as_ref() else {
                        // An entry from before requests were stored (an older version's, found
                        // mid-POST): compose it now, keep it unconfirmed, and look it up before
                        // anything is sent again.
                        let saved = match self.submission(reference) {
                            Ok(s) => s,
                            Err(OutboxError::Corrupt(e)) => {
                                let error = SubmitError::Storage(format!(
                                    "the saved ticket cannot be read ({e})"
                                ));
                                return self.check_again(reference, super::FIRST_BACKOFF, error);
                            }
                            Err(e) => return Err(e),
                        };
                        match pipeline::compose(d, &saved).await {
                            Ok(c) => {
                                self.db().execute(
                                    "UPDATE outbox SET composed = ?2, subject = ?3 WHERE reference = ?1",
                                    params![reference, serde_json::to_string(&c)?, c.request.title],
                                )?;
                                composed = Some(c);
                                continue;
                            }
                            Err(e) => return self.check_again(reference, super::FIRST_BACKOFF, e),
                        }
                    };
                    let mut requests = 0;
                    let found = lookup::find_ticket_by_reference(
                        client,
                        reference,
                        &c.request.title,
                        row.first_posted_at.unwrap_or(now),
                        &mut requests,
                    )
                    .await;
                    tracing::info!(
                        reference,
                        requests,
                        "looked for the ticket by its reference"
                    );
                    match found {
                        Ok(Some(ticket_id)) => {
                            tracing::info!(
                                ticket_id,
                                reference,
                                "found the ticket an earlier attempt created"
                            );
                            return self.sent(reference, d, ticket_id, c, true).await;
                        }
                        Ok(None) => {
                            clean_scans += 1;
                            if clean_scans < self.timing.clean_scans {
                                let at = self.now() + secs(self.timing.scan_gap);
                                self.db().execute(
                                    "UPDATE outbox SET clean_scans = ?2, next_attempt_at = ?3 WHERE reference = ?1",
                                    params![reference, clean_scans, at],
                                )?;
                                return Ok(DeliveryResult::Confirming {
                                    reference: reference.into(),
                                    check_at: at,
                                    error: None,
                                });
                            }
                            tracing::info!(
                                reference,
                                "the ticket is not in Atera; sending it again"
                            );
                            self.db().execute(
                                "UPDATE outbox SET stage = 'ready', state = 'pending', clean_scans = 0 WHERE reference = ?1",
                                params![reference],
                            )?;
                            stage = Stage::Ready;
                        }
                        Err(e) => {
                            // Unknown whether it exists: wait and look again; never resend on it.
                            let wait = if matches!(
                                e,
                                lookup::LookupError::Atera(AteraError::RateLimited { .. })
                            ) {
                                let until = self.pause_deliveries(e.retry_after())?;
                                Duration::from_secs((until - self.now()).max(1) as u64)
                            } else {
                                super::FIRST_BACKOFF
                            };
                            let error = match e {
                                lookup::LookupError::Atera(a) => SubmitError::Atera(a),
                                other => SubmitError::Storage(other.to_string()),
                            };
                            return self.check_again(reference, wait, error);
                        }
                    }
                }
                Stage::New => {
                    let saved = match self.submission(reference) {
                        Ok(s) => s,
                        Err(OutboxError::Corrupt(e)) => {
                            let error = SubmitError::Storage(format!(
                                "the saved ticket cannot be read ({e})"
                            ));
                            self.set_aside(reference, &error)?;
                            return Ok(DeliveryResult::Failed {
                                reference: reference.into(),
                                error,
                            });
                        }
                        Err(e) => return Err(e),
                    };
                    // Composing takes a while (lookups in Atera); the result is kept only while
                    // the entry is still new. If another delivery (another process on the same
                    // file, or a relay instance that took over the claim) moved it on meanwhile,
                    // this one stops: it never puts back a stage another delivery left.
                    match pipeline::compose(d, &saved).await {
                        Ok(c) => {
                            let kept = self.db().execute(
                                "UPDATE outbox SET stage = 'ready', composed = ?2, subject = ?3 WHERE reference = ?1 AND stage = 'new'",
                                params![reference, serde_json::to_string(&c)?, c.request.title],
                            )?;
                            if kept == 0 {
                                return Ok(DeliveryResult::Elsewhere {
                                    reference: reference.into(),
                                });
                            }
                            composed = Some(c);
                            stage = Stage::Ready;
                        }
                        Err(SubmitError::Blocked(reason)) => {
                            let kept = self.db().execute(
                                "UPDATE outbox SET stage = 'blocked', state = 'failed', last_error = ?2 WHERE reference = ?1 AND stage = 'new'",
                                params![reference, reason],
                            )?;
                            if kept == 0 {
                                return Ok(DeliveryResult::Elsewhere {
                                    reference: reference.into(),
                                });
                            }
                            return Ok(DeliveryResult::Blocked {
                                reference: reference.into(),
                                reason,
                            });
                        }
                        Err(e) => return self.schedule_retry(reference, e),
                    }
                }
                Stage::Ready => {
                    let Some(c) = composed.as_ref() else {
                        stage = Stage::New;
                        continue;
                    };
                    // Recorded before the request goes out: from here on the ticket may exist.
                    // Only by the one delivery that moves it out of ready: of several relay
                    // instances that read it as ready, one sends it.
                    let now = self.now();
                    let taken = self.db().execute(
                        "UPDATE outbox SET stage = 'posting', state = 'sending', attempts = attempts + 1,
                            first_posted_at = COALESCE(first_posted_at, ?2)
                         WHERE reference = ?1 AND stage IN ('ready', 'failed')",
                        params![reference, now],
                    )?;
                    if taken == 0 {
                        return Ok(DeliveryResult::Elsewhere {
                            reference: reference.into(),
                        });
                    }
                    let deadline = Instant::now()
                        .checked_add(d.policy.max_total)
                        .unwrap_or_else(Instant::now);
                    match pipeline::post(d, &c.request, deadline).await {
                        Ok(ticket_id) => return self.sent(reference, d, ticket_id, c, false).await,
                        Err(e) if e.may_have_created() => {
                            tracing::warn!(reference, kind = e.kind(), "no conclusive answer to the ticket's POST; confirming with Atera before any resend");
                            return self.to_unconfirmed(reference, Some(SubmitError::Atera(e)));
                        }
                        Err(e) => {
                            // Certainly not created.
                            self.set_stage(reference, Stage::Ready)?;
                            return self.schedule_retry(reference, SubmitError::Atera(e));
                        }
                    }
                }
            }
        }
    }

    /// Records a filed ticket. A store failure here does not undo the ticket: the caller is told
    /// it was filed, and the entry (still `posting`) is confirmed by lookup next time.
    async fn sent(
        &self,
        reference: &str,
        d: &Delivery<'_>,
        ticket_id: i64,
        c: &Composed,
        adopted: bool,
    ) -> Result<DeliveryResult, OutboxError> {
        let ticket_number = pipeline::ticket_number(d, ticket_id).await;
        if let Err(e) = self.db().execute(
            "UPDATE outbox SET stage = 'sent', state = 'sent', last_error = NULL, last_error_kind = NULL, ticket_id = ?2, ticket_number = ?3 WHERE reference = ?1",
            params![reference, ticket_id, ticket_number],
        ) {
            tracing::error!(reference, ticket_id, error = %e, "the ticket was filed but the outbox could not record it; it will be confirmed by its reference");
        }
        tracing::info!(
            ticket_id,
            reference,
            adopted,
            bytes = c.request.description.len(),
            "ticket filed"
        );
        Ok(DeliveryResult::Sent {
            reference: reference.into(),
            outcome: outcome(reference, ticket_id, ticket_number, Some(c), adopted),
        })
    }

    /// An attempt may have created the ticket: look for it once Atera's lists have caught up.
    pub(super) fn to_unconfirmed(
        &self,
        reference: &str,
        error: Option<SubmitError>,
    ) -> Result<DeliveryResult, OutboxError> {
        let at = self.now() + secs(self.timing.list_lag);
        self.db().execute(
            "UPDATE outbox SET stage = 'unconfirmed', state = 'sending', next_attempt_at = ?2, clean_scans = 0,
                last_error = ?3, last_error_kind = ?4 WHERE reference = ?1",
            params![
                reference,
                at,
                error.as_ref().map(|e| format!("no answer from Atera; confirming whether the ticket was created ({e})")),
                error.as_ref().map(error_kind)
            ],
        )?;
        Ok(DeliveryResult::Confirming {
            reference: reference.into(),
            check_at: at,
            error,
        })
    }

    /// A failure that proves nothing was created: back off, or give up when it cannot go away or
    /// the entry is past the retry horizon. A 429 pauses every delivery.
    /// Keeps an unconfirmed entry unconfirmed and looks again after `wait`: whatever went wrong,
    /// it is never sent again nor failed on it.
    pub(super) fn check_again(
        &self,
        reference: &str,
        wait: Duration,
        error: SubmitError,
    ) -> Result<DeliveryResult, OutboxError> {
        let at = self.now() + secs(wait);
        self.db().execute(
            "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3, clean_scans = 0 WHERE reference = ?1",
            params![reference, at, format!("confirming with Atera: {error}")],
        )?;
        Ok(DeliveryResult::Confirming {
            reference: reference.into(),
            check_at: at,
            error: Some(error),
        })
    }

    pub(super) fn schedule_retry(
        &self,
        reference: &str,
        error: SubmitError,
    ) -> Result<DeliveryResult, OutboxError> {
        // An entry that may have been posted is confirmed, never retried blindly or failed.
        if matches!(self.stage(reference)?, Stage::Posting | Stage::Unconfirmed) {
            return self.check_again(reference, super::FIRST_BACKOFF, error);
        }
        let (attempts, created_at): (u32, String) = self.db().query_row(
            "SELECT attempts, created_at FROM outbox WHERE reference = ?1",
            params![reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some(retry_after) = error.rate_limit() {
            self.pause_deliveries(retry_after)?;
        }
        let age = time::OffsetDateTime::parse(
            &created_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| self.now() - t.unix_timestamp())
        .unwrap_or(0);
        let gives_up = !keeps_retrying(&error) || age > RETRY_HORIZON.as_secs() as i64;
        let next = self.now() + secs(next_wait(attempts.max(1), &error));
        self.db().execute(
            "UPDATE outbox SET stage = CASE WHEN ?2 THEN 'failed' ELSE stage END, state = ?3,
                last_error = ?4, last_error_kind = ?5, next_attempt_at = ?6 WHERE reference = ?1",
            params![
                reference,
                gives_up,
                if gives_up { "failed" } else { "pending" },
                error.to_string(),
                error_kind(&error),
                next
            ],
        )?;
        Ok(if gives_up {
            tracing::warn!(
                reference,
                kind = error.kind(),
                "outbox entry failed; it stays until retried"
            );
            DeliveryResult::Failed {
                reference: reference.into(),
                error,
            }
        } else {
            tracing::info!(
                reference,
                kind = error.kind(),
                "outbox entry will be retried"
            );
            DeliveryResult::Retrying {
                reference: reference.into(),
                error,
                next_attempt_at: next,
            }
        })
    }

    /// Sets an entry that cannot be delivered aside, with its reason, so the others go on. An
    /// entry that may have been posted is never set aside: it keeps being confirmed.
    pub(super) fn set_aside(
        &self,
        reference: &str,
        error: &SubmitError,
    ) -> Result<(), OutboxError> {
        self.db().execute(
            "UPDATE outbox SET stage = 'failed', state = 'failed', last_error = ?2, last_error_kind = 'unreadable'
             WHERE reference = ?1 AND stage IN ('new', 'ready', 'failed')",
            params![reference, error.to_string()],
        )?;
        Ok(())
    }
}

pub(super) fn outcome(
    reference: &str,
    ticket_id: i64,
    ticket_number: String,
    composed: Option<&Composed>,
    adopted: bool,
) -> SubmitOutcome {
    SubmitOutcome {
        ticket_id,
        ticket_number,
        reference: reference.to_string(),
        adopted,
        contact: composed.map_or(
            crate::submit::ContactMatch::NameAndEmail {
                first_name: String::new(),
                last_name: String::new(),
                email_taken: false,
            },
            |c| c.contact.clone(),
        ),
        screenshot_bytes: composed.map_or(0, |c| c.screenshot_bytes),
        omitted_screenshots: composed.map_or(0, |c| c.omitted_screenshots),
        held_by_relay: false,
    }
}

fn state_column(stage: Stage) -> &'static str {
    match stage.state() {
        super::EntryState::Pending => "pending",
        super::EntryState::Sending => "sending",
        super::EntryState::Sent => "sent",
        super::EntryState::Failed => "failed",
    }
}

pub(super) fn error_kind(error: &SubmitError) -> &'static str {
    match error {
        SubmitError::Atera(e) => e.kind(),
        other => other.kind(),
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4).max(1)
}
