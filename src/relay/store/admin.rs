//! The relay's admins and the dispatcher rules they edit.
//!
//! - An admin token (`hba1.<id>.<secret>`, from `helpdesk-relay admin create`) is stored as a
//!   SHA-256 digest, like a device credential; it works only on the admin API.
//! - Every save of the rules is a new numbered version. A save names the version it started
//!   from and is refused as a [`Refusal::Conflict`] when another admin (on any instance) saved
//!   since: nobody's edit is overwritten unseen. The newest 100 versions are kept.

use serde::Serialize;

use super::{digest, random_id, random_secret, same_digest, split_secret, Store, StoreError};
use crate::db::{params, OptionalExtension, Sql};
use crate::relay::protocol::Refusal;

const ADMIN_PREFIX: &str = "hba1";
/// How many saved versions of the rules are kept.
const KEPT_VERSIONS: i64 = 100;
/// The longest an admin's name may be.
pub const MAX_ADMIN_NAME_CHARS: usize = 80;

/// An admin token as `admin create` prints it; the secret is never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedAdmin {
    pub token: String,
    pub id: String,
    pub name: String,
}

/// Who an admin token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminIdentity {
    pub admin_id: String,
    pub name: String,
}

/// An admin as `admin list` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct AdminRecord {
    #[serde(flatten)]
    pub identity: AdminIdentity,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub revoked_at: Option<i64>,
}

/// The newest saved version of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRules {
    pub version: i64,
    pub script: String,
    pub saved_at: i64,
    /// The admin's name and id: `Dana (3f2a…)`.
    pub saved_by: String,
}

impl Store {
    /// Issues an admin token for `name`.
    ///
    /// # Errors
    /// [`Refusal::Invalid`] for an empty or overlong name; or when the database cannot be
    /// written.
    pub fn create_admin(&self, name: &str, now: i64) -> Result<IssuedAdmin, StoreError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_ADMIN_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(StoreError::Refused(Refusal::Invalid));
        }
        let (id, secret) = (random_id(), random_secret());
        self.db().execute(
            "INSERT INTO admins (id, name, secret_hash, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![id, name, digest(&secret), now],
        )?;
        self.audit(
            now,
            None,
            "admin-created",
            None,
            Some(&format!("admin {id} ({name})")),
        )?;
        Ok(IssuedAdmin {
            token: format!("{ADMIN_PREFIX}.{id}.{secret}"),
            id,
            name: name.to_string(),
        })
    }

    /// The admin an admin token belongs to.
    ///
    /// # Errors
    /// [`Refusal::Unauthenticated`] for anything but a known admin token (a device credential
    /// included), [`Refusal::Forbidden`] for a revoked one.
    pub fn authenticate_admin(&self, token: &str, now: i64) -> Result<AdminIdentity, StoreError> {
        let (id, secret) = split_secret(token, ADMIN_PREFIX)
            .ok_or(StoreError::Refused(Refusal::Unauthenticated))?;
        let row: Option<(String, String, Option<i64>, i64)> = self
            .db()
            .query_row(
                "SELECT name, secret_hash, revoked_at, last_seen_at FROM admins WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((name, hash, revoked_at, last_seen)) = row else {
            return Err(StoreError::Refused(Refusal::Unauthenticated));
        };
        if !same_digest(&hash, &digest(secret)) {
            return Err(StoreError::Refused(Refusal::Unauthenticated));
        }
        if revoked_at.is_some() {
            return Err(StoreError::Refused(Refusal::Forbidden));
        }
        if now - last_seen >= 60 {
            self.db().execute(
                "UPDATE admins SET last_seen_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(AdminIdentity {
            admin_id: id.to_string(),
            name,
        })
    }

    /// Every admin, oldest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn admins(&self) -> Result<Vec<AdminRecord>, StoreError> {
        Ok(self.db().query_map(
            "SELECT id, name, created_at, last_seen_at, revoked_at FROM admins ORDER BY created_at, id",
            params![],
            |r| {
                Ok(AdminRecord {
                    identity: AdminIdentity {
                        admin_id: r.get(0)?,
                        name: r.get(1)?,
                    },
                    created_at: r.get(2)?,
                    last_seen_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            },
        )?)
    }

    /// Revokes an admin token (once: a second revoke changes and records nothing). Returns
    /// whether the admin exists.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn revoke_admin(&self, admin_id: &str, now: i64) -> Result<bool, StoreError> {
        self.db().transaction(|tx| {
            let changed = tx.execute(
                "UPDATE admins SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![admin_id, now],
            )?;
            if changed > 0 {
                tx.execute(
                    "INSERT INTO audit (at, event, detail) VALUES (?1, 'admin-revoked', ?2)",
                    params![now, format!("admin {admin_id}")],
                )?;
                return Ok(true);
            }
            let known: i64 = tx.query_row(
                "SELECT COUNT(*) FROM admins WHERE id = ?1",
                params![admin_id],
                |r| r.get(0),
            )?;
            Ok(known > 0)
        })
    }

    /// The newest saved rules, or `None` before the first save.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn rules(&self) -> Result<Option<StoredRules>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT version, script, saved_at, saved_by FROM rules_versions ORDER BY version DESC LIMIT 1",
                params![],
                |r| {
                    Ok(StoredRules {
                        version: r.get(0)?,
                        script: r.get(1)?,
                        saved_at: r.get(2)?,
                        saved_by: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Saves `script` as the version after `base` (the version the admin started from; 0 before
    /// the first save), with its audit line, in one transaction. Returns what was saved.
    ///
    /// # Errors
    /// [`Refusal::Conflict`] when `base` is no longer the newest version: someone saved since.
    pub fn save_rules(
        &self,
        script: &str,
        base: i64,
        admin: &AdminIdentity,
        now: i64,
    ) -> Result<StoredRules, StoreError> {
        let version = base
            .checked_add(1)
            .ok_or(StoreError::Refused(Refusal::Conflict))?;
        let saved_by = format!("{} ({})", admin.name, admin.admin_id);
        self.db().transaction(|tx| {
            // Saved only while `base` is the newest version; the version's primary key settles
            // two instances saving on top of the same version at the same moment (the second
            // waits for the first, then inserts nothing).
            let saved = tx.execute(
                "INSERT INTO rules_versions (version, script, saved_at, saved_by)
                 SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COALESCE(MAX(version), 0) FROM rules_versions) = ?5
                 ON CONFLICT (version) DO NOTHING",
                params![version, script, now, saved_by, base],
            )?;
            if saved == 0 {
                return Err(StoreError::Refused(Refusal::Conflict));
            }
            tx.execute(
                "DELETE FROM rules_versions WHERE version <= ?1",
                params![version - KEPT_VERSIONS],
            )?;
            tx.execute(
                "INSERT INTO audit (at, event, detail) VALUES (?1, 'rules-saved', ?2)",
                params![
                    now,
                    format!("version {version} by admin {saved_by}, {} bytes", script.len())
                ],
            )?;
            Ok(())
        })?;
        Ok(StoredRules {
            version,
            script: script.to_string(),
            saved_at: now,
            saved_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{refusal, store};
    use super::*;

    #[test]
    fn an_admin_token_is_known_until_revoked_and_a_device_credential_is_not_one() {
        let (_dir, store) = store();
        let issued = store.create_admin("Dana", 100).unwrap();
        let me = store.authenticate_admin(&issued.token, 110).unwrap();
        assert_eq!(me.name, "Dana");
        let t = store.create_token(7, "Acme", 100, 1000, 1).unwrap();
        let (credential, _) = store.enroll(&t.token, "PC", None, |_| None, 120).unwrap();
        assert_eq!(
            refusal(store.authenticate_admin(&credential, 130)),
            Refusal::Unauthenticated
        );
        let forged = format!("hba1.{}.{}", issued.id, "C".repeat(43));
        assert_eq!(
            refusal(store.authenticate_admin(&forged, 130)),
            Refusal::Unauthenticated
        );
        assert!(store.revoke_admin(&issued.id, 140).unwrap());
        assert_eq!(
            refusal(store.authenticate_admin(&issued.token, 150)),
            Refusal::Forbidden
        );
        assert!(!store.revoke_admin("0000000000000000", 150).unwrap());
        // A second revoke keeps the first time and writes no second audit line.
        assert!(store.revoke_admin(&issued.id, 160).unwrap());
        assert_eq!(store.admins().unwrap()[0].revoked_at, Some(140));
        let revokes = store
            .audit_log()
            .unwrap()
            .into_iter()
            .filter(|e| e.event == "admin-revoked")
            .count();
        assert_eq!(revokes, 1);
        assert_eq!(
            refusal(store.create_admin("  ", 100)),
            Refusal::Invalid,
            "an admin needs a name"
        );
    }

    #[test]
    fn a_save_from_an_old_version_is_a_conflict_and_keeps_the_newer_rules() {
        let (_dir, store) = store();
        let dana = store
            .authenticate_admin(&store.create_admin("Dana", 1).unwrap().token, 1)
            .unwrap();
        assert_eq!(store.rules().unwrap(), None);
        let first = store.save_rules("priority = 'High'\n", 0, &dana, 10);
        assert_eq!(first.unwrap().version, 1);
        let second = store
            .save_rules("priority = 'Low'\n", 1, &dana, 20)
            .unwrap();
        assert_eq!(second.version, 2);
        // Someone who opened version 1 saves on top of version 2: refused, version 2 stays.
        assert_eq!(
            refusal(store.save_rules("impact = 'Major'\n", 1, &dana, 30)),
            Refusal::Conflict
        );
        let newest = store.rules().unwrap().unwrap();
        assert_eq!(newest, second, "the save answers what was stored");
        assert!(newest.saved_by.starts_with("Dana ("), "{}", newest.saved_by);
        assert!(store
            .audit_log()
            .unwrap()
            .iter()
            .any(|e| e.event == "rules-saved"
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("version 2 "))));
    }

    #[test]
    fn only_the_newest_versions_are_kept() {
        let (_dir, store) = store();
        let dana = store
            .authenticate_admin(&store.create_admin("Dana", 1).unwrap().token, 1)
            .unwrap();
        for base in 0..(KEPT_VERSIONS + 5) {
            store.save_rules("pass\n", base, &dana, 10).unwrap();
        }
        let kept: i64 = store
            .db()
            .query_row("SELECT COUNT(*) FROM rules_versions", params![], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(kept, KEPT_VERSIONS);
        assert_eq!(store.rules().unwrap().unwrap().version, KEPT_VERSIONS + 5);
    }
}
