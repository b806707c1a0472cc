//! "My tickets": what became of the tickets filed from this PC. Atera sends no webhooks to
//! clients, so this polls, politely:
//!
//! - `GET /tickets/lastmodified?date=<last complete pass>` covers every ticket; a busy account's
//!   list is read to its last page across cycles, and the cursor moves past a window only once
//!   all of it was read, so no change is skipped; per-ticket `GET /tickets/{id}` is the fallback
//!   for accounts without that endpoint, least recently checked first;
//! - every request counts (list pages, per-ticket fallbacks, each page of a thread, manual
//!   refreshes): at most [`POLL_BUDGET`] a cycle and [`HOURLY_POLL_BUDGET`] an hour; the app
//!   runs a cycle every 10 minutes (with jitter), usually one request;
//! - closed tickets are no longer polled; nothing is polled while Atera's last answer was 429
//!   (until its `Retry-After`, or 5 minutes).
//!
//! The state lives in the outbox database, next to the submissions it belongs to.

use std::collections::HashMap;
use std::time::Duration;

use crate::db::{params, DbError, OptionalExtension, Sql};
use serde::Serialize;

use crate::atera::instant::later;
use crate::atera::models::{CreateEndUserComment, EndUserCommentDetails, Ticket};
use crate::atera::{AteraClient, AteraError};
use crate::outbox::{EntryState, Outbox, OutboxError};
use crate::submit::ContactMatch;

/// Requests one poll cycle may make.
pub const POLL_BUDGET: usize = 10;
/// Requests polling may make in an hour, manual refreshes included.
pub const HOURLY_POLL_BUDGET: usize = 60;
/// Requests a cycle keeps for threads once it has read one list page.
const THREAD_RESERVE: usize = 3;
/// Pages one pass of `lastmodified` (or one thread) reads at most, across cycles.
const MAX_PASS_PAGES: u32 = 200;
/// How long polling pauses after a 429 without `Retry-After`.
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(300);
/// The longest pause an absurd `Retry-After` gets.
const MAX_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(3600);

/// Errors of the "My tickets" features.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error(transparent)]
    Store(#[from] OutboxError),
    #[error(transparent)]
    Atera(#[from] AteraError),
    #[error("write a reply first")]
    EmptyReply,
    #[error("ticket #{0} was not filed from this PC")]
    NotMine(i64),
}

impl From<DbError> for TrackingError {
    fn from(e: DbError) -> Self {
        Self::Store(OutboxError::Database(e))
    }
}

/// A technician's latest reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Reply {
    pub text: String,
    pub at: String,
    pub by: String,
}

/// One ticket of this PC, as "My tickets" lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyTicket {
    pub reference: String,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub subject: String,
    pub created_at: String,
    pub state: EntryState,
    pub status: Option<String>,
    pub last_reply: Option<Reply>,
    pub unread: bool,
    pub last_error: Option<String>,
}

/// Something the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketChange {
    pub ticket_id: i64,
    pub ticket_number: String,
    pub subject: String,
    pub kind: ChangeKind,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ChangeKind {
    Status { from: String, to: String },
    Reply { by: String, text: String },
}

/// A comment in a ticket's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ThreadComment {
    pub date: String,
    pub text: String,
    pub from: String,
    pub is_technician: bool,
}

/// A sent ticket still being followed: reference, ticket id, number, subject, last known
/// status, last technician activity seen, and when it was last checked.
type TrackedRow = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
);

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_rfc3339(offset: Duration) -> String {
    (time::OffsetDateTime::now_utc() - offset)
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn is_closed(status: &str) -> bool {
    status.eq_ignore_ascii_case("closed")
}

impl Outbox {
    /// Every ticket of this PC, newest first: the sent ones with what Atera last said, and the
    /// ones still waiting in the outbox.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn my_tickets(&self) -> Result<Vec<MyTicket>, OutboxError> {
        let entries = self.list()?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let (status, last_reply, unread) = self.tracked(&e.reference)?;
            out.push(MyTicket {
                reference: e.reference,
                ticket_id: e.ticket_id,
                ticket_number: e.ticket_number,
                subject: e.subject,
                created_at: e.created_at,
                state: e.state,
                status,
                last_reply,
                unread,
                last_error: e.last_error.filter(|_| e.state != EntryState::Sent),
            });
        }
        Ok(out)
    }

    /// What Atera last said about one ticket: its status, the latest technician reply, and
    /// whether that reply is unread.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub(crate) fn tracked(
        &self,
        reference: &str,
    ) -> Result<(Option<String>, Option<Reply>, bool), OutboxError> {
        let row = self
            .db()
            .query_row(
                "SELECT status, last_reply_text, last_reply_at, last_reply_by, unread FROM tracking WHERE reference = ?1",
                params![reference],
                |r| {
                    Ok((
                        r.get::<Option<String>>(0)?,
                        r.get::<Option<String>>(1)?,
                        r.get::<Option<String>>(2)?,
                        r.get::<Option<String>>(3)?,
                        r.get::<bool>(4)?,
                    ))
                },
            )
            .optional()?;
        let (status, text, at, by, unread) = row.unwrap_or_default();
        let last_reply = text.filter(|t| !t.trim().is_empty()).map(|text| Reply {
            text,
            at: at.unwrap_or_default(),
            by: by.unwrap_or_else(|| "Technician".into()),
        });
        Ok((status, last_reply, unread))
    }

    fn tracked_open(&self) -> Result<Vec<TrackedRow>, OutboxError> {
        Ok(self.db().query_map(
            "SELECT o.reference, o.ticket_id, COALESCE(o.ticket_number, ''), o.subject, t.status, t.tech_activity_at, COALESCE(t.checked_at, 0)
             FROM outbox o LEFT JOIN tracking t ON t.reference = o.reference
             WHERE o.state = 'sent' AND o.ticket_id IS NOT NULL AND COALESCE(t.closed, 0) = 0
             ORDER BY COALESCE(t.checked_at, 0), o.created_at",
            params![],
            |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
            },
        )?)
    }

    /// Stores what a poll learnt. `activity_at` is Atera's `LastTechnicianCommentTimestamp`,
    /// used only to notice activity; the reply shown is always from the thread, so an internal
    /// note never reaches the user.
    fn record(
        &self,
        reference: &str,
        status: &str,
        activity_at: Option<&str>,
        reply: Option<&Reply>,
        new_reply: bool,
    ) -> Result<(), OutboxError> {
        self.db().execute(
            "INSERT INTO tracking (reference, status, last_reply_text, last_reply_at, last_reply_by, tech_activity_at, unread, closed, checked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(reference) DO UPDATE SET status = excluded.status,
                last_reply_text = COALESCE(excluded.last_reply_text, tracking.last_reply_text),
                last_reply_at = COALESCE(excluded.last_reply_at, tracking.last_reply_at),
                last_reply_by = COALESCE(excluded.last_reply_by, tracking.last_reply_by),
                tech_activity_at = COALESCE(excluded.tech_activity_at, tracking.tech_activity_at),
                unread = CASE WHEN excluded.unread > tracking.unread THEN excluded.unread ELSE tracking.unread END,
                closed = excluded.closed, checked_at = excluded.checked_at",
            params![
                reference,
                status,
                reply.map(|r| r.text.as_str()),
                reply.map(|r| r.at.as_str()),
                reply.map(|r| r.by.as_str()),
                activity_at,
                new_reply,
                is_closed(status),
                now_unix()
            ],
        )?;
        Ok(())
    }

    /// One polite poll cycle (see the module docs). Returns what changed since the last one.
    ///
    /// # Errors
    /// Store failures, and Atera failures other than a rate limit (which pauses polling).
    pub async fn poll_tickets(
        &self,
        client: &AteraClient,
    ) -> Result<Vec<TicketChange>, TrackingError> {
        let (last_poll, paused_until): (Option<String>, i64) = self
            .db()
            .query_row(
                "SELECT last_poll_utc, paused_until FROM poll_state WHERE id = 1",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((None, 0));
        if paused_until > now_unix() {
            tracing::debug!("ticket polling paused after a rate limit");
            return Ok(Vec::new());
        }
        let open = self.tracked_open()?;
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let mut budget = self.take_budget()?;
        if budget == 0 {
            tracing::debug!("ticket polling skipped: this hour's request budget is spent");
            return Ok(Vec::new());
        }
        let granted = budget;
        // A pass reads `lastmodified` since the last complete pass to its last page, across
        // cycles when it is long; the cursor moves past a window only once all of it was read.
        // A pass overlaps the previous one by a minute, and a resumed pass re-reads its last
        // page, so clock skew and items shifting between pages lose nothing.
        let pass: Option<(String, u32, String)> = self
            .db()
            .query_row(
                "SELECT since, next_page, started FROM poll_pass WHERE id = 1",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (since, first_page, started) = match pass {
            Some((since, next, started)) => (since, next.saturating_sub(1).max(1), started),
            None => (
                last_poll.unwrap_or_else(|| now_rfc3339(Duration::from_secs(7 * 24 * 3600))),
                1,
                now_rfc3339(Duration::from_secs(60)),
            ),
        };
        let mine: HashMap<i64, usize> = open.iter().enumerate().map(|(i, t)| (t.1, i)).collect();
        // Each ticket with the list page it was on (0: read by id).
        let mut fresh: Vec<(usize, Ticket, u32)> = Vec::new();
        let mut finished = false;
        let mut page = first_page;
        let result: Result<(), AteraError> = async {
            // List pages leave some of the budget for threads, so a long pass cannot starve them.
            while budget > 0 && (page == first_page || budget > THREAD_RESERVE) {
                budget -= 1;
                let result = client
                    .tickets_modified_since(&since, page, crate::atera::client::MAX_PAGE_SIZE)
                    .await?;
                let last = result.listed < crate::atera::client::MAX_PAGE_SIZE as usize
                    || (result.total_pages > 0
                        && page >= u32::try_from(result.total_pages).unwrap_or(u32::MAX));
                fresh.extend(
                    result
                        .items
                        .into_iter()
                        .filter_map(|t| Some((*mine.get(&t.ticket_id?)?, t, page))),
                );
                page = page.saturating_add(1);
                if last || page > MAX_PASS_PAGES {
                    finished = true;
                    return Ok(());
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {}
            Err(AteraError::NotFound { .. }) => {
                // No lastmodified on this account: check tickets one by one, oldest check first.
                finished = true;
                for (i, t) in open.iter().enumerate().take(budget) {
                    budget -= 1;
                    match client.ticket(t.1).await {
                        Ok(ticket) => fresh.push((i, ticket, 0)),
                        Err(e) => {
                            self.spend_budget(granted - budget)?;
                            return Err(self.pause_if_limited(e));
                        }
                    }
                }
            }
            Err(e) => {
                self.spend_budget(granted - budget)?;
                return Err(self.pause_if_limited(e));
            }
        }
        let mut changes = Vec::new();
        // The first list page holding a ticket whose new thread could not be read this cycle:
        // the pass goes back there, so the reply is not skipped.
        let mut unread_thread_on: Option<u32> = None;
        for (i, ticket, listed_on) in fresh {
            let (reference, ticket_id, number, subject, old_status, old_activity, _) = &open[i];
            let status = ticket.status.clone().unwrap_or_default();
            if let Some(old) = old_status
                .as_ref()
                .filter(|old| !old.eq_ignore_ascii_case(&status) && !status.is_empty())
            {
                changes.push(TicketChange {
                    ticket_id: *ticket_id,
                    ticket_number: number.clone(),
                    subject: subject.clone(),
                    kind: ChangeKind::Status {
                        from: old.clone(),
                        to: status.clone(),
                    },
                });
            }
            // A technician commented. That may be an internal note, so what the user sees comes
            // from the thread, internal notes filtered out.
            let activity = ticket.last_technician_comment_at.clone();
            let mut reply = None;
            let mut new_reply = false;
            let mut noticed = old_activity.clone();
            let mut comments = Vec::new();
            let mut thread_read = false;
            if activity.is_some() && activity != *old_activity {
                // Every page of the thread counts; a thread not read to its end is looked at
                // again next cycle (its activity stays unnoticed).
                let mut comment_page = 1;
                while budget > 0 {
                    budget -= 1;
                    let result = match client.comments_page(*ticket_id, comment_page).await {
                        Ok(r) => r,
                        Err(e) => {
                            self.spend_budget(granted - budget)?;
                            return Err(self.pause_if_limited(e));
                        }
                    };
                    let last = result.listed < crate::atera::client::MAX_PAGE_SIZE as usize
                        || (result.total_pages > 0
                            && i64::from(comment_page) >= i64::from(result.total_pages))
                        || comment_page >= MAX_PASS_PAGES;
                    comments.extend(result.items);
                    comment_page += 1;
                    if last {
                        thread_read = true;
                        break;
                    }
                }
            }
            if activity.is_some() && activity != *old_activity && !thread_read && listed_on > 0 {
                unread_thread_on = Some(unread_thread_on.map_or(listed_on, |p| p.min(listed_on)));
            }
            if thread_read {
                let last_public = comments
                    .into_iter()
                    .filter(|c| !c.is_internal && c.end_user_id.is_none() && c.date.is_some())
                    .max_by(|a, b| {
                        let (a, b) = (
                            a.date.as_deref().unwrap_or(""),
                            b.date.as_deref().unwrap_or(""),
                        );
                        if later(a, b) {
                            std::cmp::Ordering::Greater
                        } else if later(b, a) {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Equal
                        }
                    });
                let last_seen_reply: Option<String> = self
                    .db()
                    .query_row(
                        "SELECT last_reply_at FROM tracking WHERE reference = ?1",
                        params![reference],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                if let Some(c) = last_public {
                    let by = [c.first_name.as_deref(), c.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let r = Reply {
                        text: c.text.unwrap_or_default(),
                        at: c.date.unwrap_or_default(),
                        by: if by.trim().is_empty() {
                            "Technician".into()
                        } else {
                            by
                        },
                    };
                    new_reply = last_seen_reply
                        .as_deref()
                        .is_none_or(|seen| later(&r.at, seen))
                        && !r.text.trim().is_empty();
                    if new_reply {
                        changes.push(TicketChange {
                            ticket_id: *ticket_id,
                            ticket_number: number.clone(),
                            subject: subject.clone(),
                            kind: ChangeKind::Reply {
                                by: r.by.clone(),
                                text: r.text.clone(),
                            },
                        });
                    }
                    reply = Some(r);
                }
                noticed = activity;
            }
            // (Out of budget: the activity stays unnoticed and is looked at next cycle.)
            self.record(
                reference,
                &status,
                noticed.as_deref(),
                reply.as_ref(),
                new_reply,
            )?;
        }
        self.spend_budget(granted - budget)?;
        if let Some(listed_on) = unread_thread_on {
            // Resume at that page (a resumed pass starts one page before the one stored).
            let back_to = listed_on.saturating_add(1);
            if finished || back_to < page {
                page = back_to;
            }
            finished = false;
        }
        if finished {
            self.db()
                .execute("DELETE FROM poll_pass WHERE id = 1", params![])?;
            self.db().execute(
                "INSERT INTO poll_state (id, last_poll_utc, paused_until) VALUES (1, ?1, 0) ON CONFLICT(id) DO UPDATE SET last_poll_utc = ?1, paused_until = 0",
                params![started],
            )?;
        } else {
            self.db().execute(
                "INSERT INTO poll_pass (id, since, next_page, started) VALUES (1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET since = ?1, next_page = ?2, started = ?3",
                params![since, page, started],
            )?;
        }
        Ok(changes)
    }

    /// What this cycle may spend: [`POLL_BUDGET`], or less when the hour's
    /// [`HOURLY_POLL_BUDGET`] is nearly used (manual refreshes count too).
    fn take_budget(&self) -> Result<usize, TrackingError> {
        let now = now_unix();
        let (start, used): (i64, i64) = self
            .db()
            .query_row(
                "SELECT window_start, used FROM poll_budget WHERE id = 1",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((now, 0));
        // A clock that went back, or an hour that passed, starts a new window.
        let used = if now < start || now - start >= 3600 {
            0
        } else {
            used
        };
        let left = (HOURLY_POLL_BUDGET as i64 - used).max(0) as usize;
        Ok(left.min(POLL_BUDGET))
    }

    /// Records `requests` as spent in the current hour.
    fn spend_budget(&self, requests: usize) -> Result<(), TrackingError> {
        let now = now_unix();
        self.db().execute(
            "INSERT INTO poll_budget (id, window_start, used) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET
               window_start = CASE WHEN excluded.window_start < poll_budget.window_start OR excluded.window_start - poll_budget.window_start >= 3600 THEN excluded.window_start ELSE poll_budget.window_start END,
               used = CASE WHEN excluded.window_start < poll_budget.window_start OR excluded.window_start - poll_budget.window_start >= 3600 THEN excluded.used ELSE poll_budget.used + excluded.used END",
            params![now, requests as i64],
        )?;
        Ok(())
    }

    fn pause_if_limited(&self, e: AteraError) -> TrackingError {
        if let AteraError::RateLimited { retry_after } = &e {
            let wait = retry_after
                .unwrap_or(RATE_LIMIT_PAUSE)
                .min(MAX_RATE_LIMIT_PAUSE);
            let until = now_unix().saturating_add(i64::try_from(wait.as_secs()).unwrap_or(0));
            let _ = self.db().execute(
                "INSERT INTO poll_state (id, paused_until) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET paused_until = ?1",
                params![until],
            );
        }
        TrackingError::Atera(e)
    }

    pub(crate) fn reference_of(&self, ticket_id: i64) -> Result<String, TrackingError> {
        self.db()
            .query_row(
                "SELECT reference FROM outbox WHERE ticket_id = ?1",
                params![ticket_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(TrackingError::NotMine(ticket_id))
    }

    /// The conversation of one of this PC's tickets, oldest first, without internal notes; marks
    /// it read.
    ///
    /// # Errors
    /// [`TrackingError::NotMine`] for other tickets, or Atera's failure.
    pub async fn thread(
        &self,
        client: &AteraClient,
        ticket_id: i64,
    ) -> Result<Vec<ThreadComment>, TrackingError> {
        let reference = self.reference_of(ticket_id)?;
        let comments = client.comments(ticket_id).await?;
        self.db().execute(
            "UPDATE tracking SET unread = 0 WHERE reference = ?1",
            params![reference],
        )?;
        // The ticket's own description comes back as plain text with the whole machine report;
        // the user wrote only the message, so that is what they see.
        let own_message = self.submission(&reference).ok().map(|s| s.form.description);
        let marker = format!("ref {reference}");
        Ok(comments
            .into_iter()
            .filter(|c| !c.is_internal)
            .map(|mut c| {
                if c.text.as_deref().is_some_and(|t| t.contains(&marker)) {
                    c.text.clone_from(&own_message);
                }
                let is_technician = c.end_user_id.is_none();
                let name = [c.first_name.as_deref(), c.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                ThreadComment {
                    date: c.date.unwrap_or_default(),
                    text: c.text.unwrap_or_default(),
                    from: if is_technician {
                        if name.trim().is_empty() {
                            "Technician".into()
                        } else {
                            name
                        }
                    } else {
                        "You".into()
                    },
                    is_technician,
                }
            })
            .collect())
    }

    /// Posts the user's reply to one of this PC's tickets, as the requester
    /// (`EnduserCommentDetails`).
    ///
    /// # Errors
    /// An empty reply, another PC's ticket, or Atera's failure.
    pub async fn reply(
        &self,
        client: &AteraClient,
        ticket_id: i64,
        text: &str,
    ) -> Result<(), TrackingError> {
        if text.trim().is_empty() {
            return Err(TrackingError::EmptyReply);
        }
        let reference = self.reference_of(ticket_id)?;
        let known = self.submission(&reference)?.contact.and_then(|c| match c {
            ContactMatch::Existing { end_user_id, .. }
            | ContactMatch::CreatedUnderCustomer { end_user_id, .. }
            | ContactMatch::Fallback { end_user_id, .. } => Some(end_user_id),
            _ => None,
        });
        let end_user_id = match known {
            Some(id) => id,
            None => client
                .ticket(ticket_id)
                .await?
                .end_user_id
                .ok_or(TrackingError::NotMine(ticket_id))?,
        };
        let comment = CreateEndUserComment {
            text: text.trim().to_string(),
            end_user: EndUserCommentDetails { end_user_id },
        };
        client.create_end_user_comment(ticket_id, &comment).await?;
        tracing::info!(ticket_id, "reply posted");
        Ok(())
    }
}
