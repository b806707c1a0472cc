//! A Postgres connection on its own thread (see [`super`]): calls are sent to it and answered
//! within [`CALL_TIMEOUT`].

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{FromSql, IsNull, ToSql, Type};

use super::{numbered_params, DbError, Row, ToValue, Value};

/// The longest any one call waits for its answer; Postgres itself stops a statement after
/// [`STATEMENT_TIMEOUT_MS`] and a lock wait after [`LOCK_TIMEOUT_MS`].
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const STATEMENT_TIMEOUT_MS: u64 = 30_000;
const LOCK_TIMEOUT_MS: u64 = 10_000;
/// A transaction left open this long (a relay instance that hangs while holding a claim) is
/// ended by the server, which releases its locks.
const IDLE_IN_TRANSACTION_MS: u64 = 30 * 60 * 1000;
/// Prepared statements kept per connection.
const MAX_STATEMENTS: usize = 256;

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// One connection, driven by its thread.
pub struct Session {
    jobs: mpsc::Sender<Job>,
    in_transaction: Arc<AtomicBool>,
}

struct Conn {
    config: postgres::Config,
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    in_transaction: Arc<AtomicBool>,
}

impl Session {
    /// Connects (on the new thread) and waits for the answer.
    ///
    /// # Errors
    /// A URL that does not parse, or a server that cannot be reached or refuses the login.
    pub fn open(url: &str) -> Result<Self, DbError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| DbError::Postgres(format!("the database URL is not valid: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("helpdesk-relay");
        }
        let in_transaction = Arc::new(AtomicBool::new(false));
        let (jobs, queue) = mpsc::channel::<Job>();
        let conn = Conn {
            config,
            client: None,
            statements: HashMap::new(),
            in_transaction: in_transaction.clone(),
        };
        std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                let mut conn = conn;
                // Ends when the session (its sender) is dropped.
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|e| DbError::Postgres(format!("no thread for the connection: {e}")))?;
        let session = Self {
            jobs,
            in_transaction,
        };
        session.call(|c| c.client().map(|_| ()))?;
        Ok(session)
    }

    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, DbError> + Send + 'static,
    ) -> Result<R, DbError> {
        let (answer, answered) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |c| {
                let _ = answer.send(f(c));
            }))
            .map_err(|_| DbError::Postgres("the connection's thread has stopped".into()))?;
        answered
            .recv_timeout(CALL_TIMEOUT)
            .map_err(|_| DbError::Timeout(CALL_TIMEOUT.as_secs()))?
    }

    pub(super) fn in_transaction(&self, open: bool) {
        self.in_transaction.store(open, Ordering::SeqCst);
    }

    pub(super) fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        let (sql, params) = owned(sql, params);
        self.call(move |c| {
            let statement = c.statement(&sql)?;
            let refs = param_refs(&params);
            let n = c.client()?.execute(&statement, &refs).map_err(failed)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    pub(super) fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        let (sql, params) = owned(sql, params);
        self.call(move |c| {
            let statement = c.statement(&sql)?;
            let refs = param_refs(&params);
            let rows = c.client()?.query(&statement, &refs).map_err(failed)?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<_, Value>(i)
                                .map_err(|e| DbError::Postgres(e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(Row)
                })
                .collect()
        })
    }

    pub(super) fn batch(&self, sql: &str) -> Result<(), DbError> {
        let sql = sql.to_string();
        self.call(move |c| {
            let result = c.client()?.batch_execute(&sql);
            result.map_err(failed)
        })
    }

    /// Sends `sql` without waiting for its answer (ending a claim when its holder is dropped).
    pub(super) fn send(&self, sql: &'static str) {
        let _ = self.jobs.send(Box::new(move |c| {
            if let Ok(client) = c.client() {
                let _ = client.batch_execute(sql);
            }
        }));
    }
}

/// A connection that holds claims: a row lock (`FOR UPDATE SKIP LOCKED`) on an entry's row in
/// `outbox_claims`, held in an open transaction while one relay instance delivers the entry.
/// Another instance skips a locked row; when the holder dies, Postgres ends its transaction
/// and the entry can be taken over (its state machine then confirms before anything is resent).
pub struct Claims(Session);

impl Claims {
    /// A connection of its own, so the held transaction never contains other statements.
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn open(url: &str) -> Result<Self, DbError> {
        Session::open(url).map(Self)
    }

    /// Takes the claim on `reference`, or `None` while another instance holds it.
    ///
    /// # Errors
    /// The database's.
    pub fn hold(&self, reference: &str) -> Result<Option<Held<'_>>, DbError> {
        self.0.execute(
            "INSERT INTO outbox_claims (reference) VALUES (?1) ON CONFLICT DO NOTHING",
            crate::params![reference],
        )?;
        self.0.batch("BEGIN")?;
        self.0.in_transaction(true);
        let held = Held(&self.0);
        let rows = self.0.rows(
            "SELECT reference FROM outbox_claims WHERE reference = ?1 FOR UPDATE SKIP LOCKED",
            crate::params![reference],
        )?;
        Ok((!rows.is_empty()).then_some(held))
    }
}

/// A claim being held; dropping it ends the transaction, which releases the lock.
pub struct Held<'a>(&'a Session);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.in_transaction(false);
        self.0.send("ROLLBACK");
    }
}

impl Conn {
    /// The open client, connecting first when there is none or the last one was lost; never in
    /// the middle of a transaction, whose statements would otherwise run outside it.
    fn client(&mut self) -> Result<&mut postgres::Client, DbError> {
        let lost = self.client.as_ref().is_none_or(postgres::Client::is_closed);
        if lost {
            if self.client.is_some() && self.in_transaction.load(Ordering::SeqCst) {
                return Err(DbError::Postgres(
                    "the connection was lost during a transaction".into(),
                ));
            }
            self.client = None;
            self.statements.clear();
            let mut client = self
                .config
                .connect(postgres::NoTls)
                .map_err(|e| DbError::Postgres(format!("cannot connect: {e}")))?;
            client
                .batch_execute(&format!(
                    "SET statement_timeout = {STATEMENT_TIMEOUT_MS};
                     SET lock_timeout = {LOCK_TIMEOUT_MS};
                     SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS};"
                ))
                .map_err(|e| DbError::Postgres(e.to_string()))?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Postgres("no connection".into()))
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let translated = numbered_params(sql);
        let prepared = self.client()?.prepare(&translated);
        let statement = prepared.map_err(failed)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn failed(e: postgres::Error) -> DbError {
    let message = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    DbError::Postgres(message)
}

fn owned(sql: &str, params: &[&dyn ToValue]) -> (String, Vec<Value>) {
    (
        sql.to_string(),
        params.iter().map(|p| p.to_value()).collect(),
    )
}

fn param_refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let int = |i: i64, out: &mut BytesMut| -> Result<IsNull, BoxError> {
            match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            }
        };
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(i) => int(*i, out),
            Self::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => int(i64::from(*b), out),
            },
            Self::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => Err(format!("a real cannot be sent as {ty}").into()),
            },
            Self::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT8 => Self::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Self::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Self::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Self::Bool(bool::from_sql(ty, raw)?),
            Type::FLOAT8 => Self::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Self::Real(f32::from_sql(ty, raw)?.into()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Self::Text(<&str>::from_sql(ty, raw)?.to_string())
            }
            _ => return Err(format!("a column of type {ty} is not read here").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Self::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
