//! The typed Atera client: one method per endpoint this product uses, each returning a typed
//! model or an [`AteraError`]. It does no retries; the submission path decides those.

use std::error::Error as _;
use std::sync::Once;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::error::AteraError;
use super::models::{
    Account, ActionResult, Agent, Comment, Contact, CreateContact, CreateEndUserComment,
    CreateTicket, Customer, Paged, ProblemDetails, Ticket,
};
use crate::secrets::ApiKey;
use crate::settings::AuthMode;

/// Atera's page size limit.
pub const MAX_PAGE_SIZE: u32 = 50;
/// How many pages a search reads at most, so a pathological account cannot stall a submission.
const MAX_SEARCH_PAGES: u32 = 10;
/// The most of one answer the client reads: a full page of 50 tickets with long descriptions is
/// well under this; anything larger is not an answer this app can use.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The most of a `Location` header quoted in an error.
const MAX_LOCATION_CHARS: usize = 200;

/// Connection and whole-request caps.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// A client for one Atera account.
#[derive(Clone)]
pub struct AteraClient {
    http: reqwest::Client,
    base: Url,
    timeouts: Timeouts,
}

impl std::fmt::Debug for AteraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AteraClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Installs the process-wide TLS crypto provider (ring) once; every rustls client here (Atera,
/// the updater) needs it.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another part of the process installed one first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl AteraClient {
    /// A client for `base` (e.g. `https://app.atera.com/api/v3/`). JWT-shaped keys go in
    /// `Authorization: Bearer` unless `auth` says otherwise; classic keys in `X-API-KEY`.
    ///
    /// # Errors
    /// [`AteraError::Tls`] when the TLS stack cannot be set up.
    pub fn new(
        base: Url,
        key: &ApiKey,
        auth: AuthMode,
        timeouts: Timeouts,
    ) -> Result<Self, AteraError> {
        install_crypto_provider();
        let loopback = match base.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if base.scheme() != "https" && !loopback {
            return Err(AteraError::Tls {
                host: base.host_str().unwrap_or_default().to_string(),
                reason:
                    "the key is only sent over https (plain http is allowed for this computer only)"
                        .into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let bearer = match auth {
            AuthMode::Auto => key.looks_like_jwt(),
            AuthMode::Bearer => true,
            AuthMode::ApiKey => false,
        };
        let (name, value) = if bearer {
            ("authorization", format!("Bearer {}", key.expose()))
        } else {
            ("x-api-key", key.expose().to_string())
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| AteraError::Unauthorized {
            status: 0,
            detail: Some("the stored key contains characters that cannot be sent".into()),
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
        let host = base.host_str().unwrap_or_default().to_string();
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "HelpdeskButton/",
                env!("CARGO_PKG_VERSION"),
                " (+https://helpdeskbutton.app)"
            ))
            .default_headers(headers)
            // The key goes to the configured host only: a redirect is an error, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .build()
            .map_err(|e| AteraError::Tls {
                host,
                reason: chain(&e),
            })?;
        let base = if base.path().ends_with('/') {
            base
        } else {
            Url::parse(&format!("{base}/")).unwrap_or(base)
        };
        Ok(Self {
            http,
            base,
            timeouts,
        })
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /account`: checks the endpoint and the key.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn account(&self) -> Result<Account, AteraError> {
        self.send(Method::GET, "account", &[], None::<&()>).await
    }

    /// `GET /customers`, one page (1-based, at most [`MAX_PAGE_SIZE`] items).
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn customers(
        &self,
        page: u32,
        items_in_page: u32,
    ) -> Result<Paged<Customer>, AteraError> {
        self.send(
            Method::GET,
            "customers",
            &page_query(page, items_in_page),
            None::<&()>,
        )
        .await
    }

    /// `GET /customers/{id}`.
    ///
    /// # Errors
    /// Any [`AteraError`]; [`AteraError::NotFound`] for an unknown id.
    pub async fn customer(&self, customer_id: i64) -> Result<Customer, AteraError> {
        self.send(
            Method::GET,
            &format!("customers/{customer_id}"),
            &[],
            None::<&()>,
        )
        .await
    }

    /// `GET /contacts/{id}`.
    ///
    /// # Errors
    /// Any [`AteraError`]; [`AteraError::NotFound`] for an unknown id.
    pub async fn contact(&self, end_user_id: i64) -> Result<Contact, AteraError> {
        self.send(
            Method::GET,
            &format!("contacts/{end_user_id}"),
            &[],
            None::<&()>,
        )
        .await
    }

    /// `GET /tickets`, one page, newest first as Atera lists them.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn tickets(
        &self,
        page: u32,
        items_in_page: u32,
    ) -> Result<Paged<Ticket>, AteraError> {
        self.send(
            Method::GET,
            "tickets",
            &page_query(page, items_in_page),
            None::<&()>,
        )
        .await
    }

    /// `GET /tickets/lastmodified?date=`: tickets modified since `since_utc` (ISO 8601), one page.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn tickets_modified_since(
        &self,
        since_utc: &str,
        page: u32,
        items_in_page: u32,
    ) -> Result<Paged<Ticket>, AteraError> {
        let mut query = page_query(page, items_in_page);
        query.push(("date", since_utc.to_string()));
        query.push(("includeComments", "true".to_string()));
        self.send(Method::GET, "tickets/lastmodified", &query, None::<&()>)
            .await
    }

    /// `GET /tickets/lastmodified?date=`, one page of raw items (the reference lookup reads only
    /// the fields it matches on, so one ticket in an odd shape cannot fail it).
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn tickets_modified_since_page(
        &self,
        since_utc: &str,
        page: u32,
        include_comments: bool,
    ) -> Result<Paged<serde_json::Value>, AteraError> {
        let mut query = page_query(page, MAX_PAGE_SIZE);
        query.push(("date", since_utc.to_string()));
        query.push(("includeComments", include_comments.to_string()));
        self.send(Method::GET, "tickets/lastmodified", &query, None::<&()>)
            .await
    }

    /// `GET /tickets/{id}/comments`, every page (bounded).
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn comments(&self, ticket_id: i64) -> Result<Vec<Comment>, AteraError> {
        let mut all = Vec::new();
        for page in 1..=MAX_SEARCH_PAGES {
            let result = self.comments_page(ticket_id, page).await?;
            let len = result.listed;
            all.extend(result.items);
            if len < MAX_PAGE_SIZE as usize
                || (result.total_pages > 0 && i64::from(page) >= i64::from(result.total_pages))
            {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /tickets/{id}/comments`, one page of [`MAX_PAGE_SIZE`] (1-based), for callers that
    /// count their requests.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn comments_page(
        &self,
        ticket_id: i64,
        page: u32,
    ) -> Result<Paged<Comment>, AteraError> {
        self.send(
            Method::GET,
            &format!("tickets/{ticket_id}/comments"),
            &page_query(page, MAX_PAGE_SIZE),
            None::<&()>,
        )
        .await
    }

    /// `POST /tickets/{id}/comments` as the end user (`EnduserCommentDetails`).
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn create_end_user_comment(
        &self,
        ticket_id: i64,
        comment: &CreateEndUserComment,
    ) -> Result<Option<i64>, AteraError> {
        // Any 2xx is success: Atera may answer 201 with an empty body.
        let result: Option<ActionResult> = self
            .send(
                Method::POST,
                &format!("tickets/{ticket_id}/comments"),
                &[],
                Some(comment),
            )
            .await?;
        Ok(result.map(|r| r.action_id))
    }

    /// `GET /contacts?Email=`, every page, filtered to exact matches (ignoring case and
    /// surrounding spaces): Atera's search also returns contacts whose email merely contains it.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn find_contacts_by_email(&self, email: &str) -> Result<Vec<Contact>, AteraError> {
        let wanted = crate::atera::models::fold_email(email);
        let mut found = Vec::new();
        for page in 1..=MAX_SEARCH_PAGES {
            let mut query = page_query(page, MAX_PAGE_SIZE);
            // Atera's docs name the filter `Email` (2026) and `searchOptions.email` (the older
            // generation, still what some tenants honour): send both.
            query.push(("Email", wanted.clone()));
            query.push(("searchOptions.email", wanted.clone()));
            let result: Paged<Contact> = self
                .send(Method::GET, "contacts", &query, None::<&()>)
                .await?;
            let page_len = result.listed;
            // Atera's filter matches parts of addresses; an address that does not even contain
            // the one asked for means the server ignored the filter and lists every contact:
            // do not page through thousands.
            let unfiltered = result.items.iter().any(|c| {
                !c.email
                    .as_deref()
                    .is_some_and(|e| crate::atera::models::fold_email(e).contains(&wanted))
            });
            found.extend(result.items.into_iter().filter(|c| {
                c.email
                    .as_deref()
                    .is_some_and(|e| crate::atera::models::fold_email(e) == wanted)
            }));
            if unfiltered {
                tracing::warn!(
                    page,
                    "Atera ignored the contact search filter; not reading further pages"
                );
                break;
            }
            if page_len < MAX_PAGE_SIZE as usize
                || (result.total_pages > 0 && i64::from(page) >= i64::from(result.total_pages))
            {
                break;
            }
        }
        Ok(found)
    }

    /// `POST /contacts` under a customer; returns the new `EndUserID`.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn create_contact(&self, contact: &CreateContact) -> Result<i64, AteraError> {
        accepted_id(
            self.send(Method::POST, "contacts", &[], Some(contact))
                .await,
        )
    }

    /// `GET /agents/machine/{name}`: the Atera agents installed on a machine of this name.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn agents_by_machine(&self, machine_name: &str) -> Result<Vec<Agent>, AteraError> {
        let path = format!(
            "agents/machine/{}",
            utf8_percent_encode_segment(machine_name)
        );
        let query = page_query(1, MAX_PAGE_SIZE);
        let result: Paged<Agent> = self.send(Method::GET, &path, &query, None::<&()>).await?;
        Ok(result.items)
    }

    /// `POST /tickets`; returns the new ticket's id.
    ///
    /// # Errors
    /// Any [`AteraError`]. A [`AteraError::is_ambiguous`] error means the ticket may exist.
    pub async fn create_ticket(&self, ticket: &CreateTicket) -> Result<i64, AteraError> {
        accepted_id(self.send(Method::POST, "tickets", &[], Some(ticket)).await)
    }

    /// `GET /tickets/{id}`.
    ///
    /// # Errors
    /// Any [`AteraError`].
    pub async fn ticket(&self, ticket_id: i64) -> Result<Ticket, AteraError> {
        self.send(
            Method::GET,
            &format!("tickets/{ticket_id}"),
            &[],
            None::<&()>,
        )
        .await
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, AteraError> {
        let url = self.base.join(path).map_err(|e| AteraError::NotFound {
            what: format!("{path} ({e})"),
        })?;
        let host = url.host_str().unwrap_or_default().to_string();
        let mut request = self.http.request(method.clone(), url).query(query);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| AteraError::Decode {
                path: "request".into(),
                message: e.to_string(),
            })?;
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|e| self.classify(&e, &host))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| bounded_text(v.as_bytes(), MAX_LOCATION_CHARS));
        let bytes = read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                Capped::TooLarge => AteraError::TooLarge {
                    limit: MAX_BODY_BYTES,
                },
                Capped::Failed(e) => self.classify(&e, &host),
            })?;
        if status.is_redirection() {
            return Err(AteraError::Redirected {
                endpoint: host,
                status: status.as_u16(),
                location: location.unwrap_or_else(|| "nowhere (no Location header)".into()),
            });
        }
        tracing::debug!(%method, path, status = status.as_u16(), bytes = bytes.len(), ms = started.elapsed().as_millis() as u64, "atera call");
        let html = content_type.contains("html") || bytes.trim_ascii_start().starts_with(b"<");
        if status.is_success() {
            if html {
                return Err(AteraError::NotAtera {
                    endpoint: host,
                    reason: "it answered with a web page instead of API data".into(),
                });
            }
            // Some creates answer 201 with no body: to a caller that takes an optional answer
            // that is success, not an unreadable answer.
            let body: &[u8] = if bytes.trim_ascii().is_empty() {
                b"null"
            } else {
                &bytes
            };
            let de = &mut serde_json::Deserializer::from_slice(body);
            return serde_path_to_error::deserialize(de).map_err(|e| {
                let (path, message) = (e.path().to_string(), e.inner().to_string());
                // A list whose items all failed names the first bad item below `items`.
                match message.strip_prefix('[').and_then(|m| m.split_once("]")) {
                    Some((index, rest))
                        if (path == "items" || path == ".")
                            && index.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        let (field, message) = rest.split_once(": ").unwrap_or(("", rest));
                        AteraError::Decode {
                            path: format!("items[{index}]{field}"),
                            message: message
                                .split(" at line ")
                                .next()
                                .unwrap_or(message)
                                .to_string(),
                        }
                    }
                    _ => AteraError::Decode { path, message },
                }
            });
        }
        let detail = serde_json::from_slice::<ProblemDetails>(&bytes)
            .ok()
            .and_then(|p| p.detail.or(p.title))
            .filter(|d| !d.trim().is_empty());
        Err(match status {
            // A firewall's or a CDN's page, not Atera's API refusing the key.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if html => AteraError::Blocked {
                endpoint: host,
                status: status.as_u16(),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AteraError::Unauthorized {
                status: status.as_u16(),
                detail,
            },
            StatusCode::TOO_MANY_REQUESTS => AteraError::RateLimited { retry_after },
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => AteraError::Validation {
                detail: detail.unwrap_or_else(|| "no reason given".into()),
            },
            // Only a web page means the route is not Atera's; Atera's own 404 (a missing ticket,
            // a rejected comment's "Invalid input") is "not found".
            StatusCode::NOT_FOUND if html => AteraError::NotAtera {
                endpoint: host,
                reason: format!("/api/v3/{path} does not exist there (HTTP 404)"),
            },
            StatusCode::NOT_FOUND => AteraError::NotFound {
                what: match detail.as_deref().or_else(|| {
                    std::str::from_utf8(&bytes)
                        .ok()
                        .map(str::trim)
                        .filter(|t| !t.is_empty() && t.len() < 200)
                }) {
                    Some(d) => format!("{path} ({})", d.trim_matches('"')),
                    None => path.to_string(),
                },
            },
            s if s.is_server_error() => AteraError::Server {
                status: s.as_u16(),
                detail,
            },
            s => AteraError::UnexpectedStatus {
                status: s.as_u16(),
                detail,
            },
        })
    }

    fn classify(&self, error: &reqwest::Error, host: &str) -> AteraError {
        let reason = chain(error);
        let lower = reason.to_lowercase();
        if error.is_timeout() {
            return AteraError::Timeout(if error.is_connect() {
                self.timeouts.connect
            } else {
                self.timeouts.request
            });
        }
        // Only while connecting: a TLS error after the request went out (a reset mid-answer) is
        // a lost connection, and a create may have taken effect.
        if error.is_connect()
            && (is_tls_failure(error)
                || lower.contains("certificate")
                || lower.contains("handshake"))
        {
            return AteraError::Tls {
                host: host.into(),
                reason,
            };
        }
        if error.is_connect() {
            if lower.contains("dns")
                || lower.contains("lookup")
                || lower.contains("resolve")
                || lower.contains("name or service")
            {
                return AteraError::HostNotFound {
                    host: host.into(),
                    reason,
                };
            }
            return AteraError::Connect {
                host: host.into(),
                reason,
            };
        }
        AteraError::ConnectionLost(reason)
    }
}

/// Whether a rustls error is among the causes, directly or wrapped in (nested) `io::Error`s, as
/// hyper and tokio-rustls report handshake failures.
fn is_tls_failure(error: &reqwest::Error) -> bool {
    fn contains_rustls(e: &(dyn std::error::Error + 'static)) -> bool {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if contains_rustls(inner) {
                return true;
            }
        }
        e.source().is_some_and(contains_rustls)
    }
    error.source().is_some_and(contains_rustls)
}

/// The error's causes, without the URL reqwest puts in its own message.
fn chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(error.without_url_text());
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_text(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_text(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "");
        }
        text
    }
}

/// Atera's paging parameters: pages are 1-based and hold at most [`MAX_PAGE_SIZE`] items.
fn page_query(page: u32, items_in_page: u32) -> Vec<(&'static str, String)> {
    vec![
        ("page", page.max(1).to_string()),
        (
            "itemsInPage",
            items_in_page.clamp(1, MAX_PAGE_SIZE).to_string(),
        ),
    ]
}

/// The id a create answered. A 2xx whose answer cannot be read (no body, a placeholder id, a web
/// page) still means Atera accepted the request: [`AteraError::AcceptedUnreadable`], which a
/// caller treats as "it may exist", never as "certainly not created".
fn accepted_id(answer: Result<Option<ActionResult>, AteraError>) -> Result<i64, AteraError> {
    match answer {
        Ok(Some(result)) => Ok(result.action_id),
        Ok(None) => Err(AteraError::AcceptedUnreadable {
            detail: "the answer had no body".into(),
        }),
        Err(AteraError::Decode { path, message }) => Err(AteraError::AcceptedUnreadable {
            detail: format!("at `{path}`: {message}"),
        }),
        Err(AteraError::NotAtera { reason, .. }) if reason.contains("web page") => {
            Err(AteraError::AcceptedUnreadable { detail: reason })
        }
        Err(e) => Err(e),
    }
}

enum Capped {
    TooLarge,
    Failed(reqwest::Error),
}

/// The body, chunk by chunk, stopping as soon as it passes `limit` (a declared
/// `Content-Length` over the limit stops before reading anything).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Failed)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A header value for a message: printable ASCII only, at most `max` characters.
fn bounded_text(value: &[u8], max: usize) -> String {
    let mut text: String = value
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .take(max)
        .collect();
    if value.len() > max {
        text.push('…');
    }
    text
}

/// `Retry-After` as seconds (Atera's documented form) or as an HTTP date. An absurd number of
/// seconds saturates; the callers cap what they wait.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.len() > 64 {
        return None;
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn utf8_percent_encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(utf8_percent_encode_segment("PC 01/ä"), "PC%2001%2F%C3%A4");
    }

    #[test]
    fn retry_after_seconds_and_dates_are_read() {
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(120);
        let header = soon
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        // Absurd values saturate instead of failing or panicking.
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-5"), None);
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn header_text_in_messages_is_bounded_and_printable() {
        assert_eq!(
            bounded_text(b"https://x.example/\n\x01", 100),
            "https://x.example/??"
        );
        let long = vec![b'a'; 500];
        assert_eq!(bounded_text(&long, 10).chars().count(), 11);
    }

    #[test]
    fn the_key_is_never_sent_over_plain_http_to_another_machine() {
        let key = ApiKey::new("0123456789abcdef0123456789abcdef").unwrap();
        let plain = Url::parse("http://app.atera.com/api/v3/").unwrap();
        let e = AteraClient::new(plain, &key, AuthMode::Auto, Timeouts::default()).unwrap_err();
        assert!(e.to_string().contains("only sent over https"), "{e}");
        for ok in [
            "http://127.0.0.1:9/api/v3/",
            "http://localhost:9/",
            "https://api.atera.com/api/v3/",
        ] {
            AteraClient::new(
                Url::parse(ok).unwrap(),
                &key,
                AuthMode::Auto,
                Timeouts::default(),
            )
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }
}
