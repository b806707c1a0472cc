//! The delivery worker's schedule, without a runtime of its own: [`Worker::cycle`] delivers
//! what is due and says how long to wait before the next cycle. The app runs it in a loop on its
//! async runtime (sleeping on the monotonic clock, woken early when a ticket is saved); tests
//! drive it with a [`ManualClock`] and a scripted [`Probe`].
//!
//! The schedule's rules:
//! - entries wait for their own time: the backoff after a failure, a 429's `Retry-After` (which
//!   pauses every entry), or the list lag of an unconfirmed one;
//! - only entries that failed to *connect* also wait for the network: while one does, a cheap
//!   probe runs every [`PROBE_EVERY`], and when it succeeds those entries are due at once;
//! - the probe never makes failed entries due, and never shortens a 429's pause or a
//!   confirmation's wait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{DeliveryResult, Outbox};
pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::outbox::pipeline::Delivery;

/// The longest the worker sleeps while entries wait, so entries saved by the CLI are picked up.
pub const MAX_IDLE: Duration = Duration::from_secs(300);
/// How often the network is probed while entries wait for it.
pub const PROBE_EVERY: Duration = Duration::from_secs(30);

/// A boxed future, for the object-safe [`Probe`].
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Whether the network is back: a cheap check that sends nothing to Atera's API.
pub trait Probe: Send + Sync {
    /// True when Atera's host can be reached.
    fn reachable(&self) -> ProbeFuture<'_>;
}

/// Opens a TCP connection to the endpoint's host and port (3 s at most), and closes it.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    pub host: String,
    pub port: u16,
}

impl TcpProbe {
    /// The probe for an API base URL, if it names a host.
    pub fn for_url(url: &url::Url) -> Option<Self> {
        Some(Self {
            host: url.host_str()?.to_string(),
            port: url.port_or_known_default()?,
        })
    }
}

impl Probe for TcpProbe {
    fn reachable(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            matches!(
                tokio::time::timeout(
                    Duration::from_secs(3),
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                )
                .await,
                Ok(Ok(_))
            )
        })
    }
}

/// What one cycle did, and when the next should run.
#[derive(Debug)]
pub struct Cycle {
    pub results: Vec<DeliveryResult>,
    /// Sleep this long (or until woken) before the next cycle.
    pub wait: Duration,
    /// Whether the probe ran this cycle, and what it said.
    pub probed: Option<bool>,
}

/// The outbox's delivery worker.
#[derive(Debug)]
pub struct Worker<'o> {
    outbox: &'o Outbox,
}

impl<'o> Worker<'o> {
    /// A worker for `outbox`.
    pub fn new(outbox: &'o Outbox) -> Self {
        Self { outbox }
    }

    /// One cycle: probe the network if an entry waits for it, deliver what is due (nothing when
    /// `delivery` is `None`, i.e. the app is not configured), and compute the wait.
    pub async fn cycle(&self, delivery: Option<&Delivery<'_>>, probe: &dyn Probe) -> Cycle {
        let outbox = self.outbox;
        let mut probed = None;
        if outbox.waits_for_network().unwrap_or(false) {
            let back = probe.reachable().await;
            probed = Some(back);
            if back {
                match outbox.network_is_back() {
                    Ok(n) if n > 0 => {
                        tracing::info!(entries = n, "the network is back; sending saved tickets")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "the outbox could not be updated"),
                }
            }
        }
        let results = match delivery {
            Some(d) => outbox.deliver_due(d, false).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "the outbox could not be read");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let now = outbox.now();
        let mut wait = match outbox.next_due_at() {
            Ok(Some(due)) => {
                Duration::from_secs(due.saturating_sub(now).max(1) as u64).min(MAX_IDLE)
            }
            _ => MAX_IDLE,
        };
        if outbox.waits_for_network().unwrap_or(false) {
            wait = wait.min(PROBE_EVERY);
        }
        if delivery.is_none() {
            // Not configured yet (no key): due entries stay due, so do not spin on them; look
            // again in a while (a new ticket or a settings change wakes the app sooner).
            wait = wait.max(PROBE_EVERY);
        }
        Cycle {
            results,
            wait,
            probed,
        }
    }
}
