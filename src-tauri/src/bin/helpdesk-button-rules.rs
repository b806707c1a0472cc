//! `helpdesk-button-rules`: the dispatcher-rules evaluator the app runs as a child process.
//!
//! It is the same code as the app's own rule mode (`helpdesk-button __evaluate-rules`), in a
//! binary that links no GUI libraries: the app binary loads about 170 shared libraries (GTK,
//! WebKit) before `main`, which cost ~60 ms per evaluation; this one starts in a few. The app
//! uses it when it is installed next to the app, and falls back to its own rule mode otherwise.

/// Counts allocations so the evaluator can enforce the rules' memory limit.
#[global_allocator]
static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;

fn main() -> std::process::ExitCode {
    helpdesk_core::rules::child_main()
}
