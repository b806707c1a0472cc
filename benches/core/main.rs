//! In-process benchmarks of the core, for the moments a user feels: capture, inventory, rules,
//! ticket composition and submission. Run with `cargo bench -p helpdesk-core --bench core`
//! (add `-- capture/` to run one group); the whole-app figures (hotkey to form, idle cost,
//! sizes) and the summary table come from `src-tauri/scripts/bench.sh`, which also runs these.
//!
//! With `DISPLAY` set, the capture group also times the real grab of every monitor (xcap); the
//! benchmark id names the monitor layout it saw, e.g. `capture/xcap_grab/2x1920x1080`.
//!
//! No figure here is asserted: this is a report, compared with the targets by `bench.sh`.

mod capture;
mod inventory;
mod rules;
mod submit;
mod ticket;

use std::process::ExitCode;

use criterion::{criterion_group, Criterion};

criterion_group!(
    benches,
    capture::bench,
    inventory::bench,
    rules::bench,
    ticket::bench,
    submit::bench
);

fn main() -> ExitCode {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ExitCode::SUCCESS
}
