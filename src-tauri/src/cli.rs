//! The command line: `inventory`, `capture`, `settings`, `submit`, `sandbox`. Each subcommand is
//! a thin wrapper over a core function, printing plain text or `--json`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use helpdesk_core::capture::{self, XcapSource};
use helpdesk_core::clock::SystemClock;
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, DeliveryResult, Outbox, Submitted};
use helpdesk_core::paths::AppPaths;
use helpdesk_core::sandbox::{Behaviour, ContactSearch, Sandbox, SandboxConfig};
use helpdesk_core::secrets::{ApiKey, KeyVault, OsKeychain};
use helpdesk_core::settings::{ScreenshotMode, Settings};
use helpdesk_core::submit::{self, Submission};
use helpdesk_core::{admin, inventory, values};

/// Helpdesk Button: report an IT problem with screenshots and machine facts, filed in Atera.
#[derive(Debug, Parser)]
#[command(name = "helpdesk-button", version = crate::APP_VERSION)]
pub struct Cli {
    /// Use this directory for settings, drafts and the key fallback (also HELPDESK_BUTTON_CONFIG_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Open the ticket form right away.
    #[arg(long)]
    pub new_ticket: bool,
    /// Open the admin settings window right away.
    #[arg(long)]
    pub settings: bool,
    /// Open the My tickets window right away.
    #[arg(long)]
    pub my_tickets: bool,
    /// Check for updates now (in the running instance, if there is one).
    #[arg(long)]
    pub check_updates: bool,
    /// Internal: started by an update; waits for the old process (this pid) to exit.
    #[arg(long, hide = true, value_name = "PID")]
    pub after_update: Option<String>,
    /// A `helpdesk-button://new` link: opens the form (in the running instance, if there is one).
    pub link: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print this machine's inventory.
    Inventory {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Capture every monitor and write one PNG per monitor.
    Capture {
        /// Where to write the images.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Show or change settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// File a ticket, the same way the form does.
    Submit(SubmitArgs),
    /// The tickets saved on this PC that wait to be sent.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Check and try out dispatcher rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Run the local Atera sandbox (a strict stand-in for Atera's API) for demos and tests.
    Sandbox {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// The API key the sandbox accepts.
        #[arg(long, default_value = "sandbox-key")]
        api_key: String,
        /// Play Atera at its least helpful: new tickets stay out of the lists for 30 s, lists
        /// come in no useful order, and 500 tickets of other customers (one quoting another
        /// ticket's reference) share the account.
        #[arg(long)]
        unfriendly: bool,
        /// Answer in the shapes live tenants send (null fields left out, mixed timestamps,
        /// EndUserID 0 on technician comments, 201 without a body, 409 for a taken e-mail) and
        /// honour only `searchOptions.email` in contact searches.
        #[arg(long)]
        live_tenant: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Syntax and lint: exit 0 (maybe with warnings) or 1, with FILE:LINE:COL for each finding.
    Check { file: PathBuf },
    /// Run rules on a JSON input and print every variable's final value as JSON.
    Test {
        #[arg(long)]
        rules: PathBuf,
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List saved submissions: waiting, sent and failed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send every waiting ticket now, failed ones included.
    Flush,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Set one setting by its dotted name, e.g. `atera.endpoint app.atera.com`.
    Set { key: String, value: String },
    /// Read the Atera API key from standard input and store it in the OS keychain.
    SetApiKey,
    /// Print the settings (the key is masked).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Print the effective settings as TOML (policy applied; never the key), for `import`
    /// on another machine.
    Export,
    /// Replace this machine's settings with a file written by `export` (locked keys stay as the
    /// policy sets them).
    Import { file: PathBuf },
    /// Install dispatcher rules (refused with a syntax error).
    SetRules { file: PathBuf },
    /// Read a password from standard input and print its argon2 hash, for the policy file's
    /// `admin_password_hash`.
    HashPassword,
    /// Check the Atera connection step by step: endpoint, key, this computer's customer, the
    /// contact a test email gets; with --send, file a clearly marked test ticket.
    Test {
        /// The email to look up (and to file the test ticket for). Default: the fallback
        /// contact, else the last requester on this PC.
        #[arg(long)]
        email: Option<String>,
        /// File a test ticket.
        #[arg(long)]
        send: bool,
    },
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    message: String,
    #[arg(long)]
    subject: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    /// A selection label (checkbox or radio option); repeat for several.
    #[arg(long = "selection", value_name = "LABEL")]
    selections: Vec<String>,
    /// Low, Medium, High, Critical (or a legacy name such as Urgent).
    #[arg(long)]
    priority: Option<String>,
    /// Incident, Problem, Request, Change (or "Service Request").
    #[arg(long = "type")]
    ticket_type: Option<String>,
    /// No Impact, Minor, Major, Site Down, Server Issue, Crisis.
    #[arg(long)]
    impact: Option<String>,
    /// Do not capture or attach screenshots.
    #[arg(long)]
    no_screenshots: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit code for input the user must fix.
const EXIT_INPUT: u8 = 2;
/// Exit code for a failure talking to Atera or the machine.
const EXIT_FAILURE: u8 = 1;

/// Runs one subcommand.
pub fn run(command: Command, config_dir: Option<&Path>) -> ExitCode {
    let paths = match AppPaths::resolve(config_dir) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_INPUT, &e.to_string()),
    };
    match command {
        Command::Inventory { json } => {
            let inv = inventory::collect(crate::APP_VERSION, Duration::from_millis(250));
            if json {
                println!("{}", serde_json::to_string_pretty(&inv).unwrap_or_default());
            } else {
                for section in inv.display_sections() {
                    println!("{}", section.title);
                    for (k, v) in section.rows {
                        println!("  {k:<28} {v}");
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Capture { out } => {
            match capture::capture(&XcapSource, ScreenshotMode::AllMonitors)
                .and_then(|c| capture::write_pngs(&c, &out))
            {
                Ok(files) => {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(
                    EXIT_FAILURE,
                    &format!("{e}. Is a graphical session running (DISPLAY or WAYLAND_DISPLAY)?"),
                ),
            }
        }
        Command::Settings(cmd) => settings_command(cmd, &paths),
        Command::Submit(args) => submit_command(args, &paths),
        Command::Outbox(cmd) => outbox_command(cmd, &paths),
        Command::Rules(RulesCommand::Check { file }) => crate::rules_cli::rules_check(&file),
        Command::Rules(RulesCommand::Test { rules, input }) => {
            crate::rules_cli::rules_test(&rules, &input)
        }
        Command::Sandbox {
            port,
            api_key,
            unfriendly,
            live_tenant,
        } => sandbox_command(port, api_key, unfriendly, live_tenant),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn load_settings(paths: &AppPaths) -> Result<Settings, ExitCode> {
    Settings::load(paths).map_err(|e| fail(EXIT_INPUT, &e.to_string()))
}

/// The admin password for a change: from [`admin::PASSWORD_ENV`], else asked on the terminal
/// (not echoed), else none.
fn admin_password() -> Option<String> {
    if let Some(p) = std::env::var_os(admin::PASSWORD_ENV).filter(|p| !p.is_empty()) {
        return Some(p.to_string_lossy().into_owned());
    }
    // Only a person at a terminal is asked; a script without the variable gets a clear error.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    ask_on_terminal("Admin password: ")
}

#[cfg(unix)]
fn ask_on_terminal(prompt: &str) -> Option<String> {
    use std::io::{BufRead as _, Write as _};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(
                tty.try_clone()
                    .ok()
                    .map_or_else(std::process::Stdio::null, Into::into),
            )
            .status()
    };
    let _ = stty("-echo");
    let _ = write!(&tty, "{prompt}");
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = stty("echo");
    let _ = writeln!(&tty);
    read.ok().filter(|n| *n > 0).map(|_| line)
}

#[cfg(not(unix))]
fn ask_on_terminal(_prompt: &str) -> Option<String> {
    None
}

/// Whether this settings command changes something, and the key it changes.
fn change_of(cmd: &SettingsCommand) -> Option<&str> {
    match cmd {
        SettingsCommand::Set { key, .. } => Some(key),
        SettingsCommand::SetApiKey => Some("atera.api_key"),
        SettingsCommand::SetRules { .. } => Some("rules"),
        SettingsCommand::Import { .. } => Some("settings"),
        _ => None,
    }
}

fn settings_command(cmd: SettingsCommand, paths: &AppPaths) -> ExitCode {
    let policy = helpdesk_core::policy::Policy::load_or_lock_down(&paths.policy_file);
    if let Some(key) = change_of(&cmd) {
        // The key is not a setting a policy locks (RMM scripts set it under any policy), but a
        // broken policy stops every change.
        let refusal = match &cmd {
            SettingsCommand::SetApiKey | SettingsCommand::Import { .. } => policy
                .broken
                .is_some()
                .then(|| policy.refusal(key))
                .flatten(),
            _ => policy.refusal(key),
        };
        if let Some(why) = refusal {
            return fail(EXIT_INPUT, &why);
        }
        if let Err(e) = admin::authorize(paths, &policy, admin_password) {
            return fail(EXIT_INPUT, &e.to_string());
        }
    }
    let mut settings = match Settings::load_with(paths, &policy) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_INPUT, &e.to_string()),
    };
    match cmd {
        SettingsCommand::SetRules { file } => crate::rules_cli::set_rules(paths, &file),
        SettingsCommand::Export => {
            print!("{}", toml::to_string_pretty(&settings).unwrap_or_default());
            ExitCode::SUCCESS
        }
        SettingsCommand::Import { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => return fail(EXIT_INPUT, &format!("cannot read {}: {e}", file.display())),
            };
            let imported = match import_settings(&text, &policy) {
                Ok(s) => s,
                Err(e) => {
                    return fail(
                        EXIT_INPUT,
                        &format!("{} is not a valid settings file: {e}", file.display()),
                    )
                }
            };
            match imported.save(paths) {
                Ok(()) => {
                    println!("settings imported from {}", file.display());
                    if !policy.locked.is_empty() {
                        println!(
                            "note: these stay as the policy sets them: {}",
                            policy.locked.join(", ")
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(EXIT_FAILURE, &e.to_string()),
            }
        }
        SettingsCommand::HashPassword => {
            let mut raw = String::new();
            let _ = std::io::stdin().read_to_string(&mut raw);
            match helpdesk_core::admin::hash_password(raw.trim_end_matches(['\r', '\n'])) {
                Ok(hash) => {
                    println!("{hash}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(EXIT_INPUT, &e.to_string()),
            }
        }
        SettingsCommand::Set { key, value } => match settings.set(&key, &value) {
            Ok(notes) => {
                if let Err(e) = settings.save(paths) {
                    return fail(EXIT_FAILURE, &e.to_string());
                }
                for note in notes {
                    println!("note: {note}");
                }
                println!("{key} saved");
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_INPUT, &e.to_string()),
        },
        SettingsCommand::SetApiKey => {
            let mut raw = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut raw) {
                return fail(
                    EXIT_INPUT,
                    &format!("could not read the key from standard input: {e}"),
                );
            }
            let key = match ApiKey::new(&raw) {
                Ok(k) => k,
                Err(e) => return fail(EXIT_INPUT, &e.to_string()),
            };
            match KeyVault::new(&OsKeychain, paths).store(&key) {
                Ok(source) => {
                    println!("API key {} saved ({})", key.masked(), source_label(&source));
                    if let Some(w) = source.warning() {
                        eprintln!("warning: {w}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(EXIT_FAILURE, &e.to_string()),
            }
        }
        SettingsCommand::Test { email, send } => settings_test(&settings, paths, email, send),
        SettingsCommand::Show { json } => {
            let key = KeyVault::new(&OsKeychain, paths).load();
            let (masked, source, warning) = match &key {
                Ok(Some((k, s))) => (Some(k.masked()), Some(source_label(s)), s.warning()),
                Ok(None) => (None, None, None),
                Err(e) => (None, None, Some(e.to_string())),
            };
            if json {
                let value = serde_json::json!({
                    "config_dir": paths.config_dir,
                    "settings": settings,
                    "api_key": { "configured": masked.is_some(), "masked": masked, "source": source, "warning": warning },
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            } else {
                println!("# {}", paths.settings_file().display());
                print!("{}", toml::to_string_pretty(&settings).unwrap_or_default());
                println!();
                match masked {
                    Some(m) => println!("api key: {m} ({})", source.unwrap_or_default()),
                    None => {
                        println!("api key: not set (run `helpdesk-button settings set-api-key`)")
                    }
                }
                if let Some(w) = warning {
                    println!("warning: {w}");
                }
            }
            ExitCode::SUCCESS
        }
    }
}

fn settings_test(
    settings: &Settings,
    paths: &AppPaths,
    email: Option<String>,
    send: bool,
) -> ExitCode {
    use helpdesk_core::check::{run_integration_test, run_relay_check, CheckOptions, StepStatus};
    let print = |step: &helpdesk_core::check::CheckStep| {
        let tag = match step.status {
            StepStatus::Ok => "OK  ",
            StepStatus::Warning => "WARN",
            StepStatus::Failed => "FAIL",
            StepStatus::Skipped => "SKIP",
        };
        println!("{tag}  {}: {}", step.name, step.message);
    };
    if settings.relay.enabled() {
        let credentials = helpdesk_core::secrets::OsKeychainEntry::device_credential(paths);
        let steps = runtime().block_on(run_relay_check(paths, settings, &credentials, print));
        return if steps.iter().any(|s| s.status == StepStatus::Failed) {
            ExitCode::from(EXIT_FAILURE)
        } else {
            ExitCode::SUCCESS
        };
    }
    let client = match submit::connect(paths, settings, &OsKeychain) {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL  Settings: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let test_email = email
        .or_else(|| {
            Some(settings.atera.fallback_contact_email.clone()).filter(|e| !e.trim().is_empty())
        })
        .or_else(|| {
            Some(helpdesk_core::profile::load(paths, None, "").email)
                .filter(|e| !e.trim().is_empty())
        })
        .unwrap_or_default();
    let inventory = inventory::collect(crate::APP_VERSION, Duration::ZERO);
    let options = CheckOptions { test_email, send };
    let steps = runtime().block_on(run_integration_test(
        &client,
        settings,
        &inventory,
        &options,
        crate::APP_VERSION,
        print,
    ));
    if steps.iter().any(|s| s.status == StepStatus::Failed) {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads an exported settings file: migrated, with the policy applied on top, validated.
fn import_settings(text: &str, policy: &helpdesk_core::policy::Policy) -> Result<Settings, String> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    helpdesk_core::settings::migrate(&mut table);
    let defaults = toml::Table::try_from(Settings::default()).map_err(|e| e.to_string())?;
    let merged = policy.apply(defaults, table);
    let settings: Settings = merged
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    settings.validate().map_err(|e| e.to_string())?;
    Ok(settings)
}

fn source_label(source: &helpdesk_core::secrets::KeySource) -> String {
    match source {
        helpdesk_core::secrets::KeySource::Environment => "from the environment".into(),
        helpdesk_core::secrets::KeySource::Keychain => "in the OS keychain".into(),
        helpdesk_core::secrets::KeySource::File { path } => {
            format!("in the fallback file {}", path.display())
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn submit_command(args: SubmitArgs, paths: &AppPaths) -> ExitCode {
    let settings = match load_settings(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Refuse values we cannot map before doing any work, so a typo is fixed, not replaced.
    for (given, ok, field, allowed) in [
        (
            &args.priority,
            args.priority
                .as_deref()
                .map(<values::Priority as values::AteraChoice>::parse)
                .map(|v| v.is_some()),
            "priority",
            "Low, Medium, High, Critical",
        ),
        (
            &args.ticket_type,
            args.ticket_type
                .as_deref()
                .map(<values::TicketType as values::AteraChoice>::parse)
                .map(|v| v.is_some()),
            "type",
            "Incident, Problem, Request, Change",
        ),
        (
            &args.impact,
            args.impact
                .as_deref()
                .map(<values::Impact as values::AteraChoice>::parse)
                .map(|v| v.is_some()),
            "impact",
            "No Impact, Minor, Major, Site Down, Server Issue, Crisis",
        ),
    ] {
        if ok == Some(false) {
            return fail(
                EXIT_INPUT,
                &format!(
                    "--{field} {:?} is not a {field} Atera knows; use one of: {allowed}",
                    given.as_deref().unwrap_or("")
                ),
            );
        }
    }
    let mode = if args.no_screenshots {
        ScreenshotMode::Off
    } else {
        settings.screenshots.mode
    };
    let (capture, inventory) = std::thread::scope(|s| {
        let inv = s.spawn(|| inventory::collect(crate::APP_VERSION, Duration::from_millis(250)));
        let cap = capture::capture(&XcapSource, mode);
        (cap, inv.join().ok())
    });
    let capture = capture.unwrap_or_else(|e| {
        eprintln!("warning: no screenshots attached: {e}");
        Default::default()
    });
    let form = TicketForm {
        name: args.name,
        email: args.email,
        phone: args.phone.unwrap_or_default(),
        subject: args.subject.unwrap_or_default(),
        description: args.message,
        selections: args.selections,
        priority: args.priority.unwrap_or_default(),
        ticket_type: args.ticket_type.unwrap_or_default(),
        impact: args.impact.unwrap_or_default(),
        included_screenshots: capture.screenshots.iter().map(|s| s.id).collect(),
    };
    let outbox = match open_outbox(paths) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let target = runtime().block_on(crate::target(paths, &settings));
    let rules = crate::rules_config(paths);
    let submission = Submission {
        form,
        reference: submit::new_reference(),
        screenshots: &capture.screenshots,
        inventory: inventory.as_ref(),
    };
    let delivery = target.as_ref().map(|t| {
        t.delivery(
            &settings,
            rules.as_ref(),
            crate::APP_VERSION,
            outbox::INTERACTIVE_POLICY,
        )
    });
    let result = runtime().block_on(outbox::submit(
        &outbox,
        &settings,
        submission,
        delivery.as_ref().map_err(|e| *e),
    ));
    match result {
        Ok(Submitted::Sent(outcome)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "outcome": "sent",
                        "ticket_id": Some(outcome.ticket_id).filter(|_| !outcome.held_by_relay),
                        "ticket_number": Some(&outcome.ticket_number).filter(|_| !outcome.held_by_relay),
                        "held_by_relay": outcome.held_by_relay,
                        "reference": outcome.reference,
                        "contact": Some(&outcome.contact).filter(|_| !outcome.held_by_relay),
                        "screenshots_attached": capture.screenshots.len() - outcome.omitted_screenshots,
                    })
                );
            } else if outcome.held_by_relay {
                println!(
                    "Ticket {} handed to the relay, which is filing it in Atera",
                    outcome.reference
                );
            } else {
                println!(
                    "Ticket #{} filed (id {}, reference {})",
                    outcome.ticket_number, outcome.ticket_id, outcome.reference
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Submitted::Queued {
            reference,
            reason,
            detail,
            waits_for_admin,
            confirming,
            ..
        }) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "outcome": "queued", "reference": reference, "reason": reason, "detail": detail, "waits_for_admin": waits_for_admin, "confirming": confirming })
                );
            } else if confirming {
                println!("queued {reference}");
                eprintln!("note: sent, but Atera's answer was lost ({detail}). The ticket is saved; once Atera lists it, it is confirmed by its reference (or sent again if it is not there) by the running app or `helpdesk-button outbox flush`.");
            } else {
                println!("queued {reference}");
                eprintln!("note: not sent yet: {detail}. The ticket is saved and will be sent by the running app or `helpdesk-button outbox flush`.");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "outcome": "error", "kind": e.kind(), "message": e.to_string(), "fields": e.fields() })
                );
            }
            match e.fields() {
                Some(fields) => {
                    eprintln!("error: fix these and run the command again:");
                    for (field, msg) in &fields.0 {
                        eprintln!(
                            "  --{}: {msg}",
                            if field == "description" {
                                "message"
                            } else {
                                field
                            }
                        );
                    }
                    ExitCode::from(EXIT_INPUT)
                }
                None if e.kind() == "blocked" => fail(EXIT_INPUT, &e.to_string()),
                None => fail(EXIT_FAILURE, &e.to_string()),
            }
        }
    }
}

fn open_outbox(paths: &AppPaths) -> Result<Outbox, ExitCode> {
    Outbox::open(&outbox::outbox_file(&paths.data_dir))
        .map_err(|e| fail(EXIT_FAILURE, &e.to_string()))
}

fn outbox_command(cmd: OutboxCommand, paths: &AppPaths) -> ExitCode {
    let outbox = match open_outbox(paths) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match cmd {
        OutboxCommand::List { json } => {
            let entries = match outbox.list() {
                Ok(e) => e,
                Err(e) => return fail(EXIT_FAILURE, &e.to_string()),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&entries).unwrap_or_default()
                );
            } else if entries.is_empty() {
                println!("The outbox is empty.");
            } else {
                for e in entries {
                    let state = match e.state {
                        outbox::EntryState::Sent => {
                            format!("sent as #{}", e.ticket_number.unwrap_or_default())
                        }
                        outbox::EntryState::Failed => "failed (retry with `outbox flush`)".into(),
                        outbox::EntryState::Pending => {
                            format!("waiting ({} attempts)", e.attempts)
                        }
                        outbox::EntryState::Sending => "confirming with Atera".into(),
                    };
                    println!(
                        "{}  {}  {:<28}  {}",
                        e.reference, e.created_at, state, e.subject
                    );
                    if let Some(err) = e.last_error.filter(|_| e.state != outbox::EntryState::Sent)
                    {
                        println!("    last error: {err}");
                    }
                }
            }
            ExitCode::SUCCESS
        }
        OutboxCommand::Flush => {
            let settings = match load_settings(paths) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let target = match runtime().block_on(crate::target(paths, &settings)) {
                Ok(t) => t,
                Err(e) => return fail(EXIT_FAILURE, &e.to_string()),
            };
            let rules = crate::rules_config(paths);
            let delivery = target.delivery(
                &settings,
                rules.as_ref(),
                crate::APP_VERSION,
                outbox::INTERACTIVE_POLICY,
            );
            if let Ok(Some(until)) = outbox.paused_until() {
                println!(
                    "Atera asked us to wait: nothing is sent for another {} s.",
                    until - outbox.now()
                );
            }
            let results = runtime().block_on(outbox.deliver_due(&delivery, true));
            let results = match results {
                Ok(r) => r,
                Err(e) => return fail(EXIT_FAILURE, &e.to_string()),
            };
            let mut unsent = 0;
            for r in &results {
                match r {
                    DeliveryResult::Sent { reference, outcome } if outcome.held_by_relay => {
                        println!("sent {reference} to the relay")
                    }
                    DeliveryResult::Sent { reference, outcome } => {
                        println!("sent {reference} as ticket #{}", outcome.ticket_number)
                    }
                    DeliveryResult::Retrying {
                        reference, error, ..
                    }
                    | DeliveryResult::Failed { reference, error } => {
                        unsent += 1;
                        println!("not sent {reference}: {error}");
                    }
                    DeliveryResult::Confirming {
                        reference,
                        check_at,
                        ..
                    } => {
                        unsent += 1;
                        println!(
                            "confirming {reference}: Atera's answer was lost; it is looked for by its reference in {} s before anything is sent again",
                            (check_at - outbox.now()).max(0)
                        );
                    }
                    DeliveryResult::Blocked { reference, reason } => {
                        unsent += 1;
                        println!("not sent {reference}: the dispatcher rules stopped it: {reason}");
                    }
                    DeliveryResult::Elsewhere { reference } => {
                        unsent += 1;
                        println!("sending {reference}: another delivery of it is in progress");
                    }
                }
            }
            if results.is_empty() {
                println!("Nothing to send.");
            }
            // Entries whose lost answer is still being confirmed were not due yet.
            let waiting = outbox.unsent_count().unwrap_or(0);
            if unsent == 0 && waiting > 0 {
                println!("{waiting} not sent yet: waiting for their time (a backoff, a rate limit, or Atera's lists catching up after a lost answer); run `outbox list` for details.");
            }
            if unsent > 0 || waiting > 0 {
                ExitCode::from(EXIT_FAILURE)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// `count` tickets of other customers, the way a busy MSP account holds them; one quotes a
/// Helpdesk Button reference in its text (a forwarded mail), which must never be adopted.
fn add_other_customers_tickets(sandbox: &Sandbox, count: usize) {
    let mut requesters = Vec::new();
    for n in 0..10 {
        let customer = sandbox.add_customer(&format!("Other Customer {n}"));
        requesters.push(sandbox.add_contact(
            customer,
            "Sam",
            &format!("Other{n}"),
            &format!("sam{n}@other-{n}.example"),
        ));
    }
    for n in 0..count {
        let requester = requesters[n % requesters.len()];
        let description = if n == 0 {
            "FW: Helpdesk Button ref HB-20260101-QUOTED (see the ticket below)".to_string()
        } else {
            format!("<p>Ticket {n} from e-mail.</p>")
        };
        sandbox.add_ticket(requester, &format!("E-mail request {n}"), &description);
    }
}

fn sandbox_command(port: u16, api_key: String, unfriendly: bool, live_tenant: bool) -> ExitCode {
    runtime().block_on(async move {
        let mut behaviour = if unfriendly {
            Behaviour::unfriendly(std::sync::Arc::new(SystemClock))
        } else {
            Behaviour::default()
        };
        if live_tenant {
            behaviour.live_tenant = true;
            behaviour.contact_search = ContactSearch::SearchOptions;
        }
        let config = SandboxConfig {
            api_keys: vec![api_key],
            behaviour,
            ..SandboxConfig::default()
        };
        let sandbox = match Sandbox::start(config, ([127, 0, 0, 1], port).into()).await {
            Ok(s) => s,
            Err(e) => return fail(EXIT_FAILURE, &e.to_string()),
        };
        // Make this machine known, so the "new contact under the machine's customer" path works.
        let hostname = inventory::collect(crate::APP_VERSION, Duration::ZERO).hostname;
        let customer = sandbox.add_customer("Demo Customer Ltd");
        sandbox.add_agent(customer, &hostname, None, "2026-01-01T00:00:00Z");
        sandbox.add_contact(customer, "Ada", "Lovelace", "ada@demo-customer.example");
        if unfriendly {
            add_other_customers_tickets(&sandbox, 500);
        }
        // One write, and a reader that stopped listening (a script waiting for the first line)
        // is not fatal: the sandbox keeps serving.
        let banner = format!(
            "Atera sandbox listening on http://{addr}\n  endpoint setting: {}   API key: (the one given with --api-key)\n  received tickets: http://{addr}/\n",
            sandbox.endpoint(),
            addr = sandbox.addr()
        );
        let mut stdout = std::io::stdout();
        let _ = std::io::Write::write_all(&mut stdout, banner.as_bytes()).and_then(|()| std::io::Write::flush(&mut stdout));
        let _ = tokio::signal::ctrl_c().await;
        sandbox.shutdown().await;
        ExitCode::SUCCESS
    })
}
