//! The relay process: its state, the queue that files every device's tickets in Atera with the
//! core's exactly-once pipeline ([`crate::outbox`]), the one Atera poll for the whole fleet, the
//! metrics, and serving the device API ([`super::api`]) over http or TLS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::protocol::{Refusal, RelayedState, TicketStatus};
use super::store::Store;
use crate::atera::AteraClient;
use crate::outbox::{Delivery, DeliveryResult, Destination, EntryState, Outbox, OutboxError};
use crate::settings::Settings;
use crate::submit::{RetryPolicy, RulesConfig};

/// How often an instance on a shared Postgres reads the others' changes.
const CHANGE_FEED_EVERY: Duration = Duration::from_secs(1);

/// Everything one relay process serves from.
pub struct RelayState {
    pub store: Store,
    pub queue: Outbox,
    pub atera: AteraClient,
    pub settings: Settings,
    pub rules: RelayRules,
    pub options: RelayOptions,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Bumped whenever an entry changes state; submits waiting for their filing watch it.
    pub(super) changed: watch::Sender<u64>,
    /// Wakes the delivery loop.
    pub(super) wake: tokio::sync::Notify,
    pub(super) counters: Mutex<Counters>,
    windows: Mutex<HashMap<String, DeviceWindow>>,
    /// Per device, a counter bumped whenever one of its tickets changes (events).
    device_seq: Mutex<HashMap<String, u64>>,
    /// This process among the relay's instances on one Postgres (a random id).
    instance: String,
    /// Wakes the Atera poller (a webhook came in).
    pub(super) poll_wake: tokio::sync::Notify,
    /// Admins' checks and test runs of the rules (each a child process) at once.
    pub(super) evaluations: Arc<tokio::sync::Semaphore>,
}

/// The relay's dispatcher rules: what runs them, and where they come from.
#[derive(Debug, Clone)]
pub struct RelayRules {
    /// The rules evaluator (`helpdesk-relay __evaluate-rules`).
    pub exe: std::path::PathBuf,
    pub limits: crate::rules::RuleLimits,
    /// `rules_file` in relay.toml (its path and text, read at start): the rules are that file's
    /// and the admin window only reads them. Without it, the rules are the ones admins save
    /// from the admin window, in the store every instance shares.
    pub file: Option<(std::path::PathBuf, String)>,
}

impl RelayRules {
    /// Rules evaluated by `exe`, saved by admins.
    pub fn stored(exe: impl Into<std::path::PathBuf>) -> Self {
        Self {
            exe: exe.into(),
            limits: crate::rules::RuleLimits::default(),
            file: None,
        }
    }
}

/// How many admin checks or test runs of the rules run at once; more wait (up to 10 s).
const EVALUATIONS_AT_ONCE: usize = 2;

/// How the relay behaves, beyond its store and Atera client.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub limits: super::config::Limits,
    /// How often the relay reads Atera's changes for every device's tickets.
    pub poll_every: Duration,
    /// The secret path segment of `POST /v1/atera-webhook/{secret}`; no webhook without it.
    pub webhook_secret: Option<String>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            limits: super::config::Limits::default(),
            poll_every: Duration::from_secs(120),
            webhook_secret: None,
        }
    }
}

impl std::fmt::Debug for RelayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayState")
    }
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) submissions: u64,
    pub(super) refusals: HashMap<Refusal, u64>,
    deliveries: HashMap<&'static str, u64>,
    delivery_seconds_sum: f64,
    delivery_count: u64,
    polls: u64,
    poll_errors: u64,
    pub(super) webhooks: u64,
}

/// A device's use of its limits in the current minute and hour.
struct DeviceWindow {
    minute_start: i64,
    requests: u32,
    hour_start: i64,
    submissions: u32,
}

impl RelayState {
    /// A relay over an opened store and queue.
    pub fn new(
        store: Store,
        queue: Outbox,
        atera: AteraClient,
        settings: Settings,
        rules: RelayRules,
        options: RelayOptions,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            queue,
            atera,
            settings,
            rules,
            options,
            clock,
            changed: watch::channel(0).0,
            wake: tokio::sync::Notify::new(),
            counters: Mutex::default(),
            windows: Mutex::default(),
            device_seq: Mutex::default(),
            poll_wake: tokio::sync::Notify::new(),
            evaluations: Arc::new(tokio::sync::Semaphore::new(EVALUATIONS_AT_ONCE)),
            instance: super::store::random_id(),
        })
    }

    /// The loops that run beside the device API: deliveries, the Atera poll and, with several
    /// instances on one Postgres, the feed of the others' changes.
    pub fn background(self: Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![
            tokio::spawn(self.clone().run_deliveries()),
            tokio::spawn(self.clone().run_polling()),
        ];
        if self.store.is_shared() {
            tasks.push(tokio::spawn(self.run_change_feed()));
        }
        tasks
    }

    /// Other instances' changes to tickets, so a device long-polling this instance hears of a
    /// filing or a reply another one saw. Read every second; a day's worth is kept.
    async fn run_change_feed(self: Arc<Self>) {
        let mut after = self.store.last_change().unwrap_or_default();
        let mut pruned_at = 0;
        loop {
            tokio::time::sleep(CHANGE_FEED_EVERY).await;
            match self.store.changes_after(after, &self.instance, 1000) {
                Ok(changes) => {
                    for (id, device) in &changes {
                        after = after.max(*id);
                        self.bump_device(device);
                    }
                    if !changes.is_empty() {
                        self.changed.send_modify(|n| *n += 1);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the other instances' changes cannot be read"),
            }
            let now = self.now();
            if now - pruned_at >= 3600 {
                pruned_at = now;
                let _ = self.store.prune_changes(now - 86_400);
            }
        }
    }

    fn bump_device(&self, device: &str) {
        *self
            .device_seq
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(device.to_string())
            .or_default() += 1;
    }

    /// Marks a ticket changed: its device's events answer, and waiting submits look again.
    pub(super) fn bump(&self, reference: &str) {
        if let Ok(Some(device)) = self.store.owner(reference) {
            self.bump_device(&device);
            if self.store.is_shared() {
                if let Err(e) = self
                    .store
                    .publish_change(&device, &self.instance, self.now())
                {
                    tracing::warn!(error = %e, "a change could not be told to the other instances");
                }
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    pub(super) fn seq_of(&self, device: &str) -> u64 {
        self.device_seq
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device)
            .copied()
            .unwrap_or_default()
    }

    /// One read of Atera's changes for every device's tickets at once (the core's polite
    /// `lastmodified` pass, with its hourly budget): the load on Atera does not grow with the
    /// number of PCs.
    pub async fn poll_once(&self) {
        // With several instances on one Postgres, one of them polls (it holds the lease while
        // it lives; another takes over when it stops renewing).
        if self.store.is_shared() {
            let lease = (self.options.poll_every * 3).as_secs() as i64;
            match self
                .store
                .take_lease("poll", &self.instance, self.now(), lease)
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the poll lease cannot be read; next cycle");
                    return;
                }
            }
        }
        match self.queue.poll_tickets(&self.atera).await {
            Ok(changes) => {
                self.counters().polls += 1;
                for change in changes {
                    if let Ok(reference) = self.queue.reference_of(change.ticket_id) {
                        self.bump(&reference);
                    }
                }
            }
            Err(e) => {
                self.counters().poll_errors += 1;
                tracing::info!(error = %e, "reading Atera's changes failed; next cycle");
            }
        }
    }

    /// The poller: every `poll_every`, or at once after a webhook.
    pub async fn run_polling(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.options.poll_every) => {}
                () = self.poll_wake.notified() => {}
            }
            self.poll_once().await;
        }
    }

    pub(super) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(super) fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rules a ticket runs through now: `rules_file`'s, else the newest an admin saved
    /// (read at each delivery, so a save on any instance applies to the next ticket).
    ///
    /// # Errors
    /// When the saved rules cannot be read.
    pub fn current_rules(&self) -> Result<Option<RulesConfig>, super::store::StoreError> {
        let script = match &self.rules.file {
            Some((_, script)) => Some(script.clone()),
            None => self.store.rules()?.map(|r| r.script),
        };
        Ok(script
            .filter(|s| !s.trim().is_empty())
            .map(|script| RulesConfig {
                exe: self.rules.exe.clone(),
                script,
                limits: self.rules.limits.clone(),
            }))
    }

    /// Files every due entry once, each with its device's customer. Returns when the next one is
    /// due (at most a minute ahead).
    pub async fn deliver_due(&self) -> Duration {
        let idle = Duration::from_secs(60);
        if let Ok(Some(until)) = self.queue.paused_until() {
            return Duration::from_secs((until - self.now()).clamp(1, 3600) as u64);
        }
        // Without the rules no ticket is filed: one filed past them is not taken back.
        let rules = match self.current_rules() {
            Ok(rules) => rules,
            Err(e) => {
                tracing::error!(error = %e, "the saved rules cannot be read; delivery waits");
                return Duration::from_secs(5);
            }
        };
        let due = match self.queue.due(self.now(), false) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "the relay's queue cannot be read");
                return Duration::from_secs(5);
            }
        };
        for reference in due {
            let customer = match self.store.owner(&reference) {
                Ok(Some(device)) => self.store.customer_of(&device).ok().flatten(),
                _ => None,
            };
            let Some((customer_id, customer_name)) = customer else {
                // Every entry is claimed before it is queued; one without a device is not filed
                // under a guessed customer.
                tracing::error!(
                    reference,
                    "a queued ticket has no enrolled device; it is left for an admin"
                );
                continue;
            };
            let delivery = Delivery {
                destination: Destination::Atera(&self.atera),
                settings: &self.settings,
                rules: rules.as_ref(),
                app_version: env!("CARGO_PKG_VERSION"),
                policy: RetryPolicy::default(),
                customer: Some((customer_id, &customer_name)),
            };
            let started = Instant::now();
            let result = self.queue.deliver_one(&reference, &delivery).await;
            let kind = match &result {
                Ok(DeliveryResult::Sent { outcome, .. }) => {
                    let owner = self.store.owner(&reference).ok().flatten();
                    let _ = self.store.audit(
                        self.now(),
                        owner.as_deref(),
                        "filed",
                        Some(&reference),
                        Some(&format!("ticket {}", outcome.ticket_id)),
                    );
                    "sent"
                }
                Ok(DeliveryResult::Retrying { .. }) => "retrying",
                Ok(DeliveryResult::Confirming { .. }) => "confirming",
                Ok(DeliveryResult::Failed { .. }) => "failed",
                Ok(DeliveryResult::Blocked { .. }) => "blocked",
                Ok(DeliveryResult::Elsewhere { .. }) => "elsewhere",
                Err(_) => "error",
            };
            {
                let mut c = self.counters();
                *c.deliveries.entry(kind).or_default() += 1;
                c.delivery_seconds_sum += started.elapsed().as_secs_f64();
                c.delivery_count += 1;
            }
            self.bump(&reference);
            if let Err(e) = &result {
                tracing::error!(reference, error = %e, "the relay's queue failed; delivery stops until the next cycle");
                return Duration::from_secs(5);
            }
            if result.as_ref().is_ok_and(DeliveryResult::rate_limited) {
                break;
            }
        }
        match self.queue.next_due_at() {
            Ok(Some(at)) => Duration::from_secs((at - self.now()).clamp(0, 60) as u64)
                .max(Duration::from_millis(200)),
            _ => idle,
        }
    }

    /// The delivery loop: runs until the process ends.
    pub async fn run_deliveries(self: Arc<Self>) {
        loop {
            let wait = self.deliver_due().await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    pub(super) fn status(&self, reference: &str) -> Result<Option<TicketStatus>, OutboxError> {
        let Some(entry) = self.queue.entry(reference)? else {
            return Ok(None);
        };
        let (status, last_reply, unread) = self.queue.tracked(reference)?;
        let state = match entry.state {
            EntryState::Sent => RelayedState::Filed,
            EntryState::Failed if entry.blocked => RelayedState::Blocked,
            EntryState::Failed => RelayedState::Failed,
            EntryState::Pending | EntryState::Sending => RelayedState::Queued,
        };
        Ok(Some(TicketStatus {
            reference: entry.reference,
            state,
            subject: entry.subject,
            created_at: entry.created_at,
            ticket_id: entry.ticket_id.filter(|_| state == RelayedState::Filed),
            ticket_number: entry.ticket_number.filter(|_| state == RelayedState::Filed),
            reason: match state {
                RelayedState::Blocked => entry.last_error,
                RelayedState::Failed => Some(
                    "Your IT provider's helpdesk could not file this ticket; they have been told."
                        .into(),
                ),
                _ => None,
            },
            status,
            last_reply,
            unread,
        }))
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        let depth = self.queue.unsent_count().unwrap_or_default();
        let devices = self.store.active_devices().unwrap_or_default();
        let c = self.counters();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in lines {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "helpdesk_relay_queue_depth",
            "gauge",
            "Tickets stored on the relay and not yet filed in Atera.",
            vec![(String::new(), depth.to_string())],
        );
        metric(
            "helpdesk_relay_devices",
            "gauge",
            "Enrolled devices that are not revoked.",
            vec![(String::new(), devices.to_string())],
        );
        metric(
            "helpdesk_relay_submissions_total",
            "counter",
            "Tickets devices handed to the relay (first copies only).",
            vec![(String::new(), c.submissions.to_string())],
        );
        let mut refusals: Vec<_> = c.refusals.iter().collect();
        refusals.sort_by_key(|(code, _)| format!("{code:?}"));
        metric(
            "helpdesk_relay_refusals_total",
            "counter",
            "Requests the relay refused, by code.",
            refusals
                .into_iter()
                .map(|(code, n)| (format!("{{code=\"{}\"}}", code_name(*code)), n.to_string()))
                .collect(),
        );
        let mut deliveries: Vec<_> = c.deliveries.iter().collect();
        deliveries.sort();
        metric(
            "helpdesk_relay_deliveries_total",
            "counter",
            "Delivery attempts to Atera, by result.",
            deliveries
                .into_iter()
                .map(|(k, n)| (format!("{{result=\"{k}\"}}"), n.to_string()))
                .collect(),
        );
        metric(
            "helpdesk_relay_atera_polls_total",
            "counter",
            "Reads of Atera's changes for all devices at once, by result.",
            vec![
                ("{result=\"ok\"}".into(), c.polls.to_string()),
                ("{result=\"error\"}".into(), c.poll_errors.to_string()),
            ],
        );
        metric(
            "helpdesk_relay_webhooks_total",
            "counter",
            "Atera webhooks received at the secret URL.",
            vec![(String::new(), c.webhooks.to_string())],
        );
        metric(
            "helpdesk_relay_atera_delivery_seconds",
            "summary",
            "Time spent filing tickets in Atera (all requests of one delivery).",
            vec![
                ("_sum".into(), format!("{:.3}", c.delivery_seconds_sum)),
                ("_count".into(), c.delivery_count.to_string()),
            ],
        );
        out
    }

    /// Counts one request of `device` or, with `ticket`, one new ticket; refuses past the limits.
    pub(super) fn spend(&self, device: &str, ticket: bool) -> Result<(), Refusal> {
        let now = self.now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = windows.entry(device.to_string()).or_insert(DeviceWindow {
            minute_start: now,
            requests: 0,
            hour_start: now,
            submissions: 0,
        });
        if now - w.minute_start >= 60 || now < w.minute_start {
            w.minute_start = now;
            w.requests = 0;
        }
        if now - w.hour_start >= 3600 || now < w.hour_start {
            w.hour_start = now;
            w.submissions = 0;
        }
        if ticket {
            if w.submissions >= self.options.limits.submissions_per_hour {
                return Err(Refusal::RateLimited);
            }
            w.submissions += 1;
        } else {
            if w.requests >= self.options.limits.requests_per_minute {
                return Err(Refusal::RateLimited);
            }
            w.requests += 1;
        }
        Ok(())
    }
}

pub(super) fn code_name(code: Refusal) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// [`serve`] over TLS.
///
/// # Errors
/// When serving fails.
pub async fn serve_tls(
    state: Arc<RelayState>,
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = super::tls::TlsListener::new(listener, acceptor)?;
    let background = state.clone().background();
    let result = axum::serve(listener, super::api::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    background.iter().for_each(tokio::task::JoinHandle::abort);
    result
}

/// Serves `state` on `listener` until `shutdown` resolves, with the delivery loop alongside.
///
/// # Errors
/// When serving fails.
pub async fn serve(
    state: Arc<RelayState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = state.clone().background();
    let app = super::api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    background.iter().for_each(tokio::task::JoinHandle::abort);
    result
}
