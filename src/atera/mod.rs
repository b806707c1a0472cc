//! Atera REST API v3: the typed client ([`client`]), wire models ([`models`]) and one error type
//! per failure class ([`error`]).
//!
//! The base URL is a plain [`url::Url`], so tests point the client at the local sandbox. The key
//! travels only in a request header and is never part of an error or a log line.

pub mod client;
pub mod error;
pub mod instant;
pub mod models;

pub use client::{AteraClient, Timeouts};
pub use error::AteraError;
