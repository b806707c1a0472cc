//! The device's side of the relay: enrollment and the device API, with the same bounds as the
//! Atera client (no redirects, https except to this machine, capped answers and waits).

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::protocol::{
    DeviceIdentity, EnrollRequest, Enrolled, ErrorBody, PushedSettings, Refusal, SubmitRequest,
    TicketList, TicketStatus, MAX_SUBMIT_WAIT_MS,
};
use crate::secrets::ApiKey;
use crate::submit::SavedSubmission;

/// The most of one relay answer the app reads.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// How long the relay may take to answer a submit that waits for the filing.
const SUBMIT_TIMEOUT: Duration = Duration::from_millis(MAX_SUBMIT_WAIT_MS + 20_000);

/// Why a request to the relay did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("the relay at {url} cannot be reached ({reason}). Check the relay URL in the machine policy and that the relay is running.")]
    Unreachable { url: String, reason: String },
    #[error("the relay did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the relay refused the request ({code:?}, HTTP {status}): {message}")]
    Refused {
        status: u16,
        code: Refusal,
        message: String,
    },
    #[error("the relay asked to wait{}", .retry_after.map(|d| format!(" {} s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the relay failed (HTTP {status})")]
    Server { status: u16 },
    #[error("the relay's answer could not be read: {0}")]
    Unreadable(String),
    #[error("the relay URL {url} is not allowed: {reason}")]
    Insecure { url: String, reason: String },
    #[error("this PC is not enrolled with the relay: {0}")]
    NotEnrolled(String),
}

impl RelayError {
    /// Whether the same request can succeed later by itself.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::Timeout(_)
            | Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Unreadable(_) => true,
            Self::Refused { code, .. } => matches!(code, Refusal::Unavailable),
            Self::Insecure { .. } | Self::NotEnrolled(_) => false,
        }
    }

    /// Whether it is a connection failure (the network probe decides when to try again).
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// What the person at the keyboard is told.
    pub fn user_message(&self) -> String {
        match self {
            Self::Refused { code, .. } => code.user_message().to_string(),
            Self::RateLimited { .. } => Refusal::RateLimited.user_message().to_string(),
            Self::Insecure { .. } | Self::NotEnrolled(_) => "This PC's connection to your IT provider's helpdesk is not set up. The ticket is saved on this PC; please call your IT support.".into(),
            _ => "Your IT provider's helpdesk cannot be reached right now. The ticket is saved on this PC and will be sent automatically.".into(),
        }
    }
}

/// A client of one relay, as one device (or, before enrollment, as nobody).
#[derive(Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base: Url,
    credential: Option<HeaderValue>,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl RelayClient {
    /// A client for the relay at `base`, authenticating with `credential` when given.
    ///
    /// # Errors
    /// [`RelayError::Insecure`] for plain http to another machine or a URL with credentials;
    /// [`RelayError::NotEnrolled`] for a credential that cannot be sent.
    pub fn new(base: &str, credential: Option<&ApiKey>) -> Result<Self, RelayError> {
        crate::atera::client::install_crypto_provider();
        let insecure = |reason: &str| RelayError::Insecure {
            url: base.chars().take(200).collect(),
            reason: reason.into(),
        };
        let mut url = Url::parse(base.trim()).map_err(|e| insecure(&e.to_string()))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => return Err(insecure("it names no host")),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(insecure(
                    "plain http is allowed only to this computer; use https://",
                ))
            }
            _ => return Err(insecure("use an https:// URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(insecure("it must not carry a user name or password"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let credential = credential
            .map(|c| {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", c.expose())).map_err(|_| {
                        RelayError::NotEnrolled("the stored credential is damaged".into())
                    })?;
                v.set_sensitive(true);
                Ok(v)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("HelpdeskButton/", env!("CARGO_PKG_VERSION")))
            // The credential goes to the relay only: a redirect is an error, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| insecure(&e.to_string()))?;
        Ok(Self {
            http,
            base: url,
            credential,
        })
    }

    /// The relay's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Enrolls this machine with `token`.
    ///
    /// # Errors
    /// A [`RelayError`]; a refused token is [`RelayError::Refused`] with its code.
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<Enrolled, RelayError> {
        self.send(Method::POST, "v1/enroll", Some(request), None)
            .await
    }

    /// Hands a saved submission to the relay. It answers once the submission is stored durably,
    /// after waiting up to `wait` for the ticket to be filed. Idempotent by reference.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn submit(
        &self,
        submission: &SavedSubmission,
        wait: Duration,
    ) -> Result<TicketStatus, RelayError> {
        let wait_ms = (wait.as_millis() as u64).min(MAX_SUBMIT_WAIT_MS);
        let request = SubmitRequest {
            submission: submission.clone(),
        };
        self.send(
            Method::POST,
            &format!("v1/tickets?wait_ms={wait_ms}"),
            Some(&request),
            Some(SUBMIT_TIMEOUT),
        )
        .await
    }

    /// This device's tickets.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn tickets(&self) -> Result<TicketList, RelayError> {
        self.send(Method::GET, "v1/tickets", None::<&()>, None)
            .await
    }

    /// One of this device's tickets.
    ///
    /// # Errors
    /// A [`RelayError`]; another device's ticket is [`Refusal::NotFound`].
    pub async fn ticket(&self, reference: &str) -> Result<TicketStatus, RelayError> {
        let url = self.ticket_url(reference, None)?;
        self.send_url(Method::GET, url, None::<&()>, None).await
    }

    /// The relay's health: the tickets waiting in its queue.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn health(&self) -> Result<u64, RelayError> {
        let body: serde_json::Value = self.send(Method::GET, "healthz", None::<&()>, None).await?;
        Ok(body["queue_depth"].as_u64().unwrap_or_default())
    }

    /// The relay's own Atera check, in words.
    ///
    /// # Errors
    /// A [`RelayError`]; a failing Atera connection is [`Refusal::Unavailable`] with its reason.
    pub async fn atera_check(&self) -> Result<String, RelayError> {
        let body: super::protocol::AteraCheck = self
            .send(Method::GET, "v1/check", None::<&()>, None)
            .await?;
        Ok(body.message)
    }

    /// The conversation of one of this device's filed tickets.
    ///
    /// # Errors
    /// A [`RelayError`]; another device's ticket is [`Refusal::NotFound`].
    pub async fn thread(
        &self,
        reference: &str,
    ) -> Result<Vec<crate::tracking::ThreadComment>, RelayError> {
        let url = self.ticket_url(reference, Some("thread"))?;
        let thread: super::protocol::Thread =
            self.send_url(Method::GET, url, None::<&()>, None).await?;
        Ok(thread.comments)
    }

    /// Posts the user's reply to one of this device's tickets.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn reply(&self, reference: &str, text: &str) -> Result<(), RelayError> {
        let url = self.ticket_url(reference, Some("replies"))?;
        let body = super::protocol::ReplyRequest { text: text.into() };
        self.send_url::<_, serde::de::IgnoredAny>(Method::POST, url, Some(&body), None)
            .await
            .map(|_| ())
    }

    /// Waits (up to `wait`, at most 30 s) for this device's tickets to change after `after`.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn events(
        &self,
        after: u64,
        wait: Duration,
    ) -> Result<super::protocol::Events, RelayError> {
        let wait_ms = (wait.as_millis() as u64).min(super::protocol::MAX_EVENTS_WAIT_MS);
        self.send(
            Method::GET,
            &format!("v1/events?after={after}&wait_ms={wait_ms}"),
            None::<&()>,
            Some(Duration::from_millis(wait_ms + 15_000)),
        )
        .await
    }

    fn ticket_url(&self, reference: &str, tail: Option<&str>) -> Result<Url, RelayError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| RelayError::Unreadable("bad base URL".into()))?;
            segments.pop_if_empty().extend(["v1", "tickets", reference]);
            if let Some(tail) = tail {
                segments.push(tail);
            }
        }
        Ok(url)
    }

    /// What the relay knows this device as.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn device(&self) -> Result<DeviceIdentity, RelayError> {
        self.send(Method::GET, "v1/device", None::<&()>, None).await
    }

    /// The form settings the relay pushes.
    ///
    /// # Errors
    /// A [`RelayError`].
    pub async fn settings(&self) -> Result<PushedSettings, RelayError> {
        self.send(Method::GET, "v1/settings", None::<&()>, None)
            .await
    }

    pub(super) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, RelayError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| RelayError::Unreadable(e.to_string()))?;
        self.send_url(method, url, body, timeout).await
    }

    async fn send_url<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, RelayError> {
        let limit = timeout.unwrap_or(Duration::from_secs(30));
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .timeout(limit);
        if let Some(credential) = &self.credential {
            request = request.header(AUTHORIZATION, credential.clone());
        }
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|e| RelayError::Unreadable(e.to_string()))?;
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                RelayError::Timeout(limit)
            } else {
                RelayError::Unreachable {
                    url: self.base.to_string(),
                    reason: chain(&e),
                }
            }
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(RelayError::Unreadable(format!(
                    "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_redirection() {
            return Err(RelayError::Insecure {
                url: self.base.to_string(),
                reason: format!(
                    "it redirects (HTTP {}); redirects are never followed",
                    status.as_u16()
                ),
            });
        }
        if status.is_success() {
            let body: &[u8] = if bytes.trim_ascii().is_empty() {
                b"null"
            } else {
                &bytes
            };
            return serde_json::from_slice(body).map_err(|e| RelayError::Unreadable(e.to_string()));
        }
        if status.as_u16() == 429 {
            return Err(RelayError::RateLimited { retry_after });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(RelayError::Refused {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message.chars().take(500).collect(),
            }),
            Err(_) if status.is_server_error() => Err(RelayError::Server {
                status: status.as_u16(),
            }),
            Err(_) => Err(RelayError::Unreadable(format!(
                "HTTP {} without the relay's error body; is the URL the relay's?",
                status.as_u16()
            ))),
        }
    }
}

fn chain(error: &reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}
