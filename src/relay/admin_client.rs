//! The admin window's side of the relay's admin API: read, check, test and save the rules that
//! run on the relay for every PC. The admin token is the relay client's credential; it is held
//! only while the admin window is unlocked, never written anywhere.

use reqwest::Method;

use super::client::{RelayClient, RelayError};
use super::protocol::{
    Refusal, RulesCheck, RulesCheckRequest, RulesDocument, RulesSaveRequest, RulesTestRequest,
};
use crate::rules::{RuleInput, RuleOutcome};
use crate::secrets::ApiKey;

/// How an admin token starts.
pub const ADMIN_TOKEN_PREFIX: &str = "hba1.";

/// A client of one relay's admin API, as one admin.
#[derive(Debug, Clone)]
pub struct RelayAdmin {
    client: RelayClient,
}

impl RelayAdmin {
    /// A client for the relay at `base` with `token`.
    ///
    /// # Errors
    /// [`RelayError::NotEnrolled`] for something that is not an admin token (a device
    /// credential or an enrollment token pasted by mistake), and as [`RelayClient::new`].
    pub fn new(base: &str, token: &ApiKey) -> Result<Self, RelayError> {
        let t = token.expose();
        if !t.starts_with(ADMIN_TOKEN_PREFIX) {
            let what = if t.starts_with("hbe1.") {
                "an enrollment token"
            } else if t.starts_with("hbd1.") {
                "a device credential"
            } else {
                "not an admin token"
            };
            return Err(RelayError::NotEnrolled(format!(
                "that is {what}; an admin token starts with {ADMIN_TOKEN_PREFIX} (create one on the relay with `helpdesk-relay admin create --name NAME`)"
            )));
        }
        Ok(Self {
            client: RelayClient::new(base, Some(token))?,
        })
    }

    /// The relay's rules, with their version and who saved them.
    ///
    /// # Errors
    /// A [`RelayError`]; an unknown token is [`Refusal::Unauthenticated`].
    pub async fn rules(&self) -> Result<RulesDocument, RelayError> {
        self.client
            .send(Method::GET, "v1/admin/rules", None::<&()>, None)
            .await
    }

    /// The relay's syntax check of `script`.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn check(&self, script: &str) -> Result<RulesCheck, RelayError> {
        let body = RulesCheckRequest {
            script: script.into(),
        };
        self.client
            .send(Method::POST, "v1/admin/rules/check", Some(&body), None)
            .await
    }

    /// Runs `script` against `input` on the relay, as a ticket would.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn test(&self, script: &str, input: &RuleInput) -> Result<RuleOutcome, RelayError> {
        let body = RulesTestRequest {
            script: script.into(),
            input: input.clone(),
        };
        self.client
            .send(Method::POST, "v1/admin/rules/test", Some(&body), None)
            .await
    }

    /// Saves `script` on top of `version` (the one read). The next ticket runs it.
    ///
    /// # Errors
    /// A [`RelayError`]; [`Refusal::Conflict`] when another admin saved since `version`,
    /// [`Refusal::Invalid`] for a script that cannot run, [`Refusal::ReadOnly`] when the
    /// relay's rules come from its `rules_file`.
    pub async fn save(&self, script: &str, version: i64) -> Result<RulesDocument, RelayError> {
        let body = RulesSaveRequest {
            script: script.into(),
            version,
        };
        self.client
            .send(Method::PUT, "v1/admin/rules", Some(&body), None)
            .await
    }
}

/// What the admin window says of a failed admin request: what happened and what to do.
pub fn admin_message(error: &RelayError) -> String {
    match error {
        RelayError::Refused {
            code: Refusal::Unauthenticated,
            ..
        } => "The relay does not know this admin token. Create one on the relay with `helpdesk-relay admin create --name YOUR-NAME` and paste it here.".into(),
        RelayError::Refused {
            code: Refusal::Forbidden | Refusal::ReadOnly | Refusal::Conflict | Refusal::Invalid,
            message,
            ..
        } => capitalised(message),
        RelayError::Refused { message, .. } => format!("The relay refused: {message}."),
        RelayError::RateLimited { .. } => {
            "The relay asks to slow down: wait a minute and try again.".into()
        }
        RelayError::NotEnrolled(why) => capitalised(why),
        other => format!("{}.", capitalised(&other.to_string()).trim_end_matches('.')),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    let mut out = c
        .next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_credential_or_an_enrollment_token_is_not_taken_as_an_admin_token() {
        for (token, says) in [
            ("hbd1.abc.def", "a device credential"),
            ("hbe1.abc.def", "an enrollment token"),
            ("sk-123", "not an admin token"),
        ] {
            let e =
                RelayAdmin::new("http://127.0.0.1:1/", &ApiKey::new(token).unwrap()).unwrap_err();
            let message = admin_message(&e);
            assert!(message.contains(says), "{message}");
            assert!(message.contains("helpdesk-relay admin create"), "{message}");
        }
        assert!(
            RelayAdmin::new("http://127.0.0.1:1/", &ApiKey::new("hba1.abc.def").unwrap()).is_ok()
        );
    }

    #[test]
    fn a_conflict_reads_as_the_relays_own_words() {
        let e = RelayError::Refused {
            status: 409,
            code: Refusal::Conflict,
            message: "Dana (ab) saved version 3 of the rules at 2026-12-06T20:00:00Z since you opened version 2; reload them and make your change again".into(),
        };
        assert_eq!(
            admin_message(&e),
            "Dana (ab) saved version 3 of the rules at 2026-12-06T20:00:00Z since you opened version 2; reload them and make your change again."
        );
    }
}
