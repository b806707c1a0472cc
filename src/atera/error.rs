//! One error per way a call to Atera can fail. Each has a message a non-technical user
//! understands ([`AteraError::user_message`]) and a detail an admin can act on (`Display`), and
//! knows whether trying again can help. None of them ever contains the API key.

use std::time::Duration;

/// A failed Atera call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AteraError {
    #[error("Atera rejected the API key (HTTP {status}){}: copy the key again from Atera (Admin > API) and save it with `helpdesk-button settings set-api-key`", detail_suffix(.detail))]
    Unauthorized { status: u16, detail: Option<String> },
    #[error("{endpoint} does not look like Atera: {reason}. Check the endpoint setting (usually app.atera.com).")]
    NotAtera { endpoint: String, reason: String },
    #[error("cannot find the host {host}: {reason}. Check the endpoint setting and this PC's internet connection.")]
    HostNotFound { host: String, reason: String },
    #[error("cannot connect to {host}: {reason}. Check this PC's internet connection, proxy or firewall.")]
    Connect { host: String, reason: String },
    #[error("the secure connection to {host} failed: {reason}. A proxy or antivirus may be intercepting HTTPS, or the system clock may be wrong.")]
    Tls { host: String, reason: String },
    #[error("Atera did not answer within {0:?}. It may be slow or unreachable; the request may or may not have been processed.")]
    Timeout(Duration),
    #[error("the connection to Atera was lost before it answered ({0}); the request may or may not have been processed")]
    ConnectionLost(String),
    #[error("Atera is limiting requests (HTTP 429){}", retry_suffix(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    #[error("Atera refused the request (HTTP 400): {detail}. Check the default priority, type, impact and status in the settings; if they are right, send this message to your Helpdesk Button vendor.")]
    Validation { detail: String },
    #[error("Atera could not find {what} (HTTP 404)")]
    NotFound { what: String },
    #[error("Atera had a server error (HTTP {status}){}. It is usually temporary.", detail_suffix(.detail))]
    Server { status: u16, detail: Option<String> },
    #[error("Atera answered HTTP {status} unexpectedly{}. Check the endpoint setting (usually app.atera.com).", detail_suffix(.detail))]
    UnexpectedStatus { status: u16, detail: Option<String> },
    #[error("Atera's answer could not be read at `{path}`: {message}. Check that the endpoint setting points at Atera (usually app.atera.com).")]
    Decode { path: String, message: String },
    /// A 3xx: never followed, since following would send the key to wherever it points.
    #[error("{endpoint} answered with a redirect (HTTP {status}) to {location}; the app does not follow redirects, so the API key only goes to the configured host. Set the endpoint to Atera's API host itself (app.atera.com or api.atera.com), or check for a proxy rewriting requests.")]
    Redirected {
        endpoint: String,
        status: u16,
        location: String,
    },
    /// A 2xx to a create whose answer could not be read (an empty body, a placeholder id, a web
    /// page): Atera accepted the request, so what it created may exist.
    #[error("Atera accepted the request but its answer could not be read ({detail}); what it created may exist, so it is looked up before anything is sent again. Check the endpoint setting (usually app.atera.com) if this repeats.")]
    AcceptedUnreadable { detail: String },
    /// A 401/403 answered with a web page: something between this PC and Atera refused it.
    #[error("the request was blocked before it reached Atera's API ({endpoint} answered HTTP {status} with a web page, as a firewall, proxy or CDN rule does). The key was not judged; check this PC's web filter or proxy for app.atera.com / api.atera.com.")]
    Blocked { endpoint: String, status: u16 },
    #[error("Atera's answer was larger than {limit} bytes, the most this app reads; the request may or may not have been processed")]
    TooLarge { limit: usize },
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(": {}", d.trim().trim_end_matches('.')))
        .unwrap_or_default()
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; it asked us to wait {} s", d.as_secs()))
        .unwrap_or_default()
}

impl AteraError {
    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::HostNotFound { .. }
                | Self::Connect { .. }
                | Self::Timeout(_)
                | Self::ConnectionLost(_)
                | Self::RateLimited { .. }
                | Self::Server { .. }
        )
    }

    /// Whether the request may have been processed even though no answer arrived, so a retry of
    /// a create must first look for what it created. A gateway's 502 or 504 counts: the gateway
    /// gave up waiting, not necessarily Atera.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_)
                | Self::ConnectionLost(_)
                | Self::TooLarge { .. }
                | Self::Server {
                    status: 502 | 504,
                    ..
                }
        )
    }

    /// Whether a create (a `POST`) may have taken effect: an ambiguous failure, any 5xx but a
    /// 503 (a 500 raised after the insert, a CDN's 520/522/524 whose origin got the request),
    /// or a success whose answer could not be read.
    pub fn may_have_created(&self) -> bool {
        self.is_ambiguous()
            || matches!(self, Self::Server { status, .. } if *status != 503)
            || matches!(self, Self::AcceptedUnreadable { .. })
    }

    /// A short kind name for the UI and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::NotAtera { .. } => "not-atera",
            Self::HostNotFound { .. } => "host-not-found",
            Self::Connect { .. } => "connect",
            Self::Tls { .. } => "tls",
            Self::Timeout(_) => "timeout",
            Self::ConnectionLost(_) => "connection-lost",
            Self::RateLimited { .. } => "rate-limited",
            Self::Validation { .. } => "validation",
            Self::NotFound { .. } => "not-found",
            Self::Server { .. } => "server",
            Self::UnexpectedStatus { .. } => "unexpected-status",
            Self::Decode { .. } => "decode",
            Self::Redirected { .. } => "redirected",
            Self::Blocked { .. } => "blocked",
            Self::AcceptedUnreadable { .. } => "accepted-unreadable",
            Self::TooLarge { .. } => "too-large",
        }
    }

    /// What an end user is told: calm, no jargon, says what happens next.
    pub fn user_message(&self) -> String {
        match self {
            Self::Unauthorized { .. } | Self::NotAtera { .. } | Self::NotFound { .. } | Self::Tls { .. } | Self::Redirected { .. } | Self::Blocked { .. } => {
                "The helpdesk connection on this PC is not set up correctly, so the ticket could not be sent. \
                 Please call your IT support and mention this message."
                    .into()
            }
            Self::HostNotFound { .. } | Self::Connect { .. } | Self::Timeout(_) | Self::ConnectionLost(_) => {
                "The helpdesk could not be reached: check that this PC is connected to the internet.".into()
            }
            Self::RateLimited { .. } | Self::Server { .. } => {
                "The helpdesk is busy right now.".into()
            }
            Self::Validation { detail } => format!("The helpdesk did not accept the ticket: {detail}"),
            Self::UnexpectedStatus { .. } | Self::Decode { .. } | Self::TooLarge { .. } | Self::AcceptedUnreadable { .. } => {
                "The helpdesk gave an answer this app did not understand. Please call your IT support and mention this message.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_ambiguous_classes() {
        assert!(AteraError::Timeout(Duration::from_secs(5)).is_retryable());
        assert!(AteraError::Timeout(Duration::from_secs(5)).is_ambiguous());
        assert!(AteraError::Server {
            status: 503,
            detail: None
        }
        .is_retryable());
        assert!(!AteraError::Server {
            status: 503,
            detail: None
        }
        .is_ambiguous());
        assert!(!AteraError::Unauthorized {
            status: 401,
            detail: None
        }
        .is_retryable());
        assert!(!AteraError::Validation { detail: "x".into() }.is_retryable());
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = AteraError::Unauthorized {
            status: 401,
            detail: Some("Invalid key".into()),
        };
        assert!(e.to_string().contains("copy the key again"), "{e}");
        assert!(e.to_string().contains("Invalid key"));
        let e = AteraError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(e.to_string().contains("wait 30 s"));
    }
}
