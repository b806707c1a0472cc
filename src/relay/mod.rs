//! The relay: an MSP-run server that holds the Atera key, so PCs never do.
//!
//! - [`server`], [`store`] and [`config`] are the relay process (`helpdesk-relay serve`): device
//!   enrollment, the device API ([`protocol`]) and a durable queue that files every device's
//!   tickets with the same pipeline the app uses directly ([`crate::outbox`]).
//! - [`client`] and [`device`] are the PC's side: enrollment on first start, the credential in
//!   the OS keychain, and delivery to the relay as one of the outbox's destinations.

pub mod api;
pub mod client;
pub mod config;
pub mod device;
pub mod protocol;
pub mod server;
pub mod store;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;

pub use client::{RelayClient, RelayError};
pub use config::RelayConfig;
pub use server::RelayState;

/// Opens everything a relay serves from: its store and queue (one SQLite file), the Atera client
/// with its key, the settings and the rules (evaluated by `evaluator __evaluate-rules`).
///
/// # Errors
/// A message that says what to fix.
pub fn open(config: &RelayConfig, evaluator: PathBuf) -> Result<Arc<RelayState>, String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "the data directory {} cannot be created: {e}",
            config.data_dir.display()
        )
    })?;
    let database = config.database();
    let store = store::Store::open(&database)
        .map_err(|e| format!("{} cannot be opened: {e}", database.display()))?;
    let queue = crate::outbox::Outbox::open(&database).map_err(|e| e.to_string())?;
    let settings = config.settings().map_err(|e| e.to_string())?;
    let key = config.key().map_err(|e| e.to_string())?;
    let endpoint = settings.endpoint().map_err(|e| e.to_string())?;
    let atera = crate::atera::AteraClient::new(
        endpoint.base_url(),
        &key,
        settings.atera.auth_mode,
        crate::atera::Timeouts::default(),
    )
    .map_err(|e| e.to_string())?;
    let rules =
        config
            .rules()
            .map_err(|e| e.to_string())?
            .map(|script| crate::submit::RulesConfig {
                exe: evaluator,
                script,
                limits: crate::rules::RuleLimits::default(),
            });
    Ok(RelayState::new(
        store,
        queue,
        atera,
        settings,
        rules,
        config.options(),
        Arc::new(crate::clock::SystemClock),
    ))
}
