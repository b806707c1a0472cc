//! The one submission path, used by the form window and the CLI alike: validate the form, find
//! the requester in Atera, compose the ticket and file it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::atera::models::{Agent, CreateContact};
use crate::atera::{AteraClient, AteraError, Timeouts};
use crate::capture::Screenshot;
use crate::form::{FieldErrors, TicketForm};
use crate::inventory::Inventory;
use crate::paths::AppPaths;
use crate::secrets::{KeyVault, Keychain};
use crate::settings::Settings;
use crate::ticket::{prepare_images, TicketImages, TicketValues};
use crate::values::AteraChoice;

/// Why a submission did not produce a ticket.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    #[error("some fields need fixing: {0}")]
    Invalid(FieldErrors),
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Atera(#[from] AteraError),
    /// Delivery to the MSP's relay failed or was refused.
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
    #[error("the ticket could not be saved on this PC: {0}")]
    Storage(String),
    /// The dispatcher rules refused the submission; the text is the rule's `exception`.
    #[error("{0}")]
    Blocked(String),
}

impl SubmitError {
    /// The kind the UI switches on: `invalid` (fix a field), `config`, or `atera`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotConfigured(_) => "config",
            Self::Atera(_) => "atera",
            Self::Relay(_) => "relay",
            Self::Storage(_) => "internal",
            Self::Blocked(_) => "blocked",
        }
    }

    /// What the person at the keyboard is told.
    pub fn user_message(&self) -> String {
        match self {
            Self::Invalid(_) => "Some fields need your attention before the ticket can be sent.".into(),
            Self::NotConfigured(_) => "The helpdesk connection on this PC is not set up yet, so the ticket could not be sent. Please call your IT support.".into(),
            Self::Atera(e) => e.user_message(),
            Self::Relay(e) => e.user_message(),
            Self::Storage(e) => format!("Your ticket could not be saved on this PC ({e}). Please call your IT support."),
            Self::Blocked(text) => text.clone(),
        }
    }

    /// A rate limit's answer: `Some(retry_after)` when Atera or the relay asked to wait.
    pub fn rate_limit(&self) -> Option<Option<Duration>> {
        match self {
            Self::Atera(AteraError::RateLimited { retry_after })
            | Self::Relay(crate::relay::RelayError::RateLimited { retry_after }) => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The per-field messages, when the input must be fixed.
    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            Self::Invalid(f) => Some(f),
            _ => None,
        }
    }
}

/// How the requester was matched to an Atera contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "path", rename_all = "kebab-case")]
pub enum ContactMatch {
    /// An existing contact whose email matched exactly, with Atera's name for them.
    Existing {
        end_user_id: i64,
        #[serde(default)]
        name: String,
        /// This computer's customer, which the contact belongs to; None when this computer's
        /// customer is not known to Atera (then an exact match in any customer is used).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer: Option<String>,
    },
    /// A new contact created under this machine's customer, found through its Atera agent.
    CreatedUnderCustomer {
        end_user_id: i64,
        customer_id: i64,
        customer_name: String,
    },
    /// The admin's fallback contact.
    Fallback {
        end_user_id: i64,
        email: String,
        /// Atera refused to create the contact because the e-mail is taken by one its search
        /// does not return (an archived contact, say).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        email_taken: bool,
    },
    /// Unknown to Atera: the ticket carries the requester's name and email.
    NameAndEmail {
        first_name: String,
        last_name: String,
        /// As for [`ContactMatch::Fallback`].
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        email_taken: bool,
    },
    /// A dry run ([`resolve_contact`] with `dry_run`): a contact would be created under this
    /// machine's customer.
    WouldCreateUnderCustomer {
        customer_id: i64,
        customer_name: String,
    },
}

impl ContactMatch {
    /// One line for the technician, in the ticket body.
    pub fn note(&self) -> String {
        match self {
            Self::Existing {
                end_user_id,
                customer: Some(customer),
                ..
            } => {
                format!("existing contact #{end_user_id} of {customer}, this computer's customer (exact email match)")
            }
            Self::Existing { end_user_id, .. } => {
                format!("existing contact #{end_user_id} (exact email match; this computer's customer is not known to Atera)")
            }
            Self::CreatedUnderCustomer {
                end_user_id,
                customer_name,
                ..
            } => {
                format!("new contact #{end_user_id} created under {customer_name} (found by this computer's Atera agent)")
            }
            Self::Fallback {
                end_user_id,
                email,
                email_taken: true,
            } => {
                format!("Atera says this email belongs to a contact it does not list (archived?); filed under the fallback contact {email} (#{end_user_id})")
            }
            Self::Fallback {
                end_user_id, email, ..
            } => {
                format!("email not known to Atera; filed under the fallback contact {email} (#{end_user_id})")
            }
            Self::NameAndEmail {
                email_taken: true, ..
            } => "Atera says this email belongs to a contact it does not list (archived?); sent the requester's name and email".into(),
            Self::NameAndEmail { .. } => {
                "email not known to Atera; sent the requester's name and email".into()
            }
            Self::WouldCreateUnderCustomer { customer_name, .. } => {
                format!("email not known to Atera; a new contact would be created under {customer_name} (found by this computer's Atera agent)")
            }
        }
    }
}

/// A filed ticket.
#[derive(Debug, Clone, Serialize)]
pub struct SubmitOutcome {
    pub ticket_id: i64,
    pub ticket_number: String,
    pub reference: String,
    /// The ticket was found in Atera after an answer was lost, rather than created by the last
    /// request: proof that it was not sent twice.
    pub adopted: bool,
    pub contact: ContactMatch,
    pub screenshot_bytes: usize,
    pub omitted_screenshots: usize,
    /// The MSP's relay holds the ticket durably and is filing it: `ticket_id` is 0 and the
    /// number follows in My tickets.
    pub held_by_relay: bool,
}

/// What is submitted: the form and what was captured at trigger time.
pub struct Submission<'a> {
    pub form: TicketForm,
    /// The submission's reference ([`new_reference`]), carried in the ticket.
    pub reference: String,
    /// All screenshots of the capture; `form.included_screenshots` selects which are attached.
    pub screenshots: &'a [Screenshot],
    pub inventory: Option<&'a Inventory>,
}

/// The dispatcher rules and how to run them: in a child process of `exe` (the app re-run in its
/// rule-evaluation mode), so a runaway rule cannot take the app down.
#[derive(Debug, Clone)]
pub struct RulesConfig {
    pub exe: std::path::PathBuf,
    pub script: String,
    pub limits: crate::rules::RuleLimits,
}

/// Builds the Atera client from the settings and the stored key.
///
/// # Errors
/// [`SubmitError::NotConfigured`] when there is no key or the endpoint is invalid.
pub fn connect(
    paths: &AppPaths,
    settings: &Settings,
    keychain: &dyn Keychain,
) -> Result<AteraClient, SubmitError> {
    let endpoint = settings
        .endpoint()
        .map_err(|e| SubmitError::NotConfigured(e.to_string()))?;
    let (key, _) = KeyVault::new(keychain, paths)
        .load()
        .map_err(|e| SubmitError::NotConfigured(e.to_string()))?
        .ok_or_else(|| SubmitError::NotConfigured("no Atera API key is set: run `helpdesk-button settings set-api-key` and paste the key from Atera (Admin > API)".into()))?;
    Ok(AteraClient::new(
        endpoint.base_url(),
        &key,
        settings.atera.auth_mode,
        Timeouts::default(),
    )?)
}

/// Where this PC's tickets go, connected: Atera with the key on this PC, or the MSP's relay
/// (which holds the key) as this PC's enrolled device.
#[derive(Debug, Clone)]
pub enum Target {
    Atera(AteraClient),
    Relay(crate::relay::RelayClient),
}

impl Target {
    /// The outbox's delivery to this target.
    pub fn delivery<'a>(
        &'a self,
        settings: &'a Settings,
        rules: Option<&'a RulesConfig>,
        app_version: &'a str,
        policy: RetryPolicy,
    ) -> crate::outbox::Delivery<'a> {
        crate::outbox::Delivery {
            destination: match self {
                Self::Atera(client) => crate::outbox::Destination::Atera(client),
                Self::Relay(relay) => crate::outbox::Destination::Relay(relay),
            },
            settings,
            // The relay runs the rules (its own), so an MSP edits them in one place.
            rules: rules.filter(|_| matches!(self, Self::Atera(_))),
            app_version,
            policy,
            customer: None,
        }
    }

    /// The address the network probe watches.
    pub fn url(&self) -> &url::Url {
        match self {
            Self::Atera(client) => client.base_url(),
            Self::Relay(relay) => relay.base_url(),
        }
    }
}

/// Connects to where this PC's tickets go: the relay when the machine policy names one
/// (enrolling first if needed; the Atera key is never read then), else Atera with the stored key.
///
/// # Errors
/// [`SubmitError::NotConfigured`] or [`SubmitError::Relay`].
pub async fn connect_target(
    paths: &AppPaths,
    settings: &Settings,
    keychain: &dyn Keychain,
    device_credentials: &dyn Keychain,
) -> Result<Target, SubmitError> {
    if settings.relay.enabled() {
        return crate::relay::device::connect(paths, settings, device_credentials)
            .await
            .map(Target::Relay)
            .map_err(SubmitError::Relay);
    }
    connect(paths, settings, keychain).map(Target::Atera)
}

/// Files one submission directly, through the same pipeline as the outbox (an in-memory one):
/// for the Integration Test and tests. The app and the CLI save to the durable outbox instead
/// ([`crate::outbox::submit`]).
///
/// # Errors
/// [`SubmitError::Invalid`] with per-field messages, a rule's [`SubmitError::Blocked`], or the
/// Atera failure that kept the ticket from being filed (including an ambiguous one, after which
/// it may exist: it is not sent again).
pub async fn submit_ticket(
    client: &AteraClient,
    settings: &Settings,
    submission: Submission<'_>,
    app_version: &str,
) -> Result<SubmitOutcome, SubmitError> {
    submit_ticket_with(
        client,
        settings,
        submission,
        app_version,
        &RetryPolicy::default(),
    )
    .await
}

/// [`submit_ticket`] with an explicit retry policy.
///
/// # Errors
/// As [`submit_ticket`].
pub async fn submit_ticket_with(
    client: &AteraClient,
    settings: &Settings,
    submission: Submission<'_>,
    app_version: &str,
    policy: &RetryPolicy,
) -> Result<SubmitOutcome, SubmitError> {
    let outbox =
        crate::outbox::Outbox::in_memory().map_err(|e| SubmitError::Storage(e.to_string()))?;
    let delivery = crate::outbox::Delivery {
        destination: crate::outbox::Destination::Atera(client),
        settings,
        rules: None,
        app_version,
        policy: *policy,
        customer: None,
    };
    match crate::outbox::submit(&outbox, settings, submission, Ok(&delivery)).await? {
        crate::outbox::Submitted::Sent(outcome) => Ok(outcome),
        crate::outbox::Submitted::Queued { error, .. } => Err(error),
    }
}

/// A submission exactly as the user sent it, with everything needed to file it later and nothing
/// that needs the network: the validated form, the machine facts and the screenshots at their
/// final size. The outbox stores it before any network call; the requester is matched and the
/// rules run on delivery ([`crate::outbox`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedSubmission {
    pub reference: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Normalised and validated.
    pub form: TicketForm,
    pub inventory: Option<Inventory>,
    pub images: TicketImages,
    /// Set only in entries saved by versions before 0.2, which ran the rules before saving:
    /// their final values, so the rules are not applied twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<TicketValues>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactMatch>,
}

impl SavedSubmission {
    /// Validates the form and fits the screenshots under the cap; no network call.
    ///
    /// # Errors
    /// [`SubmitError::Invalid`] with per-field messages.
    pub fn new(settings: &Settings, submission: Submission<'_>) -> Result<Self, SubmitError> {
        let form = submission.form.normalised();
        form.validate(settings).map_err(SubmitError::Invalid)?;
        // When the admin does not let users exclude monitors, every captured screen goes.
        let may_exclude = settings.screenshots.allow_exclude;
        let included: Vec<Screenshot> = submission
            .screenshots
            .iter()
            .filter(|s| !may_exclude || form.included_screenshots.contains(&s.id))
            .cloned()
            .collect();
        let images = prepare_images(&included, settings.screenshots.max_total_bytes);
        let created_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Ok(Self {
            reference: submission.reference,
            created_at,
            form,
            inventory: submission.inventory.cloned(),
            images,
            values: None,
            append: None,
            contact: None,
        })
    }
}

/// What the rules see: the form's values and the integration defaults, this machine's facts, and
/// the requester as Atera knows them. `input_*` hold what the user typed only when Atera did
/// not know the email.
pub fn rule_input(
    form: &TicketForm,
    values: &TicketValues,
    inventory: Option<&Inventory>,
    contact: Option<&ContactMatch>,
) -> crate::rules::RuleInput {
    let known = matches!(contact, Some(ContactMatch::Existing { .. }));
    let name = match contact {
        Some(ContactMatch::Existing { name, .. }) if !name.is_empty() => name.clone(),
        _ => form.name.clone(),
    };
    crate::rules::RuleInput {
        selections: form.selections.clone(),
        hostname: inventory.map(|i| i.hostname.clone()).unwrap_or_default(),
        name,
        email: form.email.clone(),
        ip: inventory
            .and_then(Inventory::primary_ipv4)
            .unwrap_or_default()
            .to_string(),
        mac: inventory
            .and_then(Inventory::primary_mac)
            .unwrap_or_default()
            .to_string(),
        username: inventory
            .map(|i| i.user.username.clone())
            .unwrap_or_default(),
        os: inventory.map(Inventory::os_display).unwrap_or_default(),
        input_name: (!known).then(|| form.name.clone()),
        input_email: (!known).then(|| form.email.clone()),
        input_phone: (!known).then(|| form.phone.clone()),
        priority: values.priority.api_value().into(),
        r#type: values.ticket_type.api_value().into(),
        impact: values.impact.api_value().into(),
        status: values.status.clone(),
        subject: form.subject.clone(),
        msg: form.description.clone(),
        append: String::new(),
    }
}

/// Who is asking: the form, the PC's facts, and its customer when the caller knows it.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub form: &'a TicketForm,
    pub inventory: Option<&'a Inventory>,
    /// The customer the PC belongs to for certain (the relay's enrollment), or `None` to find it
    /// from the PC's Atera agent.
    pub customer: Option<(i64, &'a str)>,
}

/// Finds the Atera contact for the requester. This machine's customer comes first (from its
/// Atera agent): an exact email match within it, else a new contact created under it. Only when
/// that customer is unknown does an exact match in any customer count. Else the admin's
/// fallback contact; else name and email. A `known_customer` (the relay's, from the device's
/// enrollment) stands in for the agent lookup: the PC cannot name another customer.
/// With `dry_run` nothing is created: the integration test uses it to show what would happen.
///
/// # Errors
/// Failures that make the submission itself impossible (key rejected, Atera down). A missing
/// agent or customer is not an error: the next step is tried.
pub async fn resolve_contact(
    client: &AteraClient,
    settings: &Settings,
    Requester {
        form,
        inventory,
        customer: known_customer,
    }: Requester<'_>,
    dry_run: bool,
    policy: &RetryPolicy,
    deadline: Instant,
) -> Result<ContactMatch, AteraError> {
    let find = |email: String| {
        retrying(policy, deadline, "find contact", move || {
            let email = email.clone();
            async move { client.find_contacts_by_email(&email).await }
        })
    };
    // This computer's customer, from its Atera agent: the requester belongs to it.
    let mut pc_customer: Option<(i64, String)> =
        known_customer.map(|(id, name)| (id, name.to_string()));
    if let (None, Some(inv)) = (&pc_customer, inventory) {
        match retrying(policy, deadline, "find agent", || {
            client.agents_by_machine(&inv.hostname)
        })
        .await
        {
            Ok(agents) => {
                pc_customer = best_agent(&agents, inv.primary_mac()).and_then(|agent| {
                    let id = agent.customer_id.filter(|id| *id > 0)?;
                    let name = agent
                        .customer_name
                        .clone()
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| format!("customer #{id}"));
                    Some((id, name))
                });
            }
            Err(e) if is_fatal(&e) => return Err(e),
            // A passing failure must not widen the match to every customer (and be saved so):
            // the whole resolution is tried again later.
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => tracing::info!(error = %e, "no agent found for this machine"),
        }
    }
    // An exact e-mail match: in this computer's customer when it is known (a namesake in another
    // customer is not this requester), anywhere only when it is not.
    let scope = pc_customer.as_ref().map(|(id, _)| *id);
    let in_scope = move |c: &crate::atera::models::Contact| {
        c.end_user_id.is_some_and(|id| id > 0) && scope.is_none_or(|id| c.customer_id == Some(id))
    };
    let matches = find(form.email.clone()).await?;
    if let Some(contact) = matches
        .iter()
        .filter(|c| in_scope(c))
        .min_by_key(|c| c.end_user_id)
    {
        let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        return Ok(ContactMatch::Existing {
            end_user_id: contact.end_user_id.unwrap_or_default(),
            name,
            customer: pc_customer.clone().map(|(_, name)| name),
        });
    }
    let (first_name, last_name) = split_name(&form.name);
    let mut email_taken = false;
    if let Some((customer_id, customer_name)) = pc_customer {
        if dry_run {
            return Ok(ContactMatch::WouldCreateUnderCustomer {
                customer_id,
                customer_name,
            });
        }
        let contact = CreateContact {
            email: form.email.trim().to_string(),
            customer_id,
            first_name: first_name.clone(),
            last_name: last_name.clone(),
            phone: Some(form.phone.trim().to_string()).filter(|p| !p.is_empty()),
        };
        let created = match client.create_contact(&contact).await {
            // The contact may exist although the answer was lost: look again rather than
            // create a second one.
            Err(e) if e.may_have_created() => match find(form.email.clone())
                .await?
                .iter()
                .filter(|c| in_scope(c))
                .filter_map(|c| c.end_user_id)
                .min()
            {
                Some(id) => Ok(id),
                None => client.create_contact(&contact).await,
            },
            other => other,
        };
        match created {
            Ok(end_user_id) => {
                return Ok(ContactMatch::CreatedUnderCustomer {
                    end_user_id,
                    customer_id,
                    customer_name,
                })
            }
            Err(e) if is_fatal(&e) => return Err(e),
            Err(AteraError::UnexpectedStatus { status: 409, .. }) => {
                // "Email already exists": a contact search does not return (an archived one, or
                // one in another customer). Look once more in scope; else go on, and say so.
                tracing::warn!("Atera says the requester's e-mail is taken; looking again");
                if let Some(id) = find(form.email.clone())
                    .await?
                    .iter()
                    .filter(|c| in_scope(c))
                    .filter_map(|c| c.end_user_id)
                    .min()
                {
                    return Ok(ContactMatch::Existing {
                        end_user_id: id,
                        name: form.name.trim().to_string(),
                        customer: Some(customer_name),
                    });
                }
                email_taken = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "creating the contact failed; trying the next way")
            }
        }
    }
    let fallback = settings.atera.fallback_contact_email.trim();
    if !fallback.is_empty() {
        let found = find(fallback.to_string()).await?;
        if let Some(id) = found.iter().filter_map(|c| c.end_user_id).min() {
            return Ok(ContactMatch::Fallback {
                end_user_id: id,
                email: fallback.to_string(),
                email_taken,
            });
        }
        tracing::warn!("the fallback contact is not in Atera");
    }
    Ok(ContactMatch::NameAndEmail {
        first_name,
        last_name,
        email_taken,
    })
}

/// Whether a failure in an optional step (the agent lookup, creating the contact) must stop the
/// submission. Only a rejected key does: anything else (an account without agents, an endpoint
/// that lacks this API, a contact Atera refuses) moves on to the next way of naming the
/// requester, and a real outage shows up when the ticket itself is sent.
fn is_fatal(e: &AteraError) -> bool {
    matches!(e, AteraError::Unauthorized { .. })
}

/// The agent most likely to be this machine: one whose MAC matches, then the newest `LastSeen`.
pub(crate) fn best_agent<'a>(agents: &'a [Agent], mac: Option<&str>) -> Option<&'a Agent> {
    let norm = |m: &str| {
        m.chars()
            .filter(char::is_ascii_hexdigit)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let mac = mac.map(norm);
    agents
        .iter()
        .filter(|a| a.customer_id.is_some())
        .max_by(|a, b| {
            let has_mac = |agent: &Agent| {
                mac.as_ref()
                    .is_some_and(|m| agent.mac_addresses.iter().flatten().any(|x| norm(x) == *m))
            };
            let seen = |x: &Agent| {
                x.last_seen
                    .as_deref()
                    .and_then(crate::atera::instant::parse_instant)
            };
            (has_mac(a), seen(a)).cmp(&(has_mac(b), seen(b)))
        })
}

/// How one submission retries: only retryable failures, with exponential backoff and jitter,
/// honouring `Retry-After`, within a bounded total time.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries of one request, the first included.
    pub max_attempts: u32,
    /// The first wait; each further wait doubles, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The whole submission gives up after this long; the user (or the outbox) takes over.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// Up to 4 tries per request within 45 s: long enough to ride out a blip or a short rate
    /// limit, short enough that a person at the form is not left waiting.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
            max_total: Duration::from_secs(45),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based) after `error`: Atera's `Retry-After` when
    /// it sent one, otherwise exponential backoff with 50–100 % jitter so many PCs do not retry
    /// in step.
    pub fn delay(&self, retry: u32, error: &AteraError) -> Duration {
        if let AteraError::RateLimited {
            retry_after: Some(wait),
        } = error
        {
            // Capped: an absurd value must not stall (or overflow) anything.
            return (*wait).min(self.max_total);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        exp.mul_f64(0.5 + jitter_fraction() / 2.0)
    }
}

fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() % 10_000) as f64 / 10_000.0
}

/// Runs an idempotent request, retrying retryable failures per `policy` until `deadline`.
pub(crate) async fn retrying<T, F, Fut>(
    policy: &RetryPolicy,
    deadline: Instant,
    what: &str,
    mut op: F,
) -> Result<T, AteraError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AteraError>>,
{
    let mut retry = 0;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_retryable() => {
                retry += 1;
                wait_before_retry(policy, deadline, what, retry, e).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits before retry number `retry`, or returns `error` when the policy says to stop.
pub(crate) async fn wait_before_retry(
    policy: &RetryPolicy,
    deadline: Instant,
    what: &str,
    retry: u32,
    error: AteraError,
) -> Result<(), AteraError> {
    let delay = policy.delay(retry, &error);
    let too_late = Instant::now()
        .checked_add(delay)
        .is_none_or(|at| at > deadline);
    if retry >= policy.max_attempts || too_late {
        tracing::warn!(what, retries = retry - 1, kind = error.kind(), "giving up");
        return Err(error);
    }
    tracing::info!(
        what,
        retry,
        delay_ms = delay.as_millis() as u64,
        kind = error.kind(),
        "retrying"
    );
    tokio::time::sleep(delay).await;
    Ok(())
}

const NAME_PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "das", "la", "le",
    "ter", "ten", "bin", "ibn", "al", "st.", "mac",
];

/// Splits a full name into Atera's first and last name. The family name starts at the first
/// particle after the first word ("Ludwig van Beethoven" → "Ludwig", "van Beethoven"), else it
/// is the last word. A single word (or a name written without spaces, as is common in Chinese or
/// Japanese) is used as both, since Atera needs both.
pub fn split_name(name: &str) -> (String, String) {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.len() {
        0 => ("Unknown".into(), "Unknown".into()),
        1 => (words[0].into(), words[0].into()),
        _ => {
            let particle = words
                .iter()
                .skip(1)
                .position(|w| NAME_PARTICLES.contains(&w.to_lowercase().as_str()))
                .map(|i| i + 1);
            let split = particle
                .filter(|&i| i < words.len() - 1)
                .unwrap_or(words.len() - 1);
            (words[..split].join(" "), words[split..].join(" "))
        }
    }
}

/// A new submission reference, e.g. `HB-20261128-K3M9QX`: carried in the ticket so a submission
/// can be found again.
pub fn new_reference() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let mut bits = hasher.finish();
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
    let suffix: String = (0..6)
        .map(|_| {
            let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char;
            bits /= ALPHABET.len() as u64;
            c
        })
        .collect();
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "HB-{:04}{:02}{:02}-{suffix}",
        today.year(),
        u8::from(today.month()),
        today.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_sensibly() {
        assert_eq!(
            split_name("Ada Lovelace"),
            ("Ada".into(), "Lovelace".into())
        );
        assert_eq!(
            split_name("  Mary Jane  Watson "),
            ("Mary Jane".into(), "Watson".into())
        );
        assert_eq!(
            split_name("Ludwig van Beethoven"),
            ("Ludwig".into(), "van Beethoven".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), "Cher".into()));
        assert_eq!(
            split_name("山田太郎"),
            ("山田太郎".into(), "山田太郎".into())
        );
        assert_eq!(split_name("Anna de"), ("Anna".into(), "de".into()));
    }

    #[test]
    fn agent_with_matching_mac_wins_then_newest() {
        let agent = |id, mac: &str, seen: &str| Agent {
            agent_id: Some(id),
            customer_id: Some(id * 10),
            mac_addresses: Some(vec![mac.into()]),
            last_seen: Some(seen.into()),
            ..Default::default()
        };
        let agents = vec![
            agent(1, "AA-BB-CC-DD-EE-01", "2026-01-01T00:00:00"),
            agent(2, "aa:bb:cc:dd:ee:02", "2026-06-01T00:00:00"),
            agent(3, "x", "2025-01-01T00:00:00"),
        ];
        assert_eq!(
            best_agent(&agents, Some("aa:bb:cc:dd:ee:01"))
                .unwrap()
                .agent_id,
            Some(1)
        );
        assert_eq!(best_agent(&agents, None).unwrap().agent_id, Some(2));
    }

    #[test]
    fn references_are_unique_and_well_formed() {
        let a = new_reference();
        let b = new_reference();
        assert_ne!(a, b);
        assert!(a.starts_with("HB-") && a.len() == 18, "{a}");
    }
}
