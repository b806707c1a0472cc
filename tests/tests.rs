//! Integration tests of `helpdesk-core`, compiled into one binary.
//!
//! - `submit`: whole submissions against the local Atera sandbox on 127.0.0.1, asserting what the
//!   sandbox received (contact matching, field names, escaping, inline screenshots, errors).
//! - `contract`: every request body the app sends, validated against Atera's OpenAPI spec.
//! - `resilience`: one submission against a failing sandbox: retries, backoff, Retry-After,
//!   and never a second ticket after an ambiguous failure.
//!
//! The CLI and the real window are tested from `tests/cli.rs` (in the app package) and the
//! WebDriver suite in `tests/e2e/`.

mod contract;
mod resilience;
mod submit;
mod util;
