//! `helpdesk-button`: with no subcommand it runs the tray app; with one it is the CLI that RMM
//! scripts and tests use. Both call the same core functions.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

use std::process::ExitCode;

use clap::Parser;

/// Counts allocations so the rule-evaluation child can enforce its memory limit; inert until
/// that child mode arms it.
#[global_allocator]
static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;

fn main() -> ExitCode {
    // The dispatcher rules run in a child copy of this program, isolated from the app.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == helpdesk_core::rules::CHILD_MODE_ARG)
    {
        return helpdesk_core::rules::child_main();
    }
    let cli = helpdesk_button::cli::Cli::parse();
    helpdesk_button::init_logging(if cli.command.is_some() {
        "error"
    } else {
        "info,tao=warn,wry=warn"
    });
    match cli.command {
        Some(command) => helpdesk_button::cli::run(command, cli.config_dir.as_deref()),
        None => {
            let open_form = cli.new_ticket
                || cli
                    .link
                    .as_deref()
                    .is_some_and(helpdesk_button::is_new_ticket_link);
            if let Some(link) = cli
                .link
                .as_deref()
                .filter(|l| !helpdesk_button::is_new_ticket_link(l))
            {
                eprintln!("helpdesk-button: ignoring unknown argument {link:?} (did you mean helpdesk-button://new?)");
            }
            helpdesk_button::run_gui(cli.config_dir, open_form, cli.settings, cli.my_tickets)
        }
    }
}
