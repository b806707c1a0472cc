//! One small SQL interface over the two databases the durable records live in:
//!
//! - **SQLite** (WAL, fully synced): the app's outbox on every PC, and a single relay instance.
//! - **Postgres** (feature `postgres`): several relay instances behind a load balancer sharing
//!   one database. Each connection lives on its own thread (the `postgres` client blocks, and must
//!   not block inside the async runtime's own threads), every call waits a bounded time, and a
//!   lost connection is reopened on the next call, never in the middle of a transaction.
//!
//! Statements are written once, in the SQL both understand: `?1`-style parameters (rewritten to
//! `$1` for Postgres), `INSERT … ON CONFLICT DO NOTHING`, `CASE` instead of the two-argument
//! `MAX`, and `CAST(? AS BIGINT)` where Postgres cannot tell a parameter's type. Integers are
//! `BIGINT` in Postgres, so every value reads back as it was written.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Errors of either database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("Postgres: {0}")]
    Postgres(String),
    #[error("the query returned no row")]
    NoRows,
    #[error("column {index} cannot be read as {wanted}: it holds {found}")]
    Type {
        index: usize,
        wanted: &'static str,
        found: &'static str,
    },
    #[error("the database did not answer within {0} s")]
    Timeout(u64),
}

/// One value going into or coming out of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Int(_) => "an integer",
            Self::Real(_) => "a real",
            Self::Text(_) => "text",
            Self::Bool(_) => "a boolean",
        }
    }
}

/// A statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// `params![a, b]`: the parameters of a statement, `?1` and `?2`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::ToValue),+] as &[&dyn $crate::db::ToValue] };
}
pub use params;

/// A column value read back.
pub trait FromValue: Sized {
    const WANTED: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const WANTED: &'static str = stringify!($t);
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    Value::Bool(b) => Some(<$t>::from(*b)),
                    _ => None,
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u64);

impl FromValue for usize {
    const WANTED: &'static str = "usize";
    fn from_value(v: &Value) -> Option<Self> {
        u64::from_value(v).and_then(|n| usize::try_from(n).ok())
    }
}
impl FromValue for bool {
    const WANTED: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    const WANTED: &'static str = "a real";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const WANTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `index` as `T`.
    ///
    /// # Errors
    /// [`DbError::Type`] when it holds something else (or there is no such column).
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, DbError> {
        let value = self.0.get(index).unwrap_or(&Value::Null);
        T::from_value(value).ok_or(DbError::Type {
            index,
            wanted: T::WANTED,
            found: if index < self.0.len() {
                value.kind()
            } else {
                "nothing (no such column)"
            },
        })
    }
}

/// `query_row(…).optional()`: no row is `None`, as with rusqlite.
pub trait OptionalExtension<T> {
    /// # Errors
    /// Every error but [`DbError::NoRows`].
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What a database and a transaction both do.
pub trait Sql {
    /// Runs a statement; returns how many rows it changed.
    ///
    /// # Errors
    /// The database's.
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError>;

    /// Runs a query; returns every row.
    ///
    /// # Errors
    /// The database's.
    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError>;

    /// Every row, each through `f`.
    ///
    /// # Errors
    /// The database's, or `f`'s.
    fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.rows(sql, params)?.iter().map(f).collect()
    }

    /// The first row through `f`.
    ///
    /// # Errors
    /// [`DbError::NoRows`] when there is none (see [`OptionalExtension`]), the database's, or
    /// `f`'s.
    fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let rows = self.rows(sql, params)?;
        f(rows.first().ok_or(DbError::NoRows)?)
    }
}

/// An open database: one connection, used by one caller at a time (as SQLite's was).
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(Mutex<rusqlite::Connection>),
    #[cfg(feature = "postgres")]
    Postgres(Mutex<pg::Session>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_postgres() {
            "Db(Postgres)"
        } else {
            "Db(SQLite)"
        })
    }
}

enum Guard<'a> {
    Sqlite(MutexGuard<'a, rusqlite::Connection>),
    #[cfg(feature = "postgres")]
    Postgres(MutexGuard<'a, pg::Session>),
}

impl Guard<'_> {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        match self {
            Self::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(sqlite_params(params)))?)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.execute(sql, params),
        }
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        match self {
            Self::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(sqlite_params(params)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        use rusqlite::types::ValueRef;
                        values.push(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(n) => Value::Int(n),
                            ValueRef::Real(f) => Value::Real(f),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                        });
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.rows(sql, params),
        }
    }

    fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => Ok(c.execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.batch(sql),
        }
    }
}

fn sqlite_params(params: &[&dyn ToValue]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p.to_value() {
            Value::Null => V::Null,
            Value::Int(i) => V::Integer(i),
            Value::Real(f) => V::Real(f),
            Value::Text(s) => V::Text(s),
            Value::Bool(b) => V::Integer(i64::from(b)),
        })
        .collect()
}

impl Db {
    /// A database over an open SQLite connection (set up by the caller).
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Self {
            backend: Backend::Sqlite(Mutex::new(conn)),
        }
    }

    /// Connects to Postgres at `url` (`postgres://user@host/db`, or `host=/run/postgresql` for
    /// the local socket) and runs `schema` under a lock, so instances starting together do not
    /// race to create the same tables.
    ///
    /// # Errors
    /// When the server cannot be reached, refuses the login, or the schema fails.
    #[cfg(feature = "postgres")]
    pub fn postgres(url: &str, schema: &str) -> Result<Self, DbError> {
        let session = pg::Session::open(url)?;
        let db = Self {
            backend: Backend::Postgres(Mutex::new(session)),
        };
        db.transaction(|tx| {
            tx.batch(&format!(
                "SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {schema}"
            ))
        })?;
        Ok(db)
    }

    /// Whether this is Postgres (shared by several relay instances).
    pub fn is_postgres(&self) -> bool {
        !matches!(self.backend, Backend::Sqlite(_))
    }

    fn guard(&self) -> Guard<'_> {
        match &self.backend {
            Backend::Sqlite(c) => Guard::Sqlite(c.lock().unwrap_or_else(PoisonError::into_inner)),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => {
                Guard::Postgres(s.lock().unwrap_or_else(PoisonError::into_inner))
            }
        }
    }

    /// Runs several statements without parameters.
    ///
    /// # Errors
    /// The database's.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        self.guard().batch(sql)
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise (and
    /// when it panics). Other callers wait meanwhile.
    ///
    /// # Errors
    /// `f`'s, or the database's.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let guard = self.guard();
        guard.batch(match &guard {
            // Takes the write lock now: two writers never both read and then both fail to write.
            Guard::Sqlite(_) => "BEGIN IMMEDIATE",
            #[cfg(feature = "postgres")]
            Guard::Postgres(_) => "BEGIN",
        })?;
        #[cfg(feature = "postgres")]
        if let Guard::Postgres(s) = &guard {
            s.in_transaction(true);
        }
        let tx = Tx { guard, done: false };
        let result = f(&tx);
        let mut tx = tx;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        tx.done = true;
        let ended = tx.end(end);
        match result {
            Ok(v) => ended.map(|()| v).map_err(E::from),
            Err(e) => Err(e),
        }
    }
}

impl Sql for Db {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        self.guard().execute(sql, params)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        self.guard().rows(sql, params)
    }
}

/// A transaction of [`Db::transaction`].
pub struct Tx<'a> {
    guard: Guard<'a>,
    done: bool,
}

impl Tx<'_> {
    /// Runs several statements without parameters.
    ///
    /// # Errors
    /// The database's.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        self.guard.batch(sql)
    }

    fn end(&mut self, statement: &str) -> Result<(), DbError> {
        let result = self.guard.batch(statement);
        #[cfg(feature = "postgres")]
        if let Guard::Postgres(s) = &self.guard {
            s.in_transaction(false);
        }
        result
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.end("ROLLBACK");
        }
    }
}

impl Sql for Tx<'_> {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        self.guard.execute(sql, params)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        self.guard.rows(sql, params)
    }
}

/// A schema written for SQLite, for Postgres: integers are `BIGINT` (so they read back as
/// `i64`), and an autoincrementing key is a `BIGSERIAL`.
pub fn postgres_schema(sqlite: &str) -> String {
    sqlite
        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
}

/// The advisory lock that serializes schema set-up across relay instances.
#[cfg(feature = "postgres")]
const SCHEMA_LOCK: i64 = 0x4844_4250; // "HDBP"

/// `?1` → `$1` outside quotes, for Postgres.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn numbered_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(feature = "postgres")]
pub mod pg;

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
            .unwrap();
        Db::sqlite(conn)
    }

    #[test]
    fn values_read_back_as_written_and_a_wrong_type_is_a_clear_error() {
        let db = db();
        db.execute(
            "INSERT INTO t (id, name, n) VALUES (?1, ?2, ?3)",
            params![1, "Zoë", true],
        )
        .unwrap();
        db.execute(
            "INSERT INTO t (id, name, n) VALUES (?1, ?2, ?3)",
            params![2, None::<String>, 7u32],
        )
        .unwrap();
        let rows: Vec<(i64, Option<String>, bool)> = db
            .query_map("SELECT id, name, n FROM t ORDER BY id", params![], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![(1, Some("Zoë".into()), true), (2, None, true)],
            "7 reads as true"
        );
        let err = db
            .query_row("SELECT name FROM t WHERE id = 1", params![], |r| {
                r.get::<i64>(0)
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 0 cannot be read as i64: it holds text"
        );
        let none = db
            .query_row("SELECT name FROM t WHERE id = 9", params![], |r| {
                r.get::<String>(0)
            })
            .optional()
            .unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_behind() {
        let db = db();
        let result: Result<(), DbError> = db.transaction(|tx| {
            tx.execute("INSERT INTO t (id) VALUES (1)", params![])?;
            Err(DbError::NoRows)
        });
        assert!(result.is_err());
        db.transaction(|tx| tx.execute("INSERT INTO t (id) VALUES (2)", params![]))
            .unwrap();
        let ids: Vec<i64> = db
            .query_map("SELECT id FROM t", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(ids, vec![2]);
    }

    #[test]
    fn parameters_are_numbered_for_postgres_outside_quotes_only() {
        assert_eq!(
            numbered_params("SELECT ?1, '?2' WHERE a = ?2 AND b IN ('x?', ?3)"),
            "SELECT $1, '?2' WHERE a = $2 AND b IN ('x?', $3)"
        );
    }
}
