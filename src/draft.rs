//! The draft of the form being filled in, saved on every change so that closing the window, a
//! crash or a restart never loses what the user typed.
//!
//! Only the typed values live here; it never holds the API key.

use serde::{Deserialize, Serialize};

use crate::form::TicketForm;
use crate::paths::{read_optional, write_atomic, AppPaths, PathsError};

/// The form as the user left it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    #[serde(flatten)]
    pub form: TicketForm,
    /// Whether the user typed the subject (then it is no longer derived).
    pub subject_edited: bool,
    pub excluded_screenshots: Vec<u32>,
}

impl Draft {
    /// Whether it holds anything the user typed (name/email/phone alone are prefilled anyway).
    pub fn has_content(&self) -> bool {
        !self.form.description.trim().is_empty()
            || (self.subject_edited && !self.form.subject.trim().is_empty())
    }
}

/// Saves the draft atomically (user-only, since it holds what the user typed).
///
/// # Errors
/// When the data directory cannot be written.
pub fn save(paths: &AppPaths, draft: &Draft) -> Result<(), PathsError> {
    let bytes = serde_json::to_vec(draft).unwrap_or_default();
    write_atomic(&paths.draft_file(), &bytes, Some(0o600))
}

/// The saved draft, if there is a readable one. A corrupt draft is set aside, not deleted.
///
/// # Errors
/// When the file exists but cannot be read.
pub fn load(paths: &AppPaths) -> Result<Option<Draft>, PathsError> {
    let path = paths.draft_file();
    let Some(bytes) = read_optional(&path)? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(draft) => Ok(Some(draft)),
        Err(e) => {
            tracing::warn!(error = %e, "draft unreadable; keeping it as draft.json.corrupt");
            let _ = std::fs::rename(&path, path.with_extension("json.corrupt"));
            Ok(None)
        }
    }
}

/// Removes the draft after a successful submission.
pub fn clear(paths: &AppPaths) {
    let _ = std::fs::remove_file(paths.draft_file());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_round_trips_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        assert_eq!(load(&paths).unwrap(), None);
        let draft = Draft {
            form: TicketForm {
                description: "half-typed <b>".into(),
                selections: vec!["Call me".into()],
                ..Default::default()
            },
            subject_edited: false,
            excluded_screenshots: vec![1],
        };
        save(&paths, &draft).unwrap();
        assert_eq!(load(&paths).unwrap(), Some(draft.clone()));
        assert!(draft.has_content());
        clear(&paths);
        assert_eq!(load(&paths).unwrap(), None);
    }

    #[test]
    fn corrupt_draft_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        std::fs::write(paths.draft_file(), b"{not json").unwrap();
        assert_eq!(load(&paths).unwrap(), None);
        assert!(dir.path().join("draft.json.corrupt").exists());
    }
}
