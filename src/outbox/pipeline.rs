//! The network half of delivering one entry: matching the requester, running the dispatcher
//! rules and composing the ticket ([`compose`]), then the one `POST /tickets` ([`post`]).
//!
//! These steps never touch the store; the state machine in [`super`] decides when each runs and
//! records the outcome. Nothing here sends a `POST` twice: [`post`] retries only failures that
//! prove the ticket was not created (a refused connection, 429, 500, 503); an ambiguous one
//! (timeout, lost connection, 502/504) is returned at once, and the entry then waits for
//! Atera's lists to catch up before anything is sent again.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::atera::models::CreateTicket;
use crate::atera::{AteraClient, AteraError};
use crate::settings::Settings;
use crate::submit::{
    resolve_contact, retrying, rule_input, split_name, wait_before_retry, ContactMatch,
    RetryPolicy, RulesConfig, SavedSubmission, SubmitError,
};
use crate::ticket::{render_ticket, TicketInput, TicketValues};
use crate::values::{AteraChoice, Replacement};

/// Where entries go: Atera itself (with the key on this machine), or the MSP's relay, which holds
/// the key and files the ticket with this same pipeline on its side.
#[derive(Clone, Copy)]
pub enum Destination<'a> {
    Atera(&'a AteraClient),
    Relay(&'a crate::relay::RelayClient),
}

/// Where and how entries are delivered: the destination and what composing a ticket needs.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    pub destination: Destination<'a>,
    pub settings: &'a Settings,
    /// The admin's dispatcher rules, when there are any.
    pub rules: Option<&'a RulesConfig>,
    pub app_version: &'a str,
    /// Retries of one request within one attempt.
    pub policy: RetryPolicy,
    /// The customer the requester belongs to when the caller knows it for certain (the relay:
    /// the customer the device was enrolled under), instead of finding it from the PC's agent.
    pub customer: Option<(i64, &'a str)>,
}

impl<'a> Delivery<'a> {
    /// Atera directly, with the defaults of a background delivery: no rules, no known customer.
    pub fn direct(client: &'a AteraClient, settings: &'a Settings, app_version: &'a str) -> Self {
        Self {
            destination: Destination::Atera(client),
            settings,
            rules: None,
            app_version,
            policy: RetryPolicy::default(),
            customer: None,
        }
    }

    /// The Atera client, when this delivery files in Atera itself.
    pub fn atera(&self) -> Option<&'a AteraClient> {
        match self.destination {
            Destination::Atera(client) => Some(client),
            Destination::Relay(_) => None,
        }
    }

    fn client(&self) -> Result<&'a AteraClient, SubmitError> {
        self.atera().ok_or_else(|| {
            SubmitError::NotConfigured("a relay delivery has no Atera client".into())
        })
    }
}

/// A ticket ready to be sent, decided once: later attempts send exactly this, so the rules (which
/// may read the clock) and the contact match are not re-run between a lost answer and a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composed {
    pub request: CreateTicket,
    pub contact: ContactMatch,
    pub screenshot_bytes: usize,
    pub omitted_screenshots: usize,
}

/// Matches the requester in Atera, runs the rules and renders the ticket.
///
/// A rule's runtime error, a limit, or an evaluator that cannot run never costs the ticket: it
/// is filed with the form's values and the error goes into the "Submission errors" note. Only an
/// explicit `exception` blocks.
///
/// # Errors
/// [`SubmitError::Blocked`] with the rule's `exception`, or the Atera failure that kept the
/// requester from being matched.
pub async fn compose(d: &Delivery<'_>, saved: &SavedSubmission) -> Result<Composed, SubmitError> {
    let deadline = Instant::now()
        .checked_add(d.policy.max_total)
        .unwrap_or_else(Instant::now);
    let mut form = saved.form.clone();
    let client = d.client()?;
    let contact = match &saved.contact {
        Some(c) => c.clone(),
        None => {
            resolve_contact(
                client,
                d.settings,
                crate::submit::Requester {
                    form: &form,
                    inventory: saved.inventory.as_ref(),
                    customer: d.customer,
                },
                false,
                &d.policy,
                deadline,
            )
            .await?
        }
    };
    let (values, append) = match (&saved.values, d.rules) {
        // Saved by an older version, which had already applied the rules.
        (Some(values), _) => (values.clone(), saved.append.clone().unwrap_or_default()),
        (None, None) => (TicketValues::resolve(&form, d.settings), String::new()),
        (None, Some(rules)) => apply_rules(rules, &mut form, saved, &contact, d.settings).await?,
    };
    let rendered = render_ticket(&TicketInput {
        form: &form,
        settings: d.settings,
        values: &values,
        inventory: saved.inventory.as_ref(),
        images: &saved.images,
        append: &append,
        contact_note: &contact.note(),
        reference: &saved.reference,
        app_version: d.app_version,
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
        ContactMatch::Existing { end_user_id, .. }
        | ContactMatch::CreatedUnderCustomer { end_user_id, .. }
        | ContactMatch::Fallback { end_user_id, .. } => request.end_user_id = Some(*end_user_id),
        ContactMatch::NameAndEmail { .. } | ContactMatch::WouldCreateUnderCustomer { .. } => {
            // (A dry-run match never gets here: deliveries resolve for real.)
            let (first_name, last_name) = split_name(&form.name);
            request.end_user_first_name = Some(first_name);
            request.end_user_last_name = Some(last_name);
            request.end_user_email = Some(form.email.clone());
        }
    }
    Ok(Composed {
        request,
        contact,
        screenshot_bytes: rendered.screenshot_bytes,
        omitted_screenshots: rendered.omitted_screenshots,
    })
}

/// Runs the rules in their child process and applies what they left. Returns the final values
/// and the text to append; `form` gets the rules' subject and message.
async fn apply_rules(
    rules: &RulesConfig,
    form: &mut crate::form::TicketForm,
    saved: &SavedSubmission,
    contact: &ContactMatch,
    settings: &Settings,
) -> Result<(TicketValues, String), SubmitError> {
    let mut values = TicketValues::resolve(form, settings);
    let input = rule_input(form, &values, saved.inventory.as_ref(), Some(contact));
    // The child process takes up to the rule time limit: keep it off the async workers.
    let (exe, script, limits) = (
        rules.exe.clone(),
        rules.script.clone(),
        rules.limits.clone(),
    );
    let evaluated =
        tokio::task::spawn_blocking(move || crate::rules::evaluate(&exe, &script, &input, &limits))
            .await
            .unwrap_or_else(|e| {
                Err(crate::rules::RulesError::Pipe(std::io::Error::other(
                    e.to_string(),
                )))
            });
    let failure = match evaluated {
        // An error also fills `exception` with its text; only a clean run's exception blocks.
        Ok(outcome) if outcome.error.is_none() => {
            if let Some(exception) = outcome.exception.filter(|e| !e.trim().is_empty()) {
                tracing::info!("the dispatcher rules blocked the submission");
                return Err(SubmitError::Blocked(exception));
            }
            form.subject = outcome.subject.trim().to_string();
            form.description = outcome.msg;
            let values = TicketValues::from_strings(
                &outcome.priority,
                &outcome.r#type,
                &outcome.impact,
                &outcome.status,
                settings,
            );
            tracing::info!(changed = ?outcome.changed, "dispatcher rules applied");
            return Ok((values, outcome.append));
        }
        Ok(outcome) => outcome
            .error
            .map(|e| format!("the rules stopped with an error ({e})"))
            .unwrap_or_default(),
        Err(e) => format!("the rules could not run ({e})"),
    };
    // Rules that fail must not cost the user their ticket: file it unchanged and say so.
    tracing::error!(error = %failure, "the dispatcher rules failed; filing without their changes");
    values.replacements.push(Replacement {
        field: "rules".into(),
        given: failure,
        used: "the form's values, without the rules' changes".into(),
    });
    Ok((values, String::new()))
}

/// `POST /tickets`, retried (per `policy`, within `deadline`) only after failures that prove the
/// ticket was not created.
///
/// # Errors
/// The last failure. When [`AteraError::is_ambiguous`] holds for it, the ticket may exist.
pub async fn post(
    d: &Delivery<'_>,
    request: &CreateTicket,
    deadline: Instant,
) -> Result<i64, AteraError> {
    let Some(client) = d.atera() else {
        return Err(AteraError::NotFound {
            what: "an Atera client (this delivery goes to the relay)".into(),
        });
    };
    let mut retry = 0;
    loop {
        match client.create_ticket(request).await {
            Ok(id) => return Ok(id),
            Err(e) if e.may_have_created() || !e.is_retryable() => return Err(e),
            Err(e) => {
                retry += 1;
                wait_before_retry(&d.policy, deadline, "create ticket", retry, e).await?;
            }
        }
    }
}

/// The number people see, which can differ from the id on some accounts. A filed ticket never
/// fails over it: the id stands in.
pub async fn ticket_number(d: &Delivery<'_>, ticket_id: i64) -> String {
    let deadline = Instant::now()
        .checked_add(d.policy.max_total)
        .unwrap_or_else(Instant::now);
    let Some(client) = d.atera() else {
        return ticket_id.to_string();
    };
    match retrying(&d.policy, deadline, "read ticket number", || {
        client.ticket(ticket_id)
    })
    .await
    {
        Ok(t) => t
            .ticket_number
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| ticket_id.to_string()),
        Err(e) => {
            tracing::warn!(ticket_id, error = %e, "ticket filed, but reading its number failed");
            ticket_id.to_string()
        }
    }
}
