//! The managed policy: one machine-wide file an MSP pushes to a fleet through its RMM. It sets
//! values and can lock them. Locked values override the user's settings and cannot be changed
//! in the app or the CLI; unlocked values are defaults the admin on the PC may change.
//!
//! ```toml
//! # /etc/helpdesk-button/policy.toml
//! locked = ["atera.endpoint", "atera.defaults"]   # dotted keys; a table locks everything in it
//! admin_password_hash = "$argon2id$v=19$..."      # optional: `helpdesk-button admin hash-password`
//!
//! [settings.atera]
//! endpoint = "app.atera.com"
//! [settings.atera.defaults]
//! priority = "High"
//! ```
//!
//! The policy never holds the API key: RMM scripts store it with `settings set-api-key`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::paths::read_optional;
use crate::settings::SettingsError;

/// A loaded policy; empty when there is no policy file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Where it was read from, when a file exists.
    pub source: Option<PathBuf>,
    /// Locked dotted keys.
    pub locked: Vec<String>,
    /// The admin password's argon2 hash, when the policy sets it.
    pub admin_password_hash: Option<String>,
    /// The values it sets, in the settings file's shape.
    pub settings: toml::Table,
    /// Dispatcher rules the policy sets (`rules = """..."""`): the PC's own when it has none,
    /// and the only ones when `locked` holds `"rules"`.
    pub rules: Option<String>,
    /// Why the file could not be read, when it exists but is broken. A broken policy locks
    /// everything ([`Policy::is_locked`] is true for every key): it never loosens anything.
    pub broken: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    locked: Vec<String>,
    #[serde(default)]
    admin_password_hash: Option<String>,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    rules: Option<String>,
}

impl Policy {
    /// Reads the policy at `path`; no file means no policy.
    ///
    /// # Errors
    /// [`SettingsError::Parse`] when the file exists but is not valid, naming the file.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let Some(bytes) = read_optional(path)? else {
            return Ok(Self::default());
        };
        let parse_err = |message: String| SettingsError::Parse {
            path: path.display().to_string(),
            message,
        };
        let text = String::from_utf8_lossy(&bytes);
        let file: PolicyFile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            parse_err(match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_string(),
            })
        })?;
        let mut settings = file.settings;
        crate::settings::migrate(&mut settings);
        settings.remove("schema_version");
        Ok(Self {
            source: Some(path.to_path_buf()),
            locked: file
                .locked
                .into_iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            admin_password_hash: file.admin_password_hash.filter(|h| !h.trim().is_empty()),
            settings,
            rules: file.rules.filter(|r| !r.trim().is_empty()),
            broken: None,
        })
    }

    /// [`Policy::load`], failing closed: a file that exists but cannot be read or parsed gives
    /// a policy that sets nothing and locks everything, carrying the error (file and line) for
    /// every refusal. Tickets still go out on the settings as they are.
    pub fn load_or_lock_down(path: &Path) -> Self {
        Self::load(path).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the policy file is broken; every setting is locked until it is fixed");
            Self {
                source: Some(path.to_path_buf()),
                broken: Some(e.to_string()),
                ..Self::default()
            }
        })
    }

    /// Why `key` cannot be changed here, if it cannot: a broken policy file (with its error), or
    /// a lock (naming the file).
    pub fn refusal(&self, key: &str) -> Option<String> {
        if let Some(error) = &self.broken {
            return Some(format!(
                "no setting can be changed while the policy file is broken ({error}); fix the file, then try again"
            ));
        }
        self.is_locked(key).then(|| {
            let file = self
                .source
                .as_deref()
                .map_or_else(|| "the policy file".into(), |p| p.display().to_string());
            format!("`{key}` is locked by the policy in {file}; change it there")
        })
    }

    /// Whether the value at `key` itself is forced: `key` or a table above it is locked. Unlike
    /// [`Policy::is_locked`], a table that merely *contains* a locked key is not (its other keys
    /// are the user's).
    pub fn forces(&self, key: &str) -> bool {
        self.broken.is_some()
            || self
                .locked
                .iter()
                .any(|l| key == l || key.starts_with(&format!("{l}.")))
    }

    /// Whether `key` (dotted) is locked, itself or through a locked parent table. Everything is
    /// locked while the policy file is broken.
    pub fn is_locked(&self, key: &str) -> bool {
        if self.broken.is_some() {
            return true;
        }
        self.locked.iter().any(|l| {
            key == l || key.starts_with(&format!("{l}.")) || l.starts_with(&format!("{key}."))
        })
    }

    /// The effective settings table: `defaults`, then the policy's values, then the user's,
    /// then the policy's values for locked keys (or the defaults, when a locked key has no
    /// value in the policy).
    pub fn apply(&self, defaults: toml::Table, user: toml::Table) -> toml::Table {
        let mut merged = defaults.clone();
        merge(&mut merged, &self.settings);
        merge(&mut merged, &user);
        for key in &self.locked {
            let forced = get(&self.settings, key)
                .or_else(|| get(&defaults, key))
                .cloned();
            if let Some(value) = forced {
                set(&mut merged, key, value);
            }
        }
        merged
    }
}

/// What of `mine` differs from `base`, leaf by leaf (arrays as a whole), leaving out the dotted
/// keys `skip` says (locked ones). `prefix` is the dotted path of these tables.
pub fn difference(
    mine: &toml::Table,
    base: &toml::Table,
    prefix: &str,
    skip: &dyn Fn(&str) -> bool,
) -> toml::Table {
    let mut out = toml::Table::new();
    for (k, v) in mine {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if skip(&key) {
            continue;
        }
        match (v, base.get(k)) {
            (toml::Value::Table(m), Some(toml::Value::Table(b))) => {
                let inner = difference(m, b, &key, skip);
                if !inner.is_empty() {
                    out.insert(k.clone(), toml::Value::Table(inner));
                }
            }
            (v, Some(b)) if v == b => {}
            (v, _) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn get<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let first = table.get(parts.next()?)?;
    parts.try_fold(first, |node, part| node.as_table()?.get(part))
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = table;
    for part in &parts[..parts.len() - 1] {
        let entry = node
            .entry((*part).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(next) = entry.as_table_mut() else {
            return;
        };
        node = next;
    }
    node.insert(parts[parts.len() - 1].to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::AppPaths;
    use crate::settings::Settings;
    use crate::values::Priority;

    fn policy(text: &str) -> (tempfile::TempDir, Policy) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, text).unwrap();
        let p = Policy::load(&path).unwrap();
        (dir, p)
    }

    #[test]
    fn locked_values_win_over_the_user_and_unlocked_ones_are_defaults() {
        let (_d, p) = policy(
            "locked = [\"atera.endpoint\", \"atera.defaults\"]\n\
             [settings.atera]\nendpoint = \"msp.atera.example\"\n\
             [settings.atera.defaults]\npriority = \"High\"\n\
             [settings.branding]\ncompany_name = \"Contoso IT\"\n",
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        std::fs::write(
            paths.settings_file(),
            "[atera]\nendpoint = \"evil.example.com\"\n[atera.defaults]\npriority = \"Low\"\nimpact = \"Crisis\"\n[branding]\ncompany_name = \"Mine\"\n",
        )
        .unwrap();
        let s = Settings::load_with(&paths, &p).unwrap();
        assert_eq!(s.atera.endpoint, "msp.atera.example", "locked value");
        assert_eq!(s.atera.defaults.priority, Priority::High, "locked table");
        assert_eq!(
            s.atera.defaults.impact,
            crate::values::Impact::Minor,
            "a locked table without a policy value falls back to the default"
        );
        assert_eq!(
            s.branding.company_name, "Mine",
            "an unlocked policy value is only a default"
        );
        assert!(
            p.is_locked("atera.defaults.priority")
                && p.is_locked("atera.endpoint")
                && p.is_locked("atera")
        );
        assert!(!p.is_locked("branding.company_name"));
    }

    #[test]
    fn no_file_means_no_policy_and_a_bad_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Policy::load(&dir.path().join("none.toml")).unwrap(),
            Policy::default()
        );
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lokked = []").unwrap();
        let err = Policy::load(&path).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("lokked"), "{err}");
    }

    /// Saving keeps the layers: an unlocked policy default the user did not touch stays the
    /// policy's, so a later policy change reaches the PC; a locked value is never written.
    #[test]
    fn saving_writes_only_what_the_user_changed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let write_policy = |company: &str| {
            std::fs::write(
                &paths.policy_file,
                format!("locked = [\"atera.endpoint\"]\n[settings.atera]\nendpoint = \"msp.atera.example\"\n[settings.branding]\ncompany_name = \"{company}\"\n"),
            )
            .unwrap();
        };
        write_policy("Contoso IT");
        let mut s = Settings::load(&paths).unwrap();
        s.set("hotkey", "Ctrl+Shift+F2").unwrap();
        // Beside the locked endpoint, in the same table: the user's.
        s.set("atera.fallback_contact_email", "frontdesk@contoso.example")
            .unwrap();
        s.save(&paths).unwrap();
        assert_eq!(
            Settings::load(&paths).unwrap().atera.fallback_contact_email,
            "frontdesk@contoso.example",
            "a value next to a locked one is kept"
        );
        let text = std::fs::read_to_string(paths.settings_file()).unwrap();
        assert!(text.contains("Ctrl+Shift+F2"), "{text}");
        assert!(
            !text.contains("Contoso") && !text.contains("endpoint"),
            "only the change: {text}"
        );
        write_policy("Contoso Managed IT");
        let s = Settings::load(&paths).unwrap();
        assert_eq!(
            s.branding.company_name, "Contoso Managed IT",
            "the policy's change arrives"
        );
        assert_eq!(s.hotkey, "Ctrl+Shift+F2", "the user's change stays");
    }

    #[test]
    fn a_broken_policy_locks_everything_and_says_where_it_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            "locked = [\"atera.endpoint\"]\n\n[settings.atera\nendpoint = 1\n",
        )
        .unwrap();
        let p = Policy::load_or_lock_down(&path);
        for key in ["branding.company_name", "atera.endpoint", "hotkey", "rules"] {
            assert!(p.is_locked(key), "{key}");
            let why = p.refusal(key).unwrap();
            assert!(
                why.contains("policy.toml") && why.contains("line 3"),
                "{why}"
            );
        }
        assert!(p.settings.is_empty() && p.admin_password_hash.is_none());
        // A sound policy refuses only what it locks, naming its file.
        std::fs::write(&path, "locked = [\"atera.endpoint\"]\n").unwrap();
        let p = Policy::load_or_lock_down(&path);
        assert!(p.refusal("branding.company_name").is_none());
        assert!(p.refusal("atera.endpoint").unwrap().contains("policy.toml"));
    }
}
