//! `helpdesk-button`: with no subcommand it runs the tray app; with one it is the CLI that RMM
//! scripts and tests use. Both call the same core functions.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The dispatcher rules run in `helpdesk-button-rules` (src/bin), not in this program.
    let cli = helpdesk_button::cli::Cli::parse();
    if let Some(pid) = cli.after_update.as_deref() {
        helpdesk_button::updates::wait_for_previous(pid);
    }
    helpdesk_button::init_logging(if cli.command.is_some() {
        "error"
    } else {
        "info,tao=warn,wry=warn"
    });
    match cli.command {
        Some(command) => helpdesk_button::cli::run(command, cli.config_dir.as_deref()),
        None => {
            // Before any thread starts: the mappings the idle trim may give back, and an
            // allocator that returns the frames of a closed form.
            helpdesk_core::memory::record_startup_mappings();
            helpdesk_core::memory::tune_allocator();
            // Software rendering, no OpenGL: a tray app and a small form do not need the GPU,
            // and probing OpenGL loads Mesa and LLVM (~26 MB in the app, as much again in the
            // page's process; README, Performance). WebKit's compositing goes with it, because
            // WebKit cannot composite without GTK's OpenGL. Either variable set by the user or
            // the MSP wins.
            #[cfg(target_os = "linux")]
            if std::env::var_os("GDK_GL").is_none()
                && std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none()
            {
                std::env::set_var("GDK_GL", "disable");
                std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
            }
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
            helpdesk_button::run_gui(
                cli.config_dir,
                open_form,
                cli.settings,
                cli.my_tickets,
                cli.check_updates,
            )
        }
    }
}
