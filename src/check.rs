//! The integration test an admin runs (`helpdesk-button settings test`, and the admin window's
//! Integration Test button): reach Atera, check the key, find this computer's customer, show the
//! contact a test email would get, and optionally file a clearly marked test ticket.
//!
//! Each step reports OK, a warning, or the precise failure with its fix. Nothing is created in
//! Atera unless the admin asks for a test ticket.

use std::time::Instant;

use serde::Serialize;

use crate::atera::AteraClient;
use crate::form::TicketForm;
use crate::inventory::Inventory;
use crate::settings::Settings;
use crate::submit::{
    new_reference, resolve_contact, submit_ticket_with, RetryPolicy, Submission, SubmitError,
};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ok,
    Warning,
    Failed,
    /// Not asked for; the message says how to run it. It does not count as a failure.
    Skipped,
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckStep {
    pub name: &'static str,
    pub status: StepStatus,
    pub message: String,
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The email whose contact is looked up (and used for the test ticket).
    pub test_email: String,
    /// File a test ticket too.
    pub send: bool,
}

/// The subject of a test ticket.
pub const TEST_TICKET_TITLE: &str = "[TEST] Helpdesk Button integration test";

/// Runs the steps in order, calling `on_step` as each finishes, and stops at the first failure.
/// Returns all steps.
pub async fn run_integration_test(
    client: &AteraClient,
    settings: &Settings,
    inventory: &Inventory,
    options: &CheckOptions,
    app_version: &str,
    on_step: impl FnMut(&CheckStep),
) -> Vec<CheckStep> {
    let mut steps = Steps::new(on_step);
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    };

    let step = match client.account().await {
        Ok(account) => ok(
            "Reach Atera and check the API key",
            format!(
                "connected to {} (account {}) at {}",
                account
                    .company_name
                    .as_deref()
                    .unwrap_or("an unnamed account"),
                account.account_id.as_deref().unwrap_or("?"),
                client.base_url()
            ),
        ),
        Err(e) => failed("Reach Atera and check the API key", e.to_string()),
    };
    if steps.report(step) {
        return steps.done;
    }

    let step = match client.agents_by_machine(&inventory.hostname).await {
        Ok(agents) if !agents.is_empty() => {
            let customers: Vec<String> = agents.iter().filter_map(|a| a.customer_name.clone()).collect();
            ok("Find this computer in Atera", format!("{} has an Atera agent under {}", inventory.hostname, customers.join(", ")))
        }
        Ok(_) => CheckStep {
            name: "Find this computer in Atera",
            status: StepStatus::Warning,
            message: format!(
                "no Atera agent is named {}: people Atera does not know yet cannot be filed under this computer's customer. \
                 Install the Atera agent on this PC, or set atera.fallback_contact_email.",
                inventory.hostname
            ),
        },
        Err(e) => CheckStep { name: "Find this computer in Atera", status: StepStatus::Warning, message: format!("the agent lookup failed: {e}") },
    };
    if steps.report(step) {
        return steps.done;
    }

    let email = options.test_email.trim();
    if email.is_empty() {
        steps.report(skipped(
                "Contact for a test email",
                "not asked for (no test email, fallback contact or last requester): run `helpdesk-button settings test --email you@yourcompany.com` to see which contact a requester gets".into(),
            ));
        if options.send {
            steps.report(skipped(
                    "File a test ticket",
                    "needs a test email: run `helpdesk-button settings test --email you@yourcompany.com --send`".into(),
                ));
        }
        return steps.done;
    }
    let step = {
        let form = TicketForm {
            name: "Helpdesk Button Test".into(),
            email: email.into(),
            ..Default::default()
        };
        let deadline = Instant::now() + policy.max_total;
        match resolve_contact(
            client,
            settings,
            crate::submit::Requester {
                form: &form,
                inventory: Some(inventory),
                customer: None,
            },
            true,
            &policy,
            deadline,
        )
        .await
        {
            Ok(found) => ok(
                "Contact for a test email",
                format!("{email}: {}", found.note()),
            ),
            Err(e) => failed("Contact for a test email", e.to_string()),
        }
    };
    if steps.report(step) || !options.send {
        return steps.done;
    }

    let form = TicketForm {
        name: "Helpdesk Button Test".into(),
        email: email.into(),
        subject: TEST_TICKET_TITLE.into(),
        description: format!(
            "This is a test ticket from Helpdesk Button's integration test on {}. It proves this PC can file tickets. You can close it.",
            inventory.hostname
        ),
        priority: "Low".into(),
        ticket_type: "Request".into(),
        impact: "NoImpact".into(),
        ..Default::default()
    };
    let submission = Submission {
        form,
        reference: new_reference(),
        screenshots: &[],
        inventory: Some(inventory),
    };
    let step = match submit_ticket_with(client, settings, submission, app_version, &policy).await {
        Ok(outcome) => ok(
            "File a test ticket",
            format!(
                "test ticket #{} filed (reference {})",
                outcome.ticket_number, outcome.reference
            ),
        ),
        Err(SubmitError::Atera(e)) => failed("File a test ticket", e.to_string()),
        Err(e) => failed("File a test ticket", e.to_string()),
    };
    steps.report(step);
    steps.done
}

/// The Integration Test of a PC in relay mode: it holds no Atera key, so it checks what it
/// depends on instead: the relay answers, this PC is enrolled (enrolling now if it is not), the
/// relay knows it as the expected device and customer, and the relay's own Atera connection works.
pub async fn run_relay_check(
    paths: &crate::paths::AppPaths,
    settings: &Settings,
    credentials: &dyn crate::secrets::Keychain,
    on_step: impl FnMut(&CheckStep),
) -> Vec<CheckStep> {
    let mut steps = Steps::new(on_step);
    let url = settings.relay.url.trim();
    let step = match crate::relay::RelayClient::new(url, None) {
        Ok(anonymous) => match anonymous.health().await {
            Ok(depth) => ok(
                "Reach the relay",
                format!("the relay at {url} answers ({depth} ticket(s) waiting there)"),
            ),
            Err(e) => failed("Reach the relay", e.to_string()),
        },
        Err(e) => failed("Reach the relay", e.to_string()),
    };
    if steps.report(step) {
        return steps.done;
    }
    let client = match crate::relay::device::connect(paths, settings, credentials).await {
        Ok(client) => {
            steps.report(ok(
                "Enroll this PC",
                "this PC holds its device credential; no Atera key is stored here".into(),
            ));
            client
        }
        Err(e) => {
            let message = match &e {
                crate::relay::RelayError::Refused { code, message, .. } => {
                    format!("{} ({message})", code.user_message())
                }
                other => other.to_string(),
            };
            steps.report(failed("Enroll this PC", message));
            return steps.done;
        }
    };
    let step = match client.device().await {
        Ok(id) => ok(
            "Device identity",
            format!(
                "device {} for {} (customer {}), host {}{}",
                id.device_id,
                id.customer_name,
                id.customer_id,
                id.hostname,
                id.agent_id
                    .map(|a| format!(", Atera agent {a}"))
                    .unwrap_or_else(|| ", no Atera agent found for this hostname".into())
            ),
        ),
        Err(e) => failed("Device identity", e.to_string()),
    };
    if steps.report(step) {
        return steps.done;
    }
    let step = match client.atera_check().await {
        Ok(message) => ok("The relay's Atera connection", message),
        Err(e) => failed("The relay's Atera connection", e.to_string()),
    };
    if steps.report(step) {
        return steps.done;
    }
    let step = match crate::relay::device::refresh_pushed_settings(
        paths,
        &client,
        std::time::Duration::ZERO,
    )
    .await
    {
        Ok(_) => ok(
            "The relay's form settings",
            "fetched; they apply to this PC's form from the next ticket on".into(),
        ),
        Err(e) => failed("The relay's form settings", e.to_string()),
    };
    steps.report(step);
    steps.done
}

/// The steps so far, each handed to the caller as it finishes.
struct Steps<F: FnMut(&CheckStep)> {
    done: Vec<CheckStep>,
    on_step: F,
}

impl<F: FnMut(&CheckStep)> Steps<F> {
    fn new(on_step: F) -> Self {
        Self {
            done: Vec::new(),
            on_step,
        }
    }

    /// Records `step`; true when it failed (the run stops there).
    fn report(&mut self, step: CheckStep) -> bool {
        (self.on_step)(&step);
        let failed = step.status == StepStatus::Failed;
        self.done.push(step);
        failed
    }
}

fn ok(name: &'static str, message: String) -> CheckStep {
    CheckStep {
        name,
        status: StepStatus::Ok,
        message,
    }
}

fn skipped(name: &'static str, message: String) -> CheckStep {
    CheckStep {
        name,
        status: StepStatus::Skipped,
        message,
    }
}

fn failed(name: &'static str, message: String) -> CheckStep {
    CheckStep {
        name,
        status: StepStatus::Failed,
        message,
    }
}
