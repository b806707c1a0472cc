//! Integration tests of `helpdesk-core`, compiled into one binary.
//!
//! - `submit`: whole submissions against the local Atera sandbox on 127.0.0.1, asserting what the
//!   sandbox received (contact matching, field names, escaping, inline screenshots, errors).
//! - `contract`: every request body the app sends, validated against Atera's OpenAPI spec, and
//!   example responses (`fixtures/atera/`) that follow the spec and read into our models.
//! - `errors`: one test per failure class of the Atera client (rejected key, unknown host, not
//!   Atera, TLS, timeout, dropped connection, rate limit, validation, server error, unreadable
//!   answer), each made to happen on 127.0.0.1: class, retryability, fix hint, no key shown.
//! - `outbox`: many saved submissions through heavy injected faults, delivered exactly once.
//! - `tracking`: "My tickets": polite polling, status changes and replies, the thread.
//! - `resilience`: one submission against a failing sandbox: retries, backoff, Retry-After,
//!   and never a second ticket after an ambiguous failure.
//! - `exactly_once`: many submissions against the sandbox's unfriendly mode (30 s list lag,
//!   scrambled lists, 2,000 other customers' tickets, a quoted reference) through every fault:
//!   the ticket set equals the submission set; a control shows the mode bites.
//! - `live_tenant`: the sandbox's live-tenant shapes (nulls left out, mixed timestamps, 409 for
//!   an archived contact's e-mail, one filter name honoured): contacts, My tickets, the
//!   Integration Test.
//! - `relay`: the relay in process in front of the sandbox, devices enrolling and delivering
//!   through the outbox: one ticket per reference through lost answers, device isolation,
//!   revocation, tokens, limits, and no trace of the Atera key on the PC or its wire.
//! - `worker`: the delivery worker's schedule with a manual clock and a scripted probe.
//! - `rules`: dispatcher rules evaluated in a real child process (this binary re-run as the
//!   child), abuse scripts stopped by the limits, and the vendor-style fixtures (`fixtures/rules/`).
//!
//! The CLI and the real window are tested from `tests/cli.rs` (in the app package) and the
//! WebDriver suite in `tests/e2e/`.

mod contract;
mod errors;
mod exactly_once;
mod live_tenant;
mod outbox;
mod relay;
mod resilience;
mod rules;
mod submit;
mod tracking;
mod util;
mod worker;
