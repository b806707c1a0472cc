//! The one submission path, used by the form window and the CLI alike: validate the form, find
//! the requester in Atera, compose the ticket and file it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::atera::models::{Agent, CreateContact, CreateTicket};
use crate::atera::{AteraClient, AteraError, Timeouts};
use crate::capture::Screenshot;
use crate::form::{FieldErrors, TicketForm};
use crate::inventory::Inventory;
use crate::paths::AppPaths;
use crate::secrets::{KeyVault, Keychain};
use crate::settings::Settings;
use crate::ticket::{render_ticket, TicketInput, TicketValues};
use crate::values::AteraChoice;

/// Why a submission did not produce a ticket.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("some fields need fixing: {0}")]
    Invalid(FieldErrors),
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Atera(#[from] AteraError),
}

impl SubmitError {
    /// The kind the UI switches on: `invalid` (fix a field), `config`, or `atera`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotConfigured(_) => "config",
            Self::Atera(_) => "atera",
        }
    }

    /// What the person at the keyboard is told.
    pub fn user_message(&self) -> String {
        match self {
            Self::Invalid(_) => "Some fields need your attention before the ticket can be sent.".into(),
            Self::NotConfigured(_) => "The helpdesk connection on this PC is not set up yet, so the ticket could not be sent. Please call your IT support.".into(),
            Self::Atera(e) => e.user_message(),
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "path", rename_all = "kebab-case")]
pub enum ContactMatch {
    /// An existing contact whose email matched exactly.
    Existing { end_user_id: i64 },
    /// A new contact created under this machine's customer, found through its Atera agent.
    CreatedUnderCustomer { end_user_id: i64, customer_id: i64, customer_name: String },
    /// The admin's fallback contact.
    Fallback { end_user_id: i64, email: String },
    /// Unknown to Atera: the ticket carries the requester's name and email.
    NameAndEmail { first_name: String, last_name: String },
}

impl ContactMatch {
    /// One line for the technician, in the ticket body.
    pub fn note(&self) -> String {
        match self {
            Self::Existing { end_user_id } => format!("existing contact #{end_user_id} (exact email match)"),
            Self::CreatedUnderCustomer { end_user_id, customer_name, .. } => {
                format!("new contact #{end_user_id} created under {customer_name} (found by this computer's Atera agent)")
            }
            Self::Fallback { end_user_id, email } => {
                format!("email not known to Atera; filed under the fallback contact {email} (#{end_user_id})")
            }
            Self::NameAndEmail { .. } => "email not known to Atera; sent the requester's name and email".into(),
        }
    }
}

/// A filed ticket.
#[derive(Debug, Clone, Serialize)]
pub struct SubmitOutcome {
    pub ticket_id: i64,
    pub ticket_number: String,
    pub reference: String,
    pub contact: ContactMatch,
    pub screenshot_bytes: usize,
    pub omitted_screenshots: usize,
}

/// What is submitted: the form and what was captured at trigger time.
pub struct Submission<'a> {
    pub form: TicketForm,
    /// All screenshots of the capture; `form.included_screenshots` selects which are attached.
    pub screenshots: &'a [Screenshot],
    pub inventory: Option<&'a Inventory>,
}

/// Builds the Atera client from the settings and the stored key.
///
/// # Errors
/// [`SubmitError::NotConfigured`] when there is no key or the endpoint is invalid.
pub fn connect(paths: &AppPaths, settings: &Settings, keychain: &dyn Keychain) -> Result<AteraClient, SubmitError> {
    let endpoint = settings.endpoint().map_err(|e| SubmitError::NotConfigured(e.to_string()))?;
    let (key, _) = KeyVault::new(keychain, paths)
        .load()
        .map_err(|e| SubmitError::NotConfigured(e.to_string()))?
        .ok_or_else(|| SubmitError::NotConfigured("no Atera API key is set: run `helpdesk-button settings set-api-key` and paste the key from Atera (Admin > API)".into()))?;
    Ok(AteraClient::new(endpoint.base_url(), &key, settings.atera.auth_mode, Timeouts::default())?)
}

/// Validates, resolves the contact, composes and files the ticket.
///
/// # Errors
/// [`SubmitError::Invalid`] with per-field messages, or the Atera failure.
pub async fn submit_ticket(
    client: &AteraClient,
    settings: &Settings,
    submission: Submission<'_>,
    app_version: &str,
) -> Result<SubmitOutcome, SubmitError> {
    let form = submission.form.normalised();
    form.validate(settings).map_err(SubmitError::Invalid)?;
    let values = TicketValues::resolve(&form, settings);
    let contact = resolve_contact(client, settings, &form, submission.inventory).await?;
    let reference = new_reference();
    let included: Vec<Screenshot> = submission
        .screenshots
        .iter()
        .filter(|s| form.included_screenshots.contains(&s.id))
        .cloned()
        .collect();
    let rendered = render_ticket(&TicketInput {
        form: &form,
        settings,
        values: &values,
        inventory: submission.inventory,
        screenshots: &included,
        contact_note: &contact.note(),
        reference: &reference,
        app_version,
    });
    let mut request = CreateTicket {
        title: rendered.title,
        description: rendered.description,
        priority: values.priority.api_value().into(),
        impact: values.impact.api_value().into(),
        status: values.status.clone(),
        ticket_type: values.ticket_type.api_value().into(),
        ..Default::default()
    };
    match &contact {
        ContactMatch::Existing { end_user_id }
        | ContactMatch::CreatedUnderCustomer { end_user_id, .. }
        | ContactMatch::Fallback { end_user_id, .. } => request.end_user_id = Some(*end_user_id),
        ContactMatch::NameAndEmail { first_name, last_name } => {
            request.end_user_first_name = Some(first_name.clone());
            request.end_user_last_name = Some(last_name.clone());
            request.end_user_email = Some(form.email.clone());
        }
    }
    let ticket_id = client.create_ticket(&request).await?;
    // The number people see can differ from the id on some accounts; ask, but never fail a filed
    // ticket over it.
    let ticket_number = match client.ticket(ticket_id).await {
        Ok(t) => t.ticket_number.unwrap_or_else(|| ticket_id.to_string()),
        Err(e) => {
            tracing::warn!(ticket_id, error = %e, "ticket filed, but reading its number failed");
            ticket_id.to_string()
        }
    };
    tracing::info!(ticket_id, reference, contact = ?std::mem::discriminant(&contact), bytes = request.description.len(), "ticket filed");
    Ok(SubmitOutcome {
        ticket_id,
        ticket_number,
        reference,
        contact,
        screenshot_bytes: rendered.screenshot_bytes,
        omitted_screenshots: rendered.omitted_screenshots,
    })
}

/// Finds the Atera contact for the requester: exact email match; else a new contact under this
/// machine's customer (via its agent); else the admin's fallback contact; else name and email.
///
/// # Errors
/// Failures that make the submission itself impossible (key rejected, Atera down). A missing
/// agent or customer is not an error: the next step is tried.
pub async fn resolve_contact(
    client: &AteraClient,
    settings: &Settings,
    form: &TicketForm,
    inventory: Option<&Inventory>,
) -> Result<ContactMatch, AteraError> {
    let matches = client.find_contacts_by_email(&form.email).await?;
    if let Some(id) = matches.iter().filter_map(|c| c.end_user_id).min() {
        return Ok(ContactMatch::Existing { end_user_id: id });
    }
    let (first_name, last_name) = split_name(&form.name);
    if let Some(inv) = inventory {
        match client.agents_by_machine(&inv.hostname).await {
            Ok(agents) => {
                if let Some(agent) = best_agent(&agents, inv.primary_mac()) {
                    if let Some(customer_id) = agent.customer_id {
                        let contact = CreateContact {
                            email: form.email.trim().to_string(),
                            customer_id,
                            first_name: first_name.clone(),
                            last_name: last_name.clone(),
                            phone: Some(form.phone.trim().to_string()).filter(|p| !p.is_empty()),
                        };
                        match client.create_contact(&contact).await {
                            Ok(end_user_id) => {
                                return Ok(ContactMatch::CreatedUnderCustomer {
                                    end_user_id,
                                    customer_id,
                                    customer_name: agent.customer_name.clone().unwrap_or_else(|| format!("customer #{customer_id}")),
                                })
                            }
                            Err(e) if is_fatal(&e) => return Err(e),
                            Err(e) => tracing::warn!(error = %e, "creating the contact failed; trying the next way"),
                        }
                    }
                }
            }
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => tracing::info!(error = %e, "no agent found for this machine"),
        }
    }
    let fallback = settings.atera.fallback_contact_email.trim();
    if !fallback.is_empty() {
        let found = client.find_contacts_by_email(fallback).await?;
        if let Some(id) = found.iter().filter_map(|c| c.end_user_id).min() {
            return Ok(ContactMatch::Fallback { end_user_id: id, email: fallback.to_string() });
        }
        tracing::warn!("the fallback contact is not in Atera");
    }
    Ok(ContactMatch::NameAndEmail { first_name, last_name })
}

/// Whether a failure in an optional step (the agent lookup, creating the contact) must stop the
/// submission. Only a rejected key does: anything else (an account without agents, an endpoint
/// that lacks this API, a contact Atera refuses) moves on to the next way of naming the
/// requester, and a real outage shows up when the ticket itself is sent.
fn is_fatal(e: &AteraError) -> bool {
    matches!(e, AteraError::Unauthorized { .. })
}

/// The agent most likely to be this machine: one whose MAC matches, then the newest `LastSeen`.
fn best_agent<'a>(agents: &'a [Agent], mac: Option<&str>) -> Option<&'a Agent> {
    let norm = |m: &str| m.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_ascii_lowercase();
    let mac = mac.map(norm);
    agents.iter().filter(|a| a.customer_id.is_some()).max_by(|a, b| {
        let has_mac = |agent: &Agent| {
            mac.as_ref().is_some_and(|m| agent.mac_addresses.iter().flatten().any(|x| norm(x) == *m))
        };
        (has_mac(a), a.last_seen.as_deref().unwrap_or("")).cmp(&(has_mac(b), b.last_seen.as_deref().unwrap_or("")))
    })
}

const NAME_PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "das", "la", "le", "ter", "ten", "bin", "ibn", "al", "st.", "mac",
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
            let particle = words.iter().skip(1).position(|w| NAME_PARTICLES.contains(&w.to_lowercase().as_str())).map(|i| i + 1);
            let split = particle.filter(|&i| i < words.len() - 1).unwrap_or(words.len() - 1);
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
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
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
    format!("HB-{:04}{:02}{:02}-{suffix}", today.year(), u8::from(today.month()), today.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_sensibly() {
        assert_eq!(split_name("Ada Lovelace"), ("Ada".into(), "Lovelace".into()));
        assert_eq!(split_name("  Mary Jane  Watson "), ("Mary Jane".into(), "Watson".into()));
        assert_eq!(split_name("Ludwig van Beethoven"), ("Ludwig".into(), "van Beethoven".into()));
        assert_eq!(split_name("Cher"), ("Cher".into(), "Cher".into()));
        assert_eq!(split_name("山田太郎"), ("山田太郎".into(), "山田太郎".into()));
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
        let agents = vec![agent(1, "AA-BB-CC-DD-EE-01", "2026-01-01T00:00:00"), agent(2, "aa:bb:cc:dd:ee:02", "2026-06-01T00:00:00"), agent(3, "x", "2025-01-01T00:00:00")];
        assert_eq!(best_agent(&agents, Some("aa:bb:cc:dd:ee:01")).unwrap().agent_id, Some(1));
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
