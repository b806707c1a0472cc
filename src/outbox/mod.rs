//! The durable outbox: every submission is written here (SQLite, WAL, fully synced) exactly as
//! the user sent it, before any network call, and delivered from here exactly once, however
//! often the network, Atera or the app itself fails.
//!
//! # One entry, one small state machine
//!
//! ```text
//!  new ──compose──▶ ready ──(recorded first)──▶ posting ──201──▶ sent
//!   │  (contact, rules,  ▲                         │
//!   │   render; stored)  │ two clean lookups       │ timeout / lost connection / 502 / 504 /
//!   │                    │ after the list lag      ▼ the app killed mid-request
//!   │                    └──────────────────── unconfirmed ──lookup finds it──▶ sent (adopted)
//!   ├─ rule `exception` ─▶ blocked
//!   └─ lasting refusal, or 3 days of retryable failures ─▶ failed (retried only by hand)
//! ```
//!
//! - **new**: saved, nothing sent. Delivery matches the requester, runs the rules and renders
//!   the ticket ([`pipeline::compose`]); the result is stored, so every later attempt sends the
//!   same request.
//! - **posting** is written *before* the `POST` goes out. An entry found in it at the start of a
//!   delivery (the app was killed, or the attempt's deadline struck) may have created its ticket.
//! - **unconfirmed** never sends: it waits until Atera's lists have caught up (a new ticket can
//!   take up to 30 s to be listed, [`DeliveryTiming::list_lag`]), then looks for the ticket by its
//!   reference ([`lookup`]). Found: adopted. Absent in two lookups a little apart: back to ready.
//!   A lookup that fails in any way only waits and looks again; it never leads to a `POST`, and
//!   never marks the entry failed.
//! - 429 pauses every delivery until its (capped) `Retry-After`; 5xx and 429 follow the backoff
//!   (30 s doubling to 30 min); only connection failures also wait for the network probe
//!   ([`worker`]).
//!
//! Deliveries are serialized: one at a time per machine (a mutex in the process, an OS file lock
//! across processes). One entry that cannot be read or delivered is set aside with its reason and
//! the rest go on. Nothing is ever deleted silently.

pub mod lookup;
pub mod pipeline;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Serialize;

use crate::atera::AteraError;
use crate::db::{params, Db, DbError, OptionalExtension, Sql};
use crate::settings::Settings;
use crate::submit::{SavedSubmission, Submission, SubmitError, SubmitOutcome};
pub use pipeline::{Composed, Delivery, Destination};
pub use worker::{Clock, ManualClock, SystemClock};

/// How long an entry keeps being retried automatically.
pub const RETRY_HORIZON: Duration = Duration::from_secs(3 * 24 * 3600);
/// Waits between automatic attempts: 30 s doubling to at most 30 min.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// The longest `Retry-After` honoured; a larger (or absurd) value means this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// A 429 without `Retry-After` pauses deliveries this long.
const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(60);
/// No wait the outbox schedules is longer than this; a due time further ahead means the wall
/// clock went backwards, and the entry is due now rather than stranded.
const MAX_SCHEDULED_WAIT: Duration = Duration::from_secs(2 * 3600);

/// Errors of the outbox store.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the outbox database {path} could not be opened: {source}. Check that the folder is writable.")]
    Open { path: PathBuf, source: DbError },
    #[error("the outbox database {path} could not be created: {source}. Check that the folder is writable.")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the outbox database failed: {0}")]
    Database(#[from] DbError),
    #[error("an outbox entry could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("there is no outbox entry {0}")]
    NotFound(String),
    #[error("the outbox could not be locked for delivery: {0}")]
    Lock(String),
}

/// Where an entry stands, as people are shown it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting for its next attempt.
    Pending,
    /// Sent, or being sent, without an answer yet: being confirmed with Atera.
    Sending,
    /// Filed in Atera.
    Sent,
    /// Refused for good, past the retry horizon, unreadable, or stopped by a rule; retried only
    /// when asked.
    Failed,
}

/// The delivery state machine's states (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    New,
    Ready,
    Posting,
    Unconfirmed,
    Sent,
    Failed,
    Blocked,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Ready => "ready",
            Self::Posting => "posting",
            Self::Unconfirmed => "unconfirmed",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "ready" => Self::Ready,
            "posting" => Self::Posting,
            "unconfirmed" => Self::Unconfirmed,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "blocked" => Self::Blocked,
            _ => Self::New,
        }
    }

    /// The state people see.
    pub fn state(self) -> EntryState {
        match self {
            Self::New | Self::Ready => EntryState::Pending,
            Self::Posting | Self::Unconfirmed => EntryState::Sending,
            Self::Sent => EntryState::Sent,
            Self::Failed | Self::Blocked => EntryState::Failed,
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
    /// Unix seconds of the next automatic attempt (or check, while being confirmed).
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    /// Stopped by the dispatcher rules (a kind of failed).
    #[serde(skip)]
    pub blocked: bool,
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
    /// Sent without a conclusive answer: Atera is asked whether the ticket exists once its lists
    /// have caught up (at `check_at`), and only then, if it does not, is it sent again.
    Confirming {
        reference: String,
        check_at: i64,
        /// What made the last attempt or lookup inconclusive.
        error: Option<SubmitError>,
    },
    /// Will not be retried automatically.
    Failed {
        reference: String,
        error: SubmitError,
    },
    /// The dispatcher rules stopped it (their `exception`).
    Blocked { reference: String, reason: String },
    /// Another relay instance on the same Postgres holds it and is delivering it.
    Elsewhere { reference: String },
}

impl DeliveryResult {
    /// The entry's reference.
    pub fn reference(&self) -> &str {
        match self {
            Self::Sent { reference, .. }
            | Self::Retrying { reference, .. }
            | Self::Confirming { reference, .. }
            | Self::Failed { reference, .. }
            | Self::Blocked { reference, .. }
            | Self::Elsewhere { reference } => reference,
        }
    }

    /// Whether Atera (or the relay) asked to wait.
    pub fn rate_limited(&self) -> bool {
        let error = match self {
            Self::Retrying { error, .. } => Some(error),
            Self::Confirming { error, .. } => error.as_ref(),
            _ => None,
        };
        error.is_some_and(|e| e.rate_limit().is_some())
    }
}

/// Timing of the exactly-once protocol.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryTiming {
    /// How long after an ambiguous attempt the first lookup waits: a new ticket can take up to
    /// 30 s to appear in Atera's lists; 45 s leaves a margin.
    pub list_lag: Duration,
    /// The wait between the two lookups that must both find nothing before a resend.
    pub scan_gap: Duration,
    /// Lookups in a row that must find nothing before a resend.
    pub clean_scans: u32,
    /// The whole delivery of one entry (all its requests) ends after its retry policy's
    /// `max_total` plus this.
    pub deadline_allowance: Duration,
    /// How long a delivery to the relay waits for the ticket to be filed before it takes "stored
    /// on the relay" as done (so the user usually sees the number).
    pub relay_wait: Duration,
}

impl Default for DeliveryTiming {
    fn default() -> Self {
        let timing = Self {
            list_lag: Duration::from_secs(45),
            scan_gap: Duration::from_secs(30),
            clean_scans: 2,
            deadline_allowance: Duration::from_secs(120),
            relay_wait: Duration::from_secs(8),
        };
        // Debug builds only (the test suites): a shorter lag, so tests of the real app and CLI
        // against the sandbox need not wait 45 s per lost answer. A shipped binary ignores it.
        #[cfg(debug_assertions)]
        let timing = match std::env::var("HELPDESK_BUTTON_TEST_LIST_LAG_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(ms) => Self {
                list_lag: Duration::from_millis(ms),
                scan_gap: Duration::from_millis(ms),
                ..timing
            },
            None => timing,
        };
        timing
    }
}

/// The outbox database.
pub struct Outbox {
    db: Db,
    /// Held (an OS file lock) while an entry is being delivered, so the app and `outbox flush`
    /// never deliver at the same time; the OS releases it if the process dies. `None` in memory.
    lock_file: Option<PathBuf>,
    /// Serializes deliveries: one at a time per machine, across threads of this process.
    delivering: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    timing: DeliveryTiming,
    /// Postgres, shared by several relay instances: the claim an instance holds on the entry it
    /// delivers (instead of the file lock).
    #[cfg(feature = "postgres")]
    claims: Option<crate::db::pg::Claims>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

const ENTRY_COLUMNS: &str = "reference, created_at, subject, requester_email, stage, attempts, next_attempt_at, last_error, ticket_id, ticket_number";

fn entry_row(r: &crate::db::Row) -> Result<OutboxEntry, DbError> {
    Ok(OutboxEntry {
        reference: r.get(0)?,
        created_at: r.get(1)?,
        subject: r.get(2)?,
        requester_email: r.get(3)?,
        state: Stage::parse(&r.get::<String>(4)?).state(),
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        ticket_id: r.get(8)?,
        ticket_number: r.get(9)?,
        blocked: r.get::<String>(4)? == "blocked",
    })
}

/// The outbox file in the data directory.
pub fn outbox_file(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox.sqlite3")
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS outbox (
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
    );
    CREATE TABLE IF NOT EXISTS poll_pass (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        since TEXT NOT NULL,
        next_page INTEGER NOT NULL,
        started TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS poll_budget (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        window_start INTEGER NOT NULL,
        used INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS delivery_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        paused_until INTEGER NOT NULL DEFAULT 0
    );";

/// Columns added after the first release, with how an older row's value is derived.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "stage",
        "TEXT",
        // An old row with an attempt may have created its ticket: confirm before resending.
        "CASE state WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed' ELSE CASE WHEN attempts > 0 THEN 'posting' ELSE 'new' END END",
    ),
    ("composed", "TEXT", "NULL"),
    ("first_posted_at", "INTEGER", "NULL"),
    ("clean_scans", "INTEGER NOT NULL DEFAULT 0", "0"),
    ("last_error_kind", "TEXT", "NULL"),
    // `relay` once the entry was handed to the MSP's relay (outbox::forward).
    ("via", "TEXT", "NULL"),
];

impl Outbox {
    /// Opens (and creates) the outbox at `path`, on the system clock.
    ///
    /// # Errors
    /// [`OutboxError::Open`] when the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Self, OutboxError> {
        Self::open_with(path, Arc::new(SystemClock), DeliveryTiming::default())
    }

    /// [`Outbox::open`] with a clock and timing of the caller's (tests use a [`ManualClock`]).
    ///
    /// # Errors
    /// As [`Outbox::open`].
    pub fn open_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        timing: DeliveryTiming,
    ) -> Result<Self, OutboxError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        create_private(path)?;
        let conn = Connection::open(path).map_err(|source| OutboxError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        })?;
        Self::set_up(conn, Some(path.with_extension("lock")), clock, timing).map_err(|source| {
            OutboxError::Open {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// An outbox that lives only in memory: the direct submission path ([`crate::submit::
    /// submit_ticket`]) runs the same pipeline through it.
    ///
    /// # Errors
    /// When SQLite cannot set it up.
    pub fn in_memory() -> Result<Self, OutboxError> {
        let conn = Connection::open_in_memory().map_err(DbError::from)?;
        Ok(Self::set_up(
            conn,
            None,
            Arc::new(SystemClock),
            DeliveryTiming::default(),
        )?)
    }

    fn set_up(
        conn: Connection,
        lock_file: Option<PathBuf>,
        clock: Arc<dyn Clock>,
        timing: DeliveryTiming,
    ) -> Result<Self, DbError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL lets the CLI read while the app writes; FULL sync makes a returned insert survive
        // a power cut, which is the whole point of this table.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let existing: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('outbox')")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for (name, ty, derive) in ADDED_COLUMNS {
            if !existing.iter().any(|c| c == name) {
                conn.execute_batch(&format!(
                    "ALTER TABLE outbox ADD COLUMN {name} {ty}; UPDATE outbox SET {name} = {derive};"
                ))?;
            }
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS outbox_stage ON outbox(stage, next_attempt_at);",
        )?;
        Ok(Self {
            db: Db::sqlite(conn),
            lock_file,
            delivering: tokio::sync::Mutex::new(()),
            clock,
            timing,
            #[cfg(feature = "postgres")]
            claims: None,
        })
    }

    /// The relay's queue in Postgres at `url`, shared by every relay instance on it: each entry
    /// is delivered by the one instance that holds its claim (see [`crate::db::pg::Claims`]).
    ///
    /// # Errors
    /// [`OutboxError::Database`] when Postgres cannot be reached or set up.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(
        url: &str,
        clock: Arc<dyn Clock>,
        timing: DeliveryTiming,
    ) -> Result<Self, OutboxError> {
        let mut schema = crate::db::postgres_schema(SCHEMA);
        for (name, ty, _) in ADDED_COLUMNS {
            schema.push_str(&format!(
                "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS {name} {};",
                crate::db::postgres_schema(ty)
            ));
        }
        schema.push_str(
            "CREATE INDEX IF NOT EXISTS outbox_stage ON outbox(stage, next_attempt_at);
             CREATE TABLE IF NOT EXISTS outbox_claims (reference TEXT PRIMARY KEY);",
        );
        Ok(Self {
            db: Db::postgres(url, &schema)?,
            lock_file: None,
            delivering: tokio::sync::Mutex::new(()),
            clock,
            timing,
            claims: Some(crate::db::pg::Claims::open(url)?),
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Now, by the outbox's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Stores a submission exactly as the user sent it, due now. Returns once it is on disk.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn enqueue(&self, submission: &SavedSubmission) -> Result<(), OutboxError> {
        let json = serde_json::to_string(submission)?;
        self.db().execute(
            "INSERT INTO outbox (reference, created_at, subject, requester_email, state, stage, attempts, next_attempt_at, submission)
             VALUES (?1, ?2, ?3, ?4, 'pending', 'new', 0, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                submission.reference,
                submission.created_at,
                crate::ticket::ticket_title(&submission.form),
                submission.form.email,
                self.now(),
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
    pub fn submission(&self, reference: &str) -> Result<SavedSubmission, OutboxError> {
        let json: Option<String> = self
            .db()
            .query_row(
                "SELECT submission FROM outbox WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()?;
        let json = json.ok_or_else(|| OutboxError::NotFound(reference.to_string()))?;
        Ok(serde_json::from_str(&json)?)
    }

    /// Every entry, newest first (entries stopped by a rule in the form itself are not kept).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn list(&self) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(self.db().query_map(
            &format!("SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY created_at DESC, reference"),
            params![],
            entry_row,
        )?)
    }

    /// One entry as [`Outbox::list`] shows it.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn entry(&self, reference: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE reference = ?1"),
                params![reference],
                entry_row,
            )
            .optional()?)
    }

    /// An entry's stage in the state machine.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`], or the database cannot be read.
    pub fn stage(&self, reference: &str) -> Result<Stage, OutboxError> {
        let stage: Option<String> = self
            .db()
            .query_row(
                "SELECT stage FROM outbox WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()?;
        stage
            .map(|s| Stage::parse(&s))
            .ok_or_else(|| OutboxError::NotFound(reference.to_string()))
    }

    /// How many entries are not yet sent.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn unsent_count(&self) -> Result<usize, OutboxError> {
        let n: i64 = self.db().query_row(
            "SELECT COUNT(*) FROM outbox WHERE stage != 'sent'",
            params![],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// References due for an attempt (or a check), oldest first. With `force` (a manual flush),
    /// entries waiting for their backoff and failed entries too; never an unconfirmed entry
    /// before Atera's lists have caught up.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn due(&self, now: i64, force: bool) -> Result<Vec<String>, OutboxError> {
        Ok(self.db().query_map(
            "SELECT reference FROM outbox
             WHERE stage = 'posting'
                OR (stage IN ('new', 'ready', 'unconfirmed') AND (next_attempt_at <= CAST(?1 AS BIGINT) OR next_attempt_at > CAST(?1 AS BIGINT) + CAST(?2 AS BIGINT)))
                OR (CAST(?3 AS BOOLEAN) AND stage IN ('new', 'ready', 'failed'))
             ORDER BY created_at, reference",
            params![now, MAX_SCHEDULED_WAIT.as_secs() as i64, force],
            |r| r.get(0),
        )?)
    }

    /// When the next automatic attempt or check is due (Unix seconds), if any entry waits; a
    /// rate-limit pause moves it later.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn next_due_at(&self) -> Result<Option<i64>, OutboxError> {
        let now = self.now();
        let next: Option<i64> = self.db().query_row(
            "SELECT MIN(CASE WHEN stage = 'posting' OR next_attempt_at > CAST(?1 AS BIGINT) + CAST(?2 AS BIGINT) THEN CAST(?1 AS BIGINT) ELSE next_attempt_at END)
             FROM outbox WHERE stage IN ('new', 'ready', 'posting', 'unconfirmed')",
            params![now, MAX_SCHEDULED_WAIT.as_secs() as i64],
            |r| r.get(0),
        )?;
        let paused = self.paused_until()?;
        Ok(next.map(|n| n.max(paused.unwrap_or(i64::MIN))))
    }

    /// Makes failed entries (or one) due again now. Entries stopped by a rule run the rules
    /// again; an entry whose answer is being confirmed is left to finish confirming.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn retry(&self, reference: Option<&str>) -> Result<usize, OutboxError> {
        let n = self.db().execute(
            "UPDATE outbox SET
                stage = CASE WHEN stage = 'blocked' OR composed IS NULL THEN 'new' ELSE 'ready' END,
                state = 'pending', next_attempt_at = ?1
             WHERE stage IN ('failed', 'blocked', 'new', 'ready') AND (CAST(?2 AS TEXT) IS NULL OR reference = CAST(?2 AS TEXT))",
            params![self.now(), reference],
        )?;
        Ok(n)
    }

    /// Called when the network is back: entries that waited for it are due now. Entries waiting
    /// for a backoff after 429 or 5xx, and failed entries, keep their schedule.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn network_is_back(&self) -> Result<usize, OutboxError> {
        Ok(self.db().execute(
            "UPDATE outbox SET next_attempt_at = ?1
             WHERE stage IN ('new', 'ready') AND last_error_kind IN ('connect', 'host-not-found') AND next_attempt_at > ?1",
            params![self.now()],
        )?)
    }

    /// Whether an entry waits because the network (not Atera) was unreachable.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn waits_for_network(&self) -> Result<bool, OutboxError> {
        Ok(self.db().query_row(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE stage IN ('new', 'ready') AND last_error_kind IN ('connect', 'host-not-found'))",
            params![],
            |r| r.get(0),
        )?)
    }

    /// Until when Atera asked us to stop sending (Unix seconds), if that is still ahead.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn paused_until(&self) -> Result<Option<i64>, OutboxError> {
        let until: Option<i64> = self
            .db()
            .query_row(
                "SELECT paused_until FROM delivery_state WHERE id = 1",
                params![],
                |r| r.get(0),
            )
            .optional()?;
        let now = self.now();
        // A pause further ahead than any Retry-After we honour means the clock went backwards.
        Ok(until.filter(|u| *u > now && *u <= now + MAX_RETRY_AFTER.as_secs() as i64))
    }

    fn pause_deliveries(&self, retry_after: Option<Duration>) -> Result<i64, OutboxError> {
        let until = self.now() + rate_limit_wait(retry_after).as_secs() as i64;
        self.db().execute(
            "INSERT INTO delivery_state (id, paused_until) VALUES (1, ?1)
             ON CONFLICT(id) DO UPDATE SET paused_until = CASE WHEN delivery_state.paused_until > excluded.paused_until THEN delivery_state.paused_until ELSE excluded.paused_until END",
            params![until],
        )?;
        Ok(until)
    }

    /// Waits for the machine-wide delivery lock (another process may be delivering).
    async fn lock_machine_wide(&self) -> Result<Option<std::fs::File>, OutboxError> {
        let Some(path) = self.lock_file.clone() else {
            return Ok(None);
        };
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
        locked
            .map(Some)
            .map_err(|e| OutboxError::Lock(e.to_string()))
    }

    /// Delivers one entry now, whatever its backoff (never before an unconfirmed entry's check
    /// time). Serialized with every other delivery; the whole delivery has a deadline.
    ///
    /// # Errors
    /// Only store failures; a delivery failure is a [`DeliveryResult`].
    pub async fn deliver_one(
        &self,
        reference: &str,
        delivery: &Delivery<'_>,
    ) -> Result<DeliveryResult, OutboxError> {
        let _serial = self.delivering.lock().await;
        #[cfg(feature = "postgres")]
        let _claim = match &self.claims {
            Some(claims) => match claims.hold(reference)? {
                Some(held) => Some(held),
                None => {
                    return Ok(DeliveryResult::Elsewhere {
                        reference: reference.into(),
                    })
                }
            },
            None => None,
        };
        let _machine = self.lock_machine_wide().await?;
        let limit = delivery
            .policy
            .max_total
            .saturating_add(self.timing.deadline_allowance);
        match tokio::time::timeout(limit, self.advance(reference, delivery)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(reference, "the delivery's deadline passed");
                let error = SubmitError::Atera(AteraError::Timeout(limit));
                match self.stage(reference)? {
                    // The POST may have been sent: confirm before anything is sent again.
                    Stage::Posting => self.to_unconfirmed(reference, Some(error)),
                    // A lookup that ran out of time: look again later, never resend or fail.
                    Stage::Unconfirmed => self.check_again(reference, FIRST_BACKOFF, error),
                    _ => self.schedule_retry(reference, error),
                }
            }
        }
    }

    /// Delivers every due entry, one after another (see [`Outbox::due`] for `force`). Stops
    /// early when Atera answers 429, and does nothing while a 429's pause lasts. An entry that
    /// cannot be read or delivered is set aside and the others go on.
    ///
    /// # Errors
    /// Only when the list of due entries cannot be read.
    pub async fn deliver_due(
        &self,
        delivery: &Delivery<'_>,
        force: bool,
    ) -> Result<Vec<DeliveryResult>, OutboxError> {
        let mut results = Vec::new();
        if let Some(until) = self.paused_until()? {
            tracing::info!(
                seconds = until - self.now(),
                "Atera asked us to wait; deliveries paused"
            );
            return Ok(results);
        }
        for reference in self.due(self.now(), force)? {
            let result = match self.deliver_one(&reference, delivery).await {
                Ok(r) => r,
                // This entry cannot be read: set it aside with its reason; the others go on.
                Err(e @ (OutboxError::Corrupt(_) | OutboxError::NotFound(_))) => {
                    tracing::error!(reference, error = %e, "an outbox entry could not be delivered; setting it aside");
                    let error = SubmitError::Storage(e.to_string());
                    let _ = self.set_aside(&reference, &error);
                    DeliveryResult::Failed { reference, error }
                }
                // The store or its lock failed (busy, full disk): nothing is wrong with the
                // entry; stop this cycle and try again later.
                Err(e) => {
                    tracing::error!(reference, error = %e, "the outbox failed; delivery stops until the next cycle");
                    break;
                }
            };
            let rate_limited = result.rate_limited();
            results.push(result);
            if rate_limited {
                break;
            }
        }
        Ok(results)
    }

    /// Removes an entry the rules stopped while the user was still at the form: the form keeps
    /// everything typed, and a second send gets a new reference.
    fn discard(&self, reference: &str) -> Result<(), OutboxError> {
        self.db().execute(
            "DELETE FROM outbox WHERE reference = ?1 AND stage = 'blocked'",
            params![reference],
        )?;
        Ok(())
    }
}

mod forward;
mod machine;

/// Creates the database file readable and writable by its owner only, before SQLite writes a
/// byte; SQLite gives its `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> Result<(), OutboxError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(|source| OutboxError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        // An older file may have been created with the umask's permissions.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    {
        options.open(path).map_err(|source| OutboxError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        // Windows: the folder (so SQLite's -wal and -shm files inherit it) and the file are the
        // user's alone.
        #[cfg(windows)]
        {
            let restrict = |p: &Path, inherit: bool| {
                crate::paths::restrict_to_owner(p, inherit).map_err(|source| OutboxError::Create {
                    path: p.to_path_buf(),
                    source,
                })
            };
            if let Some(dir) = path.parent() {
                restrict(dir, true)?;
            }
            restrict(path, false)?;
        }
    }
    Ok(())
}

/// Whether an error can go away by itself (or by an admin fixing the settings), so the entry
/// keeps being retried. A request Atera refuses as invalid will be refused again.
fn keeps_retrying(error: &SubmitError) -> bool {
    match error {
        SubmitError::Atera(AteraError::Validation { .. } | AteraError::Decode { .. }) => false,
        SubmitError::Atera(_) | SubmitError::NotConfigured(_) => true,
        SubmitError::Relay(e) => e.is_retryable(),
        _ => false,
    }
}

/// How long a 429 pauses deliveries: its `Retry-After`, at least 1 s and at most
/// [`MAX_RETRY_AFTER`]; a minute when it gave none.
fn rate_limit_wait(retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or(DEFAULT_RATE_LIMIT_PAUSE)
        .clamp(Duration::from_secs(1), MAX_RETRY_AFTER)
}

/// The wait before the next automatic attempt: a 429's (capped) `Retry-After`, otherwise 30 s
/// doubling per attempt up to 30 min.
fn next_wait(attempts: u32, error: &SubmitError) -> Duration {
    if let Some(retry_after) = error.rate_limit() {
        return rate_limit_wait(retry_after);
    }
    FIRST_BACKOFF
        .saturating_mul(1 << attempts.saturating_sub(1).min(10))
        .min(MAX_BACKOFF)
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
        /// It was sent but Atera's answer was lost: the outbox is confirming with Atera whether
        /// the ticket exists before anything is sent again.
        confirming: bool,
        /// What kept it from being filed now.
        error: SubmitError,
    },
}

/// The retry policy while a person waits for the answer: a few quick tries, then the outbox's
/// own schedule takes over.
pub const INTERACTIVE_POLICY: crate::submit::RetryPolicy = crate::submit::RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(4),
    max_total: Duration::from_secs(15),
};

/// The submission path of the form and the CLI: validate, save to the outbox exactly as the user
/// sent it (before any network call), then try to deliver right away. Whatever happens to the
/// network, Atera or this process, the ticket is either filed or saved.
///
/// # Errors
/// Only what the person must fix ([`SubmitError::Invalid`]), a rule's `exception`
/// ([`SubmitError::Blocked`]), or a failure to save the ticket ([`SubmitError::Storage`]), in
/// which case nothing was sent.
pub async fn submit(
    outbox: &Outbox,
    settings: &Settings,
    submission: Submission<'_>,
    delivery: Result<&Delivery<'_>, &SubmitError>,
) -> Result<Submitted, SubmitError> {
    let saved = SavedSubmission::new(settings, submission)?;
    outbox
        .enqueue(&saved)
        .map_err(|e| SubmitError::Storage(e.to_string()))?;
    let reference = saved.reference;
    let queued = |error: SubmitError, waits_for_admin: bool, confirming: bool| {
        let reason = if confirming {
            "Saved — confirming with Atera.".to_string()
        } else {
            error.user_message()
        };
        Submitted::Queued {
            reference: reference.clone(),
            reason,
            detail: error.to_string(),
            waits_for_admin,
            confirming,
            error,
        }
    };
    let delivery = match delivery {
        Ok(d) => d,
        Err(e) => return Ok(queued(e.clone(), true, false)),
    };
    // Atera asked every PC sharing the key to wait: do not send now, even interactively.
    if outbox.paused_until().ok().flatten().is_some() {
        return Ok(queued(
            SubmitError::Atera(AteraError::RateLimited { retry_after: None }),
            false,
            false,
        ));
    }
    let started = Instant::now();
    let result = outbox.deliver_one(&reference, delivery).await;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "first delivery attempt"
    );
    match result {
        Ok(DeliveryResult::Sent { outcome, .. }) => Ok(Submitted::Sent(outcome)),
        Ok(DeliveryResult::Retrying { error, .. }) => Ok(queued(error, false, false)),
        Ok(DeliveryResult::Confirming { error, .. }) => Ok(queued(
            error.unwrap_or_else(|| {
                SubmitError::Atera(AteraError::ConnectionLost("no answer".into()))
            }),
            false,
            true,
        )),
        Ok(DeliveryResult::Failed { error, .. }) => Ok(queued(error, true, false)),
        // Another delivery holds it (another relay instance): it is saved and on its way.
        Ok(DeliveryResult::Elsewhere { .. }) => Ok(queued(
            SubmitError::Atera(AteraError::ConnectionLost(
                "another delivery of this ticket is in progress".into(),
            )),
            false,
            true,
        )),
        Ok(DeliveryResult::Blocked { reason, .. }) => {
            if let Err(e) = outbox.discard(&reference) {
                tracing::warn!(error = %e, "a blocked entry could not be removed");
            }
            Err(SubmitError::Blocked(reason))
        }
        // Saved, and the store failed afterwards: the entry is still there (a POST, if one went
        // out, is confirmed before any resend), so never tell the user it was not saved.
        Err(e) => {
            tracing::error!(reference, error = %e, "the outbox failed after saving the ticket");
            Ok(queued(SubmitError::Storage(e.to_string()), false, false))
        }
    }
}

#[cfg(test)]
mod tests;
