//! Delivering an entry to the MSP's relay instead of Atera. The relay is idempotent by the
//! submission's reference (a second copy returns the first one's ticket), so an attempt without an
//! answer is simply sent again; the entry is done once the relay has stored it durably. The relay
//! matches the requester, runs the rules and files the ticket with this crate's pipeline.

use crate::db::{params, OptionalExtension, Sql};

use super::machine::outcome;
use super::{DeliveryResult, Outbox, OutboxError, Stage};
use crate::relay::protocol::{Refusal, RelayedState};
use crate::relay::{RelayClient, RelayError};
use crate::submit::SubmitError;

impl Outbox {
    pub(super) async fn forward(
        &self,
        reference: &str,
        relay: &RelayClient,
    ) -> Result<DeliveryResult, OutboxError> {
        let row = self.row(reference)?;
        let via: Option<String> = self
            .db()
            .query_row(
                "SELECT via FROM outbox WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        match row.stage {
            Stage::Sent => {
                let mut outcome = outcome(
                    reference,
                    row.ticket_id.unwrap_or_default(),
                    row.ticket_number.clone().unwrap_or_default(),
                    None,
                    true,
                );
                outcome.held_by_relay = row.ticket_id.is_none();
                return Ok(DeliveryResult::Sent {
                    reference: reference.into(),
                    outcome,
                });
            }
            Stage::Blocked => {
                return Ok(DeliveryResult::Blocked {
                    reference: reference.into(),
                    reason: row.last_error.clone().unwrap_or_default(),
                })
            }
            // Posted to Atera directly (before this PC was moved to the relay): the ticket may
            // exist there, and the relay cannot know. It waits for a direct lookup rather than
            // risk a second ticket.
            Stage::Posting | Stage::Unconfirmed if via.as_deref() != Some("relay") => {
                let error = SubmitError::NotConfigured(
                    "this ticket was sent to Atera directly without an answer; it is confirmed there before it can go through the relay".into(),
                );
                return self.check_again(reference, super::MAX_BACKOFF, error);
            }
            _ => {}
        }
        let saved = match self.submission(reference) {
            Ok(s) => s,
            Err(OutboxError::Corrupt(e)) => {
                let error = SubmitError::Storage(format!("the saved ticket cannot be read ({e})"));
                self.set_aside(reference, &error)?;
                return Ok(DeliveryResult::Failed {
                    reference: reference.into(),
                    error,
                });
            }
            Err(e) => return Err(e),
        };
        // Recorded first: from here on the relay may hold it, and sending it again is harmless.
        self.db().execute(
            "UPDATE outbox SET stage = 'posting', state = 'sending', via = 'relay', attempts = attempts + 1,
                first_posted_at = COALESCE(first_posted_at, ?2) WHERE reference = ?1",
            params![reference, self.now()],
        )?;
        match relay.submit(&saved, self.timing.relay_wait).await {
            Ok(status) => match status.state {
                RelayedState::Filed | RelayedState::Queued => {
                    let ticket_id = status.ticket_id.filter(|id| *id > 0);
                    let number = status
                        .ticket_number
                        .clone()
                        .or_else(|| ticket_id.map(|id| id.to_string()));
                    self.db().execute(
                        "UPDATE outbox SET stage = 'sent', state = 'sent', last_error = NULL, last_error_kind = NULL,
                            ticket_id = ?2, ticket_number = ?3 WHERE reference = ?1",
                        params![reference, ticket_id, number],
                    )?;
                    tracing::info!(reference, ?ticket_id, "the relay holds the ticket");
                    let mut outcome = outcome(
                        reference,
                        ticket_id.unwrap_or_default(),
                        number.unwrap_or_default(),
                        None,
                        false,
                    );
                    outcome.held_by_relay = ticket_id.is_none();
                    Ok(DeliveryResult::Sent {
                        reference: reference.into(),
                        outcome,
                    })
                }
                RelayedState::Blocked => {
                    let reason = status.reason.unwrap_or_default();
                    self.db().execute(
                        "UPDATE outbox SET stage = 'blocked', state = 'failed', last_error = ?2 WHERE reference = ?1",
                        params![reference, reason],
                    )?;
                    Ok(DeliveryResult::Blocked {
                        reference: reference.into(),
                        reason,
                    })
                }
                RelayedState::Failed => {
                    self.set_stage(reference, Stage::New)?;
                    let error = SubmitError::Relay(RelayError::Refused {
                        status: 200,
                        code: Refusal::Other,
                        message: status
                            .reason
                            .unwrap_or_else(|| "the relay could not file it".into()),
                    });
                    self.set_aside(reference, &error)?;
                    Ok(DeliveryResult::Failed {
                        reference: reference.into(),
                        error,
                    })
                }
            },
            Err(e) => {
                // Whether or not the relay stored it, sending again is safe.
                self.set_stage(reference, Stage::New)?;
                self.schedule_retry(reference, SubmitError::Relay(e))
            }
        }
    }
}
