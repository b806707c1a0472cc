//! The relay's own records (SQLite, WAL, fully synced): enrollment tokens, devices, which device
//! filed which reference, and the audit log. Secrets are stored only as SHA-256 digests: a copy of
//! the database enrolls nothing and impersonates no device.
//!
//! The MSP's admins (their tokens, also stored as digests) and the dispatcher rules they edit
//! from the admin window, every saved version numbered, are here too ([`admin`]).
//!
//! The tickets themselves wait in the core's outbox ([`crate::outbox::Outbox`]) in the same file.

use std::path::Path;
use std::time::Duration;

use crate::db::{params, Db, DbError, OptionalExtension, Sql};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::protocol::{DeviceIdentity, Refusal};

mod admin;
pub use admin::{AdminIdentity, AdminRecord, IssuedAdmin, StoredRules, MAX_ADMIN_NAME_CHARS};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS enroll_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        customer_id INTEGER NOT NULL,
        customer_name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        uses_left INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        customer_id INTEGER NOT NULL,
        customer_name TEXT NOT NULL,
        hostname TEXT NOT NULL,
        mac TEXT,
        agent_id INTEGER,
        token_id TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE IF NOT EXISTS filings (
        reference TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS filings_device ON filings(device_id, received_at);
    CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        device_id TEXT,
        event TEXT NOT NULL,
        reference TEXT,
        detail TEXT
    );
    CREATE TABLE IF NOT EXISTS changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        origin TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS admins (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE IF NOT EXISTS rules_versions (
        version INTEGER PRIMARY KEY,
        script TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        saved_by TEXT NOT NULL
    );";

/// Errors of the relay's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the relay database failed: {0}")]
    Database(#[from] DbError),
    #[error("refused: {0:?}")]
    Refused(Refusal),
}

/// A token as `enroll create` prints it: `hbe1.<id>.<secret>`; the secret is never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub id: String,
    pub customer_id: i64,
    pub expires_at: i64,
    pub uses: u32,
}

/// A device as `devices list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord {
    #[serde(flatten)]
    pub identity: DeviceIdentity,
    pub enrolled_at: i64,
    pub last_seen_at: i64,
    pub revoked_at: Option<i64>,
}

/// The relay's store.
pub struct Store {
    db: Db,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

const TOKEN_PREFIX: &str = "hbe1";
const CREDENTIAL_PREFIX: &str = "hbd1";

impl Store {
    /// Opens (and creates) the store at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let sqlite = |e: rusqlite::Error| StoreError::Database(e.into());
        let conn = rusqlite::Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        Ok(Self {
            db: Db::sqlite(conn),
        })
    }

    /// The store in Postgres at `url`, shared by every relay instance on it.
    ///
    /// # Errors
    /// When Postgres cannot be reached or set up.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::postgres(url, &crate::db::postgres_schema(SCHEMA))?,
        })
    }

    fn db(&self) -> &Db {
        &self.db
    }

    /// Issues an enrollment token for `customer_id`, valid until `expires_at` for `uses`
    /// enrollments.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn create_token(
        &self,
        customer_id: i64,
        customer_name: &str,
        now: i64,
        expires_at: i64,
        uses: u32,
    ) -> Result<IssuedToken, StoreError> {
        let (id, secret) = (random_id(), random_secret());
        self.db().execute(
            "INSERT INTO enroll_tokens (id, secret_hash, customer_id, customer_name, created_at, expires_at, uses_left)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, digest(&secret), customer_id, customer_name, now, expires_at, uses],
        )?;
        self.audit(
            now,
            None,
            "token-created",
            None,
            Some(&format!("customer {customer_id}, {uses} uses")),
        )?;
        Ok(IssuedToken {
            token: format!("{TOKEN_PREFIX}.{id}.{secret}"),
            id,
            customer_id,
            expires_at,
            uses,
        })
    }

    /// Spends one use of `token` and records the device it enrolls. Returns the device's
    /// credential (shown once) and identity. The customer comes from the token, never from the
    /// device.
    ///
    /// # Errors
    /// [`Refusal::TokenUnknown`], [`Refusal::TokenExpired`] or [`Refusal::TokenUsedUp`].
    pub fn enroll(
        &self,
        token: &str,
        hostname: &str,
        mac: Option<&str>,
        agent_id: impl FnOnce(i64) -> Option<i64>,
        now: i64,
    ) -> Result<(String, DeviceIdentity), StoreError> {
        let (id, secret) =
            split_secret(token, TOKEN_PREFIX).ok_or(StoreError::Refused(Refusal::TokenUnknown))?;
        let (device_id, device_secret) = (random_id(), random_secret());
        let (customer_id, customer_name, agent_id) = self.db().transaction(|tx| {
            let row: Option<(String, i64, String, i64, i64)> = tx
                .query_row(
                    "SELECT secret_hash, customer_id, customer_name, expires_at, uses_left FROM enroll_tokens WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((hash, customer_id, customer_name, expires_at, uses_left)) = row else {
                return Err(StoreError::Refused(Refusal::TokenUnknown));
            };
            if !same_digest(&hash, &digest(secret)) {
                return Err(StoreError::Refused(Refusal::TokenUnknown));
            }
            if now >= expires_at {
                return Err(StoreError::Refused(Refusal::TokenExpired));
            }
            // Spent only while a use is left, in the same statement: two relay instances
            // enrolling with a token's last use at once cannot both spend it.
            let spent = tx.execute(
                "UPDATE enroll_tokens SET uses_left = uses_left - 1 WHERE id = ?1 AND uses_left > 0",
                params![id],
            )?;
            if uses_left <= 0 || spent == 0 {
                return Err(StoreError::Refused(Refusal::TokenUsedUp));
            }
            let agent_id = agent_id(customer_id);
            tx.execute(
                "INSERT INTO devices (id, secret_hash, customer_id, customer_name, hostname, mac, agent_id, token_id, enrolled_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![device_id, digest(&device_secret), customer_id, customer_name, hostname, mac, agent_id, id, now],
            )?;
            tx.execute(
                "INSERT INTO audit (at, device_id, event, detail) VALUES (?1, ?2, 'enrolled', ?3)",
                params![now, device_id, format!("token {id}, host {hostname}")],
            )?;
            Ok((customer_id, customer_name, agent_id))
        })?;
        Ok((
            format!("{CREDENTIAL_PREFIX}.{device_id}.{device_secret}"),
            DeviceIdentity {
                device_id,
                customer_id,
                customer_name,
                hostname: hostname.to_string(),
                mac: mac.map(str::to_string),
                agent_id,
            },
        ))
    }

    /// The device a credential belongs to.
    ///
    /// # Errors
    /// [`Refusal::Unauthenticated`] for an unknown credential, [`Refusal::DeviceRevoked`] for a
    /// revoked device.
    pub fn authenticate(&self, credential: &str, now: i64) -> Result<DeviceIdentity, StoreError> {
        let (id, secret) = split_secret(credential, CREDENTIAL_PREFIX)
            .ok_or(StoreError::Refused(Refusal::Unauthenticated))?;
        let conn = self.db();
        let row = conn
            .query_row(
                "SELECT secret_hash, revoked_at, customer_id, customer_name, hostname, mac, agent_id, last_seen_at FROM devices WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<Option<i64>>(1)?,
                        DeviceIdentity {
                            device_id: id.to_string(),
                            customer_id: r.get(2)?,
                            customer_name: r.get(3)?,
                            hostname: r.get(4)?,
                            mac: r.get(5)?,
                            agent_id: r.get(6)?,
                        },
                        r.get::<i64>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((hash, revoked_at, identity, last_seen)) = row else {
            return Err(StoreError::Refused(Refusal::Unauthenticated));
        };
        if !same_digest(&hash, &digest(secret)) {
            return Err(StoreError::Refused(Refusal::Unauthenticated));
        }
        if revoked_at.is_some() {
            return Err(StoreError::Refused(Refusal::DeviceRevoked));
        }
        // At most one write a minute per device for "last seen".
        if now - last_seen >= 60 {
            conn.execute(
                "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(identity)
    }

    /// Revokes a device: every later request of its credential is refused. Returns whether it
    /// existed.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn revoke(&self, device_id: &str, now: i64) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![device_id, now],
        )?;
        if changed > 0 {
            self.audit(now, Some(device_id), "revoked", None, None)?;
        }
        Ok(changed > 0)
    }

    /// Every device, newest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        Ok(self.db().query_map(
            "SELECT id, customer_id, customer_name, hostname, mac, agent_id, enrolled_at, last_seen_at, revoked_at
             FROM devices ORDER BY enrolled_at DESC, id",
            params![],
            |r| {
            Ok(DeviceRecord {
                identity: DeviceIdentity {
                    device_id: r.get(0)?,
                    customer_id: r.get(1)?,
                    customer_name: r.get(2)?,
                    hostname: r.get(3)?,
                    mac: r.get(4)?,
                    agent_id: r.get(5)?,
                },
                enrolled_at: r.get(6)?,
                last_seen_at: r.get(7)?,
                revoked_at: r.get(8)?,
            })
            },
        )?)
    }

    /// Records that `device_id` filed `reference` (idempotent for the same device).
    ///
    /// # Errors
    /// [`Refusal::ReferenceTaken`] when another device filed it.
    pub fn claim(&self, reference: &str, device_id: &str, now: i64) -> Result<bool, StoreError> {
        let conn = self.db();
        let inserted = conn.execute(
            "INSERT INTO filings (reference, device_id, received_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![reference, device_id, now],
        )?;
        if inserted == 0 {
            let owner: String = conn.query_row(
                "SELECT device_id FROM filings WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )?;
            if owner != device_id {
                return Err(StoreError::Refused(Refusal::ReferenceTaken));
            }
            return Ok(false);
        }
        conn.execute(
            "INSERT INTO audit (at, device_id, event, reference) VALUES (?1, ?2, 'received', ?3)",
            params![now, device_id, reference],
        )?;
        Ok(true)
    }

    /// The device that filed `reference`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn owner(&self, reference: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT device_id FROM filings WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The references `device_id` filed, newest first, at most `limit`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn references(&self, device_id: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(self.db().query_map(
            "SELECT reference FROM filings WHERE device_id = ?1 ORDER BY received_at DESC, reference DESC LIMIT ?2",
            params![device_id, limit],
            |r| r.get(0),
        )?)
    }

    /// The customer a device was enrolled under, for delivering its tickets.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn customer_of(&self, device_id: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT customer_id, customer_name FROM devices WHERE id = ?1",
                params![device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Appends to the audit log: who did what to which reference, never ticket text or secrets.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn audit(
        &self,
        at: i64,
        device_id: Option<&str>,
        event: &str,
        reference: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT INTO audit (at, device_id, event, reference, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![at, device_id, event, reference, detail],
        )?;
        Ok(())
    }

    /// The audit log, oldest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.db().query_map(
            "SELECT at, device_id, event, reference, detail FROM audit ORDER BY id",
            params![],
            |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    device_id: r.get(1)?,
                    event: r.get(2)?,
                    reference: r.get(3)?,
                    detail: r.get(4)?,
                })
            },
        )?)
    }

    /// Whether several relay instances share this store (Postgres).
    pub fn is_shared(&self) -> bool {
        self.db().is_postgres()
    }

    /// Tells the other instances that one of `device_id`'s tickets changed.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn publish_change(
        &self,
        device_id: &str,
        origin: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT INTO changes (device_id, origin, at) VALUES (?1, ?2, ?3)",
            params![device_id, origin, now],
        )?;
        Ok(())
    }

    /// The newest change's id (a new instance starts reading after it).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn last_change(&self) -> Result<i64, StoreError> {
        Ok(self
            .db()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM changes", params![], |r| {
                r.get(0)
            })?)
    }

    /// Changes after `after` made by instances other than `origin`: (id, device), oldest first,
    /// at most `limit`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn changes_after(
        &self,
        after: i64,
        origin: &str,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(self.db().query_map(
            "SELECT id, device_id FROM changes WHERE id > ?1 AND origin != ?2 ORDER BY id LIMIT ?3",
            params![after, origin, limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Forgets changes older than `before`.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn prune_changes(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self
            .db()
            .execute("DELETE FROM changes WHERE at < ?1", params![before])?)
    }

    /// Takes or renews the lease `name` for `holder` until `now + seconds`; false while another
    /// holder's lease runs.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        seconds: i64,
    ) -> Result<bool, StoreError> {
        let taken = self.db().execute(
            "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE leases.until < ?4 OR leases.holder = excluded.holder",
            params![name, holder, now.saturating_add(seconds), now],
        )?;
        Ok(taken > 0)
    }

    /// Enrolled devices that are not revoked.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn active_devices(&self) -> Result<i64, StoreError> {
        Ok(self.db().query_row(
            "SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL",
            params![],
            |r| r.get(0),
        )?)
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub device_id: Option<String>,
    pub event: String,
    pub reference: Option<String>,
    pub detail: Option<String>,
}

/// A public id (of a token or a device): lowercase hex, so it never starts with `-` on a command
/// line nor needs quoting.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets (by their digests) in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    same_digest(&digest(a), &digest(b))
}

/// Compares two digests in time independent of where they differ.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `prefix.id.secret` → (id, secret), bounded in length.
fn split_secret<'a>(value: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    if value.len() > 200 {
        return None;
    }
    let rest = value.trim().strip_prefix(prefix)?.strip_prefix('.')?;
    let (id, secret) = rest.split_once('.')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(id) && ok(secret)).then_some((id, secret))
}

#[cfg(test)]
mod tests_support {
    pub(super) fn store() -> (tempfile::TempDir, super::Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = super::Store::open(&dir.path().join("relay.sqlite3")).unwrap();
        (dir, store)
    }

    /// The refusal `r` must be.
    pub(super) fn refusal<T: std::fmt::Debug>(r: Result<T, super::StoreError>) -> super::Refusal {
        match r {
            Err(super::StoreError::Refused(code)) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::{refusal, store};
    use super::*;

    #[test]
    fn a_token_enrolls_as_many_devices_as_it_has_uses_and_no_more() {
        let (_dir, store) = store();
        let t = store.create_token(7, "Acme", 100, 1000, 2).unwrap();
        for host in ["PC-1", "PC-2"] {
            let (_, id) = store.enroll(&t.token, host, None, |_| None, 200).unwrap();
            assert_eq!(id.customer_id, 7);
        }
        assert_eq!(
            refusal(store.enroll(&t.token, "PC-3", None, |_| None, 200)),
            Refusal::TokenUsedUp
        );
        assert_eq!(store.devices().unwrap().len(), 2);
    }

    #[test]
    fn an_expired_token_or_a_wrong_secret_enrolls_nothing() {
        let (_dir, store) = store();
        let t = store.create_token(7, "Acme", 100, 1000, 5).unwrap();
        assert_eq!(
            refusal(store.enroll(&t.token, "PC", None, |_| None, 1000)),
            Refusal::TokenExpired
        );
        let forged = format!("hbe1.{}.{}", t.id, "A".repeat(43));
        assert_eq!(
            refusal(store.enroll(&forged, "PC", None, |_| None, 200)),
            Refusal::TokenUnknown
        );
        assert_eq!(
            refusal(store.enroll("garbage", "PC", None, |_| None, 200)),
            Refusal::TokenUnknown
        );
        assert!(store.devices().unwrap().is_empty());
    }

    #[test]
    fn a_revoked_device_is_refused_and_a_forged_credential_is_unknown() {
        let (_dir, store) = store();
        let t = store.create_token(7, "Acme", 100, 1000, 1).unwrap();
        let (credential, id) = store.enroll(&t.token, "PC", None, |_| None, 200).unwrap();
        assert_eq!(store.authenticate(&credential, 300).unwrap(), id);
        let forged = format!("hbd1.{}.{}", id.device_id, "B".repeat(43));
        assert_eq!(
            refusal(store.authenticate(&forged, 300)),
            Refusal::Unauthenticated
        );
        assert!(store.revoke(&id.device_id, 400).unwrap());
        assert_eq!(
            refusal(store.authenticate(&credential, 401)),
            Refusal::DeviceRevoked
        );
    }

    #[test]
    fn a_lease_is_held_by_one_instance_until_it_runs_out() {
        let (_dir, store) = store();
        assert!(store.take_lease("poll", "a", 100, 60).unwrap());
        assert!(
            !store.take_lease("poll", "b", 120, 60).unwrap(),
            "a holds it"
        );
        assert!(store.take_lease("poll", "a", 150, 60).unwrap(), "a renews");
        assert!(!store.take_lease("poll", "b", 200, 60).unwrap());
        assert!(
            store.take_lease("poll", "b", 211, 60).unwrap(),
            "a stopped renewing"
        );
    }

    #[test]
    fn an_instance_reads_the_other_instances_changes_only() {
        let (_dir, store) = store();
        store.publish_change("dev-1", "a", 10).unwrap();
        store.publish_change("dev-2", "b", 11).unwrap();
        store.publish_change("dev-3", "b", 12).unwrap();
        let seen = store.changes_after(0, "a", 10).unwrap();
        assert_eq!(
            seen.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(),
            ["dev-2", "dev-3"]
        );
        assert!(store.changes_after(seen[1].0, "a", 10).unwrap().is_empty());
        assert_eq!(store.prune_changes(12).unwrap(), 2);
    }

    #[test]
    fn ids_are_plain_hex_so_a_command_line_takes_them_as_they_are() {
        for _ in 0..200 {
            let id = random_id();
            assert_eq!(id.len(), 16);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
    }

    #[test]
    fn a_reference_belongs_to_the_device_that_filed_it() {
        let (_dir, store) = store();
        assert!(store.claim("HB-1", "dev-a", 1).unwrap());
        assert!(!store.claim("HB-1", "dev-a", 2).unwrap());
        assert_eq!(
            refusal(store.claim("HB-1", "dev-b", 3)),
            Refusal::ReferenceTaken
        );
        assert_eq!(store.references("dev-b", 10).unwrap(), Vec::<String>::new());
        assert_eq!(store.references("dev-a", 10).unwrap(), vec!["HB-1"]);
    }

    #[test]
    fn secrets_are_stored_only_as_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let store = Store::open(&path).unwrap();
        let t = store.create_token(7, "Acme", 100, 1000, 1).unwrap();
        let (credential, _) = store.enroll(&t.token, "PC", None, |_| None, 200).unwrap();
        let admin = store.create_admin("Dana", 300).unwrap();
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.path().join("relay.sqlite3-wal")).unwrap_or_default());
        let text = String::from_utf8_lossy(&bytes);
        let token_secret = t.token.rsplit('.').next().unwrap();
        let device_secret = credential.rsplit('.').next().unwrap();
        assert!(!text.contains(token_secret));
        assert!(!text.contains(device_secret));
        assert!(!text.contains(admin.token.rsplit('.').next().unwrap()));
    }
}
