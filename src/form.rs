//! What the user submits, and the checks that turn bad input into specific, per-field messages.
//!
//! Shared by the form window and the CLI. It does not talk to Atera.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// The longest derived subject, in characters.
pub const SUBJECT_MAX: usize = 50;
/// The longest description, in characters: about ten printed pages. A longer one is refused at
/// the form and the CLI with this number, rather than by the rules or by Atera later.
pub const DESCRIPTION_MAX: usize = 20_000;
/// The most selections (checkboxes and radio answers) one submission carries.
pub const SELECTIONS_MAX: usize = 50;

/// One submission as the user entered it. Priority, type and impact are raw text here: they are
/// normalised (people's names, legacy names) when the ticket is built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketForm {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub subject: String,
    pub description: String,
    /// The checked checkbox labels and the chosen option of each radio group.
    pub selections: Vec<String>,
    pub priority: String,
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub impact: String,
    /// Ids of the screenshots to attach.
    pub included_screenshots: Vec<u32>,
}

/// Field-by-field problems, keyed by the form's field name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// Whether there is nothing to fix.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, field: &str, message: &str) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.to_string());
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(field, msg)| format!("{field}: {msg}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl TicketForm {
    /// Trims the fields and fills the subject from the description when it is empty.
    pub fn normalised(mut self) -> Self {
        for field in [
            &mut self.name,
            &mut self.email,
            &mut self.phone,
            &mut self.subject,
        ] {
            *field = field.trim().to_string();
        }
        self.description = self.description.trim_end().to_string();
        if self.subject.is_empty() {
            self.subject = derive_subject(&self.description);
        }
        self
    }

    /// Checks the form against the settings' required fields.
    ///
    /// # Errors
    /// [`FieldErrors`] with one specific message per bad field.
    pub fn validate(&self, settings: &Settings) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.name.trim().is_empty() {
            errors.add(
                "name",
                "Enter your name so the technician knows who to help.",
            );
        } else if self.name.chars().count() > 100 {
            errors.add("name", "Shorten your name to 100 characters or fewer.");
        }
        let email = self.email.trim();
        if email.is_empty() {
            errors.add(
                "email",
                "Enter your email address so we can reply, like name@company.com.",
            );
        } else if !is_plausible_email(email) {
            errors.add(
                "email",
                "This doesn't look like an email address. Use the form name@company.com.",
            );
        }
        let phone = self.phone.trim();
        if settings.form.require_phone && phone.is_empty() {
            errors.add("phone", "Enter a phone number we can call you on.");
        } else if !phone.is_empty() && !is_plausible_phone(phone) {
            errors.add(
                "phone",
                "Use digits, spaces and + ( ) - only, like +1 555 010 2030.",
            );
        }
        let description_len = self.description.chars().count();
        if description_len > DESCRIPTION_MAX {
            errors.add(
                "description",
                &format!("Shorten the description to {DESCRIPTION_MAX} characters or fewer (it has {description_len}); paste only the part of a log or message that shows the problem."),
            );
        }
        if self.selections.len() > SELECTIONS_MAX
            || self.selections.iter().any(|s| s.chars().count() > 200)
        {
            errors.add(
                "selections",
                &format!(
                    "Choose at most {SELECTIONS_MAX} options, each at most 200 characters long."
                ),
            );
        }
        if self.description.trim().chars().count() < 3 {
            errors.add("description", "Describe the problem in a few words, for example what you were doing when it happened.");
        }
        if self.subject.chars().count() > 200 {
            errors.add("subject", "Shorten the subject to 200 characters or fewer.");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The subject derived from a description: its first line, whitespace collapsed, cut to
/// [`SUBJECT_MAX`] characters at a word boundary (a single longer word is cut hard).
pub fn derive_subject(description: &str) -> String {
    let first_line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let collapsed = first_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= SUBJECT_MAX {
        return collapsed;
    }
    let mut cut = String::new();
    for word in collapsed.split(' ') {
        let next_len = cut.chars().count() + usize::from(!cut.is_empty()) + word.chars().count();
        if next_len > SUBJECT_MAX {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    if cut.is_empty() {
        collapsed.chars().take(SUBJECT_MAX).collect()
    } else {
        cut
    }
}

fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !email.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@')
}

fn is_plausible_phone(phone: &str) -> bool {
    phone.chars().filter(char::is_ascii_digit).count() >= 3
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +()-./x".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_cut_at_a_word_boundary() {
        let d = "My laptop cannot connect to the printer on the third floor since this morning";
        let s = derive_subject(d);
        assert_eq!(s, "My laptop cannot connect to the printer on the");
        assert!(s.chars().count() <= SUBJECT_MAX);
        assert_eq!(
            derive_subject("\n\n  Outlook   crashes\nwhen I open it"),
            "Outlook crashes"
        );
        assert_eq!(derive_subject(&"x".repeat(80)).chars().count(), 50);
        assert_eq!(
            derive_subject("Ünïcödé wörds ".repeat(10).as_str())
                .chars()
                .count(),
            49
        );
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let form = TicketForm {
            email: "bob@".into(),
            phone: "call me".into(),
            ..Default::default()
        }
        .normalised();
        let errors = form.validate(&Settings::default()).unwrap_err();
        assert_eq!(
            errors.0.keys().collect::<Vec<_>>(),
            ["description", "email", "name", "phone"]
        );
        assert!(errors.0["email"].contains("name@company.com"));
    }

    #[test]
    fn a_good_form_passes_and_gets_a_subject() {
        let form = TicketForm {
            name: " Ada ".into(),
            email: " ada@contoso.com ".into(),
            description: "Printer is jammed".into(),
            ..Default::default()
        }
        .normalised();
        assert_eq!(form.validate(&Settings::default()), Ok(()));
        assert_eq!(
            (
                form.name.as_str(),
                form.email.as_str(),
                form.subject.as_str()
            ),
            ("Ada", "ada@contoso.com", "Printer is jammed")
        );
    }

    #[test]
    fn phone_can_be_required_by_settings() {
        let mut settings = Settings::default();
        settings.form.require_phone = true;
        let form = TicketForm {
            name: "A".into(),
            email: "a@b.co".into(),
            description: "broken".into(),
            ..Default::default()
        };
        assert!(form
            .validate(&settings)
            .unwrap_err()
            .0
            .contains_key("phone"));
    }
}
