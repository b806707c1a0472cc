//! The durable outbox: every submission is written here (SQLite, WAL, fully synced) before any
//! network call, and delivered from here exactly once, however often the network, Atera or the
//! app itself fails.
//!
//! Exactly once rests on two things: the submission's reference travels in the ticket, and an
//! attempt is recorded *before* its request is sent. An entry with an earlier attempt is
//! delivered as "resumed": the ticket is looked for by its reference before anything is sent
//! again (see [`crate::submit::deliver`]). Deliveries are serialized: one at a time per machine.
//! Nothing is ever deleted silently: entries past the retry horizon stay, marked failed, until
//! someone retries them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::atera::{AteraClient, AteraError};
use crate::settings::Settings;
use crate::submit::{deliver, PreparedSubmission, RetryPolicy, SubmitError, SubmitOutcome};

/// How long an entry keeps being retried automatically.
pub const RETRY_HORIZON: Duration = Duration::from_secs(3 * 24 * 3600);
/// Waits between automatic attempts: 30 s doubling to at most 30 min.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// Errors of the outbox store.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the outbox database {path} could not be opened: {source}. Check that the folder is writable.")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the outbox database failed: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("an outbox entry could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("there is no outbox entry {0}")]
    NotFound(String),
    #[error("the outbox could not be locked for delivery: {0}")]
    Lock(String),
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt started and has not finished (or the app stopped during it).
    Sending,
    /// Filed in Atera.
    Sent,
    /// Past the retry horizon, or refused by Atera for good; retried only when asked.
    Failed,
}

impl EntryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One submission as the outbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub reference: String,
    pub created_at: String,
    pub subject: String,
    pub requester_email: String,
    pub state: EntryState,
    pub attempts: u32,
    /// Unix seconds of the next automatic attempt.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
}

/// The result of delivering one entry.
#[derive(Debug)]
pub enum DeliveryResult {
    Sent {
        reference: String,
        outcome: SubmitOutcome,
    },
    /// Will be retried automatically.
    Retrying {
        reference: String,
        error: SubmitError,
        next_attempt_at: i64,
    },
    /// Will not be retried automatically.
    Failed {
        reference: String,
        error: SubmitError,
    },
}

/// The outbox database.
pub struct Outbox {
    conn: Mutex<Connection>,
    /// Held (an OS file lock) while an entry is being delivered, so the app and `outbox flush`
    /// never deliver at the same time; the OS releases it if the process dies.
    lock_file: PathBuf,
    /// Serializes deliveries: one at a time per machine, across threads of this process.
    delivering: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

/// The outbox file in the data directory.
pub fn outbox_file(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox.sqlite3")
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Outbox {
    /// Opens (and creates) the outbox at `path`.
    ///
    /// # Errors
    /// [`OutboxError::Open`] when the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Self, OutboxError> {
        let open_err = |source| OutboxError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // WAL lets the CLI read while the app writes; FULL sync makes a returned insert survive
        // a power cut, which is the whole point of this table.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outbox (
                reference TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                subject TEXT NOT NULL,
                requester_email TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_error TEXT,
                ticket_id INTEGER,
                ticket_number TEXT,
                submission TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at);
            CREATE TABLE IF NOT EXISTS tracking (
                reference TEXT PRIMARY KEY,
                status TEXT,
                last_reply_text TEXT,
                last_reply_at TEXT,
                last_reply_by TEXT,
                tech_activity_at TEXT,
                unread INTEGER NOT NULL DEFAULT 0,
                closed INTEGER NOT NULL DEFAULT 0,
                checked_at INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS poll_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                last_poll_utc TEXT,
                paused_until INTEGER NOT NULL DEFAULT 0
            );",
        )
        .map_err(open_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(Self {
            conn: Mutex::new(conn),
            lock_file: path.with_extension("lock"),
            delivering: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a submission, due now. Returns once it is on disk.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn enqueue(&self, submission: &PreparedSubmission) -> Result<(), OutboxError> {
        let json = serde_json::to_string(submission)?;
        self.conn().execute(
            "INSERT OR IGNORE INTO outbox (reference, created_at, subject, requester_email, state, attempts, next_attempt_at, submission)
             VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6)",
            params![
                submission.reference,
                submission.created_at,
                crate::ticket::ticket_title(&submission.form),
                submission.form.email,
                now_unix(),
                json
            ],
        )?;
        tracing::info!(
            reference = submission.reference,
            bytes = json.len(),
            "submission saved to the outbox"
        );
        Ok(())
    }

    /// The stored submission.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`], or an unreadable entry.
    pub fn submission(&self, reference: &str) -> Result<PreparedSubmission, OutboxError> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT submission FROM outbox WHERE reference = ?1",
                [reference],
                |r| r.get(0),
            )
            .optional()?;
        let json = json.ok_or_else(|| OutboxError::NotFound(reference.to_string()))?;
        Ok(serde_json::from_str(&json)?)
    }

    /// Every entry, newest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn list(&self) -> Result<Vec<OutboxEntry>, OutboxError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT reference, created_at, subject, requester_email, state, attempts, next_attempt_at, last_error, ticket_id, ticket_number
             FROM outbox ORDER BY created_at DESC, reference",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OutboxEntry {
                reference: r.get(0)?,
                created_at: r.get(1)?,
                subject: r.get(2)?,
                requester_email: r.get(3)?,
                state: EntryState::parse(&r.get::<_, String>(4)?),
                attempts: r.get(5)?,
                next_attempt_at: r.get(6)?,
                last_error: r.get(7)?,
                ticket_id: r.get(8)?,
                ticket_number: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many entries are not yet sent (pending, sending or failed).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn unsent_count(&self) -> Result<usize, OutboxError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM outbox WHERE state != 'sent'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// References due for an attempt, oldest first. With `include_failed`, failed entries too
    /// (a manual flush).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn due(&self, now: i64, include_failed: bool) -> Result<Vec<String>, OutboxError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT reference FROM outbox
             WHERE (state IN ('pending', 'sending') AND next_attempt_at <= ?1) OR (?2 AND state = 'failed')
             ORDER BY created_at, reference",
        )?;
        let refs = stmt.query_map(params![now, include_failed], |r| r.get(0))?;
        Ok(refs.collect::<Result<_, _>>()?)
    }

    /// When the next automatic attempt is due, if any entry waits.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn next_due_at(&self) -> Result<Option<i64>, OutboxError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('pending', 'sending')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Makes failed entries (or one) due again now.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn retry(&self, reference: Option<&str>) -> Result<usize, OutboxError> {
        let n = self.conn().execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?1 WHERE state IN ('failed', 'pending') AND (?2 IS NULL OR reference = ?2)",
            params![now_unix(), reference],
        )?;
        Ok(n)
    }

    /// Waits for the machine-wide delivery lock (another process may be delivering).
    async fn lock_machine_wide(&self) -> Result<std::fs::File, OutboxError> {
        let path = self.lock_file.clone();
        let locked = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
        locked.map_err(|e| OutboxError::Lock(e.to_string()))
    }

    /// Records that an attempt starts, *before* its request is sent, and returns whether an
    /// earlier attempt may already have created the ticket.
    fn begin_attempt(&self, reference: &str) -> Result<bool, OutboxError> {
        let conn = self.conn();
        let attempts: u32 = conn.query_row(
            "SELECT attempts FROM outbox WHERE reference = ?1",
            [reference],
            |r| r.get(0),
        )?;
        conn.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE reference = ?1",
            [reference],
        )?;
        Ok(attempts > 0)
    }

    fn finish(
        &self,
        reference: &str,
        result: &Result<SubmitOutcome, SubmitError>,
        created_at: &str,
    ) -> Result<Option<i64>, OutboxError> {
        let conn = self.conn();
        match result {
            Ok(outcome) => {
                conn.execute(
                    "UPDATE outbox SET state = 'sent', last_error = NULL, ticket_id = ?2, ticket_number = ?3 WHERE reference = ?1",
                    params![reference, outcome.ticket_id, outcome.ticket_number],
                )?;
                Ok(None)
            }
            Err(error) => {
                let attempts: u32 = conn.query_row(
                    "SELECT attempts FROM outbox WHERE reference = ?1",
                    [reference],
                    |r| r.get(0),
                )?;
                let age = time::OffsetDateTime::parse(
                    created_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .map(|t| (time::OffsetDateTime::now_utc() - t).whole_seconds())
                .unwrap_or(0);
                let gives_up = !keeps_retrying(error) || age > RETRY_HORIZON.as_secs() as i64;
                let next = now_unix() + next_wait(attempts, error).as_secs() as i64;
                conn.execute(
                    "UPDATE outbox SET state = ?2, last_error = ?3, next_attempt_at = ?4 WHERE reference = ?1",
                    params![reference, if gives_up { EntryState::Failed } else { EntryState::Pending }.as_str(), error.to_string(), next],
                )?;
                Ok((!gives_up).then_some(next))
            }
        }
    }

    /// Delivers one entry now, whatever its schedule. Serialized with every other delivery.
    ///
    /// # Errors
    /// Only store failures; a delivery failure is a [`DeliveryResult`].
    pub async fn deliver_one(
        &self,
        reference: &str,
        client: &AteraClient,
        settings: &Settings,
        app_version: &str,
        policy: &RetryPolicy,
    ) -> Result<DeliveryResult, OutboxError> {
        let _serial = self.delivering.lock().await;
        let _machine = self.lock_machine_wide().await?;
        let submission = self.submission(reference)?;
        if let Some(entry) = self
            .list()?
            .into_iter()
            .find(|e| e.reference == reference && e.state == EntryState::Sent)
        {
            // Delivered meanwhile (by another caller): report it, never send again.
            let outcome = SubmitOutcome {
                ticket_id: entry.ticket_id.unwrap_or_default(),
                ticket_number: entry.ticket_number.unwrap_or_default(),
                reference: reference.to_string(),
                adopted: true,
                contact: submission.contact.clone().unwrap_or(
                    crate::submit::ContactMatch::NameAndEmail {
                        first_name: String::new(),
                        last_name: String::new(),
                    },
                ),
                screenshot_bytes: 0,
                omitted_screenshots: 0,
            };
            return Ok(DeliveryResult::Sent {
                reference: reference.to_string(),
                outcome,
            });
        }
        let resumed = self.begin_attempt(reference)?;
        let result = deliver(client, settings, &submission, resumed, app_version, policy).await;
        let retry_at = self.finish(reference, &result, &submission.created_at)?;
        Ok(match (result, retry_at) {
            (Ok(outcome), _) => {
                tracing::info!(
                    reference,
                    ticket_id = outcome.ticket_id,
                    "outbox entry delivered"
                );
                DeliveryResult::Sent {
                    reference: reference.to_string(),
                    outcome,
                }
            }
            (Err(error), Some(next_attempt_at)) => {
                tracing::info!(
                    reference,
                    kind = error.kind(),
                    "outbox entry will be retried"
                );
                DeliveryResult::Retrying {
                    reference: reference.to_string(),
                    error,
                    next_attempt_at,
                }
            }
            (Err(error), None) => {
                tracing::warn!(
                    reference,
                    kind = error.kind(),
                    "outbox entry failed; it stays until retried"
                );
                DeliveryResult::Failed {
                    reference: reference.to_string(),
                    error,
                }
            }
        })
    }

    /// Delivers every due entry, one after another. With `force`, every unsent entry now,
    /// failed ones and ones waiting for their backoff included (a manual flush). Stops early
    /// when Atera answers 429, so a rate limit is not hammered.
    ///
    /// # Errors
    /// Only store failures.
    pub async fn deliver_due(
        &self,
        client: &AteraClient,
        settings: &Settings,
        app_version: &str,
        policy: &RetryPolicy,
        force: bool,
    ) -> Result<Vec<DeliveryResult>, OutboxError> {
        let mut results = Vec::new();
        let now = if force { i64::MAX } else { now_unix() };
        for reference in self.due(now, force)? {
            let result = self
                .deliver_one(&reference, client, settings, app_version, policy)
                .await?;
            let rate_limited = matches!(
                &result,
                DeliveryResult::Retrying {
                    error: SubmitError::Atera(AteraError::RateLimited { .. }),
                    ..
                }
            );
            results.push(result);
            if rate_limited {
                break;
            }
        }
        Ok(results)
    }
}

/// Whether an error can go away by itself (or by an admin fixing the settings), so the entry
/// keeps being retried. A request Atera refuses as invalid will be refused again.
fn keeps_retrying(error: &SubmitError) -> bool {
    match error {
        SubmitError::Atera(AteraError::Validation { .. } | AteraError::Decode { .. }) => false,
        SubmitError::Atera(_) | SubmitError::NotConfigured(_) => true,
        _ => false,
    }
}

/// The wait before the next automatic attempt: Atera's `Retry-After` when it gave one,
/// otherwise 30 s doubling per attempt up to 30 min.
fn next_wait(attempts: u32, error: &SubmitError) -> Duration {
    if let SubmitError::Atera(AteraError::RateLimited {
        retry_after: Some(wait),
    }) = error
    {
        return (*wait).max(Duration::from_secs(1));
    }
    FIRST_BACKOFF
        .saturating_mul(1 << attempts.saturating_sub(1).min(10))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_and_honours_retry_after() {
        let server = SubmitError::Atera(AteraError::Server {
            status: 503,
            detail: None,
        });
        assert_eq!(next_wait(1, &server), Duration::from_secs(30));
        assert_eq!(next_wait(2, &server), Duration::from_secs(60));
        assert_eq!(next_wait(20, &server), MAX_BACKOFF);
        let limited = SubmitError::Atera(AteraError::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
        });
        assert_eq!(next_wait(1, &limited), Duration::from_secs(120));
    }

    #[test]
    fn only_lasting_refusals_stop_automatic_retries() {
        assert!(keeps_retrying(&SubmitError::Atera(AteraError::Timeout(
            Duration::from_secs(1)
        ))));
        assert!(keeps_retrying(&SubmitError::Atera(
            AteraError::Unauthorized {
                status: 401,
                detail: None
            }
        )));
        assert!(!keeps_retrying(&SubmitError::Atera(
            AteraError::Validation {
                detail: "bad".into()
            }
        )));
    }
}

/// How a submission ended for the person who made it.
#[derive(Debug)]
pub enum Submitted {
    /// Filed in Atera now.
    Sent(SubmitOutcome),
    /// Saved on this PC; it will be sent automatically (or, when `waits_for_admin`, once someone
    /// fixes the problem and retries it).
    Queued {
        reference: String,
        /// For the user.
        reason: String,
        /// For an admin: what failed and how to fix it.
        detail: String,
        waits_for_admin: bool,
    },
}

/// The retry policy while a person waits for the answer: a few quick tries, then the outbox's
/// own schedule takes over.
pub const INTERACTIVE_POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(4),
    max_total: Duration::from_secs(15),
};

/// The submission path of the form and the CLI: prepare (validate, match the requester), save to
/// the outbox, then try to deliver right away. Whatever happens to the network or Atera, the
/// ticket is either filed or saved.
///
/// # Errors
/// Only what the person must fix ([`SubmitError::Invalid`]), or a failure to save the ticket.
pub async fn submit(
    outbox: &Outbox,
    client: Result<&AteraClient, &SubmitError>,
    settings: &Settings,
    submission: crate::submit::Submission<'_>,
    app_version: &str,
    policy: &RetryPolicy,
) -> Result<Submitted, SubmitError> {
    let prepared = crate::submit::prepare(client.ok(), settings, submission, policy).await?;
    outbox
        .enqueue(&prepared)
        .map_err(|e| SubmitError::Storage(e.to_string()))?;
    let reference = prepared.reference.clone();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            return Ok(Submitted::Queued {
                reference,
                reason: e.user_message(),
                detail: e.to_string(),
                waits_for_admin: true,
            });
        }
    };
    match outbox
        .deliver_one(&reference, client, settings, app_version, policy)
        .await
        .map_err(|e| SubmitError::Storage(e.to_string()))?
    {
        DeliveryResult::Sent { outcome, .. } => Ok(Submitted::Sent(outcome)),
        DeliveryResult::Retrying { error, .. } => Ok(Submitted::Queued {
            reference,
            reason: error.user_message(),
            detail: error.to_string(),
            waits_for_admin: false,
        }),
        DeliveryResult::Failed { error, .. } => Ok(Submitted::Queued {
            reference,
            reason: error.user_message(),
            detail: error.to_string(),
            waits_for_admin: true,
        }),
    }
}
