//! The relay: an MSP-run server that holds the Atera key, so PCs never do.
//!
//! - [`server`], [`store`] and [`config`] are the relay process (`helpdesk-relay serve`): device
//!   enrollment, the device API ([`protocol`]) and a durable queue that files every device's
//!   tickets with the same pipeline the app uses directly ([`crate::outbox`]).
//! - [`client`] and [`device`] are the PC's side: enrollment on first start, the credential in
//!   the OS keychain, and delivery to the relay as one of the outbox's destinations.

pub mod admin_api;
pub mod admin_client;
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

/// The relay's records alone (for `enroll`, `devices` and `audit`).
///
/// # Errors
/// A message that says what to fix.
pub fn open_store(config: &RelayConfig) -> Result<store::Store, String> {
    match config.postgres_url().map_err(|e| e.to_string())? {
        #[cfg(feature = "postgres")]
        Some(url) => store::Store::open_postgres(&url)
            .map_err(|e| format!("the relay's Postgres database cannot be opened: {e}")),
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err(config::ConfigError::NoPostgres.to_string()),
        None => {
            let database = config.database();
            store::Store::open(&database)
                .map_err(|e| format!("{} cannot be opened: {e}", database.display()))
        }
    }
}

/// The store and the queue: in one SQLite file in `data_dir`, or in Postgres shared with the
/// relay's other instances.
fn open_storage(config: &RelayConfig) -> Result<(store::Store, crate::outbox::Outbox), String> {
    let store = open_store(config)?;
    let queue = match config.postgres_url().map_err(|e| e.to_string())? {
        #[cfg(feature = "postgres")]
        Some(url) => crate::outbox::Outbox::open_postgres(
            &url,
            Arc::new(crate::outbox::SystemClock),
            crate::outbox::DeliveryTiming::default(),
        )
        .map_err(|e| format!("the relay's queue in Postgres cannot be opened: {e}"))?,
        #[cfg(not(feature = "postgres"))]
        Some(_) => return Err(config::ConfigError::NoPostgres.to_string()),
        None => crate::outbox::Outbox::open(&config.database()).map_err(|e| e.to_string())?,
    };
    Ok((store, queue))
}

/// Opens everything a relay serves from: its store and queue (SQLite or Postgres), the Atera client
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
    let (store, queue) = open_storage(config)?;
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
    let mut rules = server::RelayRules::stored(evaluator);
    if let Some(path) = &config.rules_file {
        rules.file = Some((
            path.clone(),
            config
                .rules()
                .map_err(|e| e.to_string())?
                .unwrap_or_default(),
        ));
    }
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
