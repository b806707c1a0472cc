//! `helpdesk-button-rules`: the dispatcher-rules evaluator the app runs as a child process.
//!
//! Run as `helpdesk-button-rules __evaluate-rules`, it checks or evaluates one script
//! (`helpdesk_core::rules::child_main`). It links no GUI libraries: the app binary loads about 170
//! shared libraries (GTK, WebKit) before `main`, which cost ~60 ms per evaluation; this one starts
//! in a few. The interpreter lives only here: the app checks syntax through it too, which keeps
//! about 4 MB out of the app's binary. Installed next to the app, which finds it there.

/// Counts allocations so the evaluator can enforce the rules' memory limit.
#[global_allocator]
static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;

fn main() -> std::process::ExitCode {
    helpdesk_core::rules::child_main()
}
