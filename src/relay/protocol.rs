//! The relay's device API, version 1: the shapes both ends agree on (README, "The relay's device
//! API"). Every refusal is an [`ErrorBody`] with a [`Refusal`] code the app turns into a plain
//! message.

use serde::{Deserialize, Serialize};

use crate::settings::{Branding, FormSettings, TicketDefaults};
use crate::submit::SavedSubmission;

/// The path prefix of this version.
pub const API_PREFIX: &str = "/v1";
/// The most a device may send in one request (a ticket with its screenshots at their cap, base64).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// The longest a submit waits for the ticket to be filed before answering "stored".
pub const MAX_SUBMIT_WAIT_MS: u64 = 10_000;

/// `POST /v1/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub token: String,
    pub hostname: String,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub app_version: String,
}

/// The answer to an enrollment: the device's own credential, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolled {
    pub credential: String,
    #[serde(flatten)]
    pub identity: DeviceIdentity,
}

/// What the relay knows this device as (`GET /v1/device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub hostname: String,
    #[serde(default)]
    pub mac: Option<String>,
    /// The Atera agent found for the hostname at enrollment, when there was one.
    #[serde(default)]
    pub agent_id: Option<i64>,
}

/// `POST /v1/tickets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    pub submission: SavedSubmission,
}

/// Where one of the device's tickets stands on the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayedState {
    /// Stored durably on the relay; being filed in Atera.
    Queued,
    /// Filed in Atera.
    Filed,
    /// The relay gave up on it (a lasting refusal); an admin can retry it there.
    Failed,
    /// The dispatcher rules on the relay stopped it.
    Blocked,
}

/// One ticket as the relay reports it to the device that filed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStatus {
    pub reference: String,
    pub state: RelayedState,
    pub subject: String,
    pub created_at: String,
    #[serde(default)]
    pub ticket_id: Option<i64>,
    #[serde(default)]
    pub ticket_number: Option<String>,
    /// Why it failed or was blocked, in words for the user.
    #[serde(default)]
    pub reason: Option<String>,
    /// Atera's status, as the relay last read it (it polls once for every device).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub last_reply: Option<crate::tracking::Reply>,
    /// A technician replied since the device last read the thread.
    #[serde(default)]
    pub unread: bool,
}

/// `GET /v1/tickets/{reference}/thread`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thread {
    pub comments: Vec<crate::tracking::ThreadComment>,
}

/// `POST /v1/tickets/{reference}/replies`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyRequest {
    pub text: String,
}

/// `GET /v1/events?after=N&wait_ms=M`: answers when this device's tickets changed after `N` (or
/// when the wait ends); the device then reads its list again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Events {
    pub seq: u64,
    pub changed: bool,
}

/// The longest an events request waits.
pub const MAX_EVENTS_WAIT_MS: u64 = 30_000;
/// The longest reply a device may post.
pub const MAX_REPLY_CHARS: usize = 20_000;

/// `GET /v1/tickets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketList {
    pub tickets: Vec<TicketStatus>,
}

/// `GET /v1/settings`: what the relay pushes to its devices' forms; it overrides the local
/// settings the way a machine policy does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedSettings {
    pub defaults: TicketDefaults,
    pub form: FormSettings,
    pub branding: Branding,
}

/// `GET /v1/check`: the relay's own connection to Atera.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AteraCheck {
    pub message: String,
}

/// `GET /v1/admin/rules` (and the answer to a save): the dispatcher rules every device's
/// tickets run through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesDocument {
    pub script: String,
    /// The saved version (0 before the first save); a save names the one it started from.
    pub version: i64,
    /// False when the rules come from `rules_file` in relay.toml: they are edited there.
    pub editable: bool,
    /// Where they come from, in words.
    pub source: String,
    #[serde(default)]
    pub saved_at: Option<i64>,
    #[serde(default)]
    pub saved_by: Option<String>,
    /// The admin the token belongs to.
    pub admin: String,
}

/// `POST /v1/admin/rules/check`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesCheckRequest {
    pub script: String,
}

/// The syntax check's answer: `ok` is false when the script cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesCheck {
    pub ok: bool,
    pub diagnostics: Vec<crate::rules::RuleDiagnostic>,
}

/// `POST /v1/admin/rules/test`: runs `script` against `input` on the relay; the answer is a
/// [`crate::rules::RuleOutcome`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesTestRequest {
    pub script: String,
    pub input: crate::rules::RuleInput,
}

/// `PUT /v1/admin/rules`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesSaveRequest {
    pub script: String,
    /// The version the admin started from ([`RulesDocument::version`]).
    pub version: i64,
}

/// The most an admin request may carry (a script is at most 128 KiB).
pub const MAX_ADMIN_REQUEST_BYTES: usize = 1024 * 1024;

/// Why the relay refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No device credential, or one the relay does not know.
    Unauthenticated,
    /// The device was revoked by the MSP.
    DeviceRevoked,
    /// The enrollment token is not one the relay issued (or it was withdrawn).
    TokenUnknown,
    TokenExpired,
    TokenUsedUp,
    /// The request is malformed; the message says what.
    Invalid,
    TooLarge,
    RateLimited,
    /// No such ticket for this device (another device's ticket reads the same).
    NotFound,
    /// The reference belongs to another device's ticket.
    ReferenceTaken,
    /// The relay cannot take requests now (its store failed).
    Unavailable,
    /// The admin token was revoked.
    Forbidden,
    /// It cannot be changed here (the rules come from the relay's `rules_file`).
    ReadOnly,
    /// Someone else changed it since it was read (the rules: another admin saved).
    Conflict,
    /// A code from a newer relay.
    #[serde(other)]
    Other,
}

impl Refusal {
    /// The HTTP status the relay answers it with.
    pub fn status(self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::DeviceRevoked | Self::TokenUnknown | Self::TokenExpired | Self::TokenUsedUp => {
                403
            }
            Self::Invalid | Self::Other => 400,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::NotFound => 404,
            Self::ReferenceTaken | Self::Conflict => 409,
            Self::Unavailable => 503,
            Self::Forbidden | Self::ReadOnly => 403,
        }
    }

    /// What the person at the keyboard is told.
    pub fn user_message(self) -> &'static str {
        match self {
            Self::DeviceRevoked => "This PC is no longer allowed to send tickets to your IT provider's helpdesk. Please contact your IT provider.",
            Self::Unauthenticated => "This PC's helpdesk registration is not recognised. Please contact your IT provider.",
            Self::TokenUnknown => "The helpdesk enrollment code on this PC is not valid. Please contact your IT provider.",
            Self::TokenExpired => "The helpdesk enrollment code on this PC has expired. Please contact your IT provider.",
            Self::TokenUsedUp => "The helpdesk enrollment code on this PC has been used up. Please contact your IT provider.",
            Self::TooLarge => "The ticket is too large for the helpdesk. Leave out a screenshot and send it again.",
            Self::RateLimited => "Many tickets were sent from this PC just now; the ticket is saved and will be sent in a moment.",
            Self::Unavailable => "Your IT provider's helpdesk is busy; the ticket is saved and will be sent shortly.",
            Self::NotFound
            | Self::Invalid
            | Self::ReferenceTaken
            | Self::Forbidden
            | Self::ReadOnly
            | Self::Conflict
            | Self::Other => "The helpdesk could not take this ticket. Please call your IT support.",
        }
    }
}

/// The body of every refusal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: Refusal,
    /// For an admin reading logs: what was wrong and what to do.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_relays_code_reads_as_other_not_as_an_unreadable_answer() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"quota_exceeded","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, Refusal::Other);
        let revoked: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"device_revoked","message":"m"}}"#).unwrap();
        assert_eq!(revoked.error.code, Refusal::DeviceRevoked);
    }
}
