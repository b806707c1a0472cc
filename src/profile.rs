//! Who usually submits from this machine: the name, email and phone of the last successful
//! submission, used to prefill the form. Falls back to the OS account's full name.

use serde::{Deserialize, Serialize};

use crate::paths::{read_optional, write_atomic, AppPaths, PathsError};

/// The requester details the form starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequesterProfile {
    pub name: String,
    pub email: String,
    pub phone: String,
}

fn profile_file(paths: &AppPaths) -> std::path::PathBuf {
    paths.data_dir.join("requester.json")
}

/// The saved profile, else the OS account's full name (or user name) with no email.
pub fn load(paths: &AppPaths, os_full_name: Option<&str>, os_username: &str) -> RequesterProfile {
    let saved = read_optional(&profile_file(paths))
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<RequesterProfile>(&bytes).ok());
    saved.unwrap_or_else(|| RequesterProfile {
        name: os_full_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(os_username)
            .trim()
            .to_string(),
        ..Default::default()
    })
}

/// Remembers the requester after a successful submission.
///
/// # Errors
/// When the data directory cannot be written.
pub fn save(paths: &AppPaths, profile: &RequesterProfile) -> Result<(), PathsError> {
    write_atomic(
        &profile_file(paths),
        &serde_json::to_vec(profile).unwrap_or_default(),
        Some(0o600),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_profile_wins_over_the_os_account() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        assert_eq!(
            load(&paths, Some("Ada Lovelace"), "ada").name,
            "Ada Lovelace"
        );
        assert_eq!(load(&paths, None, "ada").name, "ada");
        let p = RequesterProfile {
            name: "Ada L.".into(),
            email: "ada@contoso.com".into(),
            phone: String::new(),
        };
        save(&paths, &p).unwrap();
        assert_eq!(load(&paths, Some("Ada Lovelace"), "ada"), p);
    }
}
