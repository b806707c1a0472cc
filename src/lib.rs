//! Helpdesk Button core: everything that is not UI glue.
//!
//! This crate never depends on tauri. The GUI (`src-tauri`) and the CLI call the same functions
//! here: one path to capture, one to collect the inventory, one to submit a ticket.
#![deny(unsafe_code)]

pub mod admin;
pub mod atera;
pub mod capture;
pub mod check;
pub mod clock;
pub mod db;
pub mod draft;
pub mod form;
pub mod html;
pub mod inventory;
// The crate's one exception to `deny(unsafe_code)`: madvise, malloc_trim and sysconf, each with
// its SAFETY note.
#[allow(unsafe_code)]
pub mod memory;
pub mod outbox;
pub mod paths;
pub mod policy;
pub mod profile;
pub mod relay;
pub mod rules;
pub mod sandbox;
pub mod secrets;
pub mod settings;
pub mod submit;
pub mod ticket;
pub mod tracking;
pub mod update;
pub mod values;
