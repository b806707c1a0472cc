//! `helpdesk-relay`: the MSP's own relay. It holds the Atera key, enrolls PCs, takes their tickets
//! over a small API and files them in Atera exactly once (README, "Running the relay").
//!
//! It links no GUI libraries: it is the core crate and a command line.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use helpdesk_core::clock::rfc3339;
use helpdesk_core::relay::{self, RelayConfig};

/// Counts allocations so the rules evaluator (this binary, re-run) can enforce its memory limit.
#[global_allocator]
static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;

const CONFIG_ENV: &str = "HELPDESK_RELAY_CONFIG";
const DEFAULT_CONFIG: &str = "/etc/helpdesk-relay/relay.toml";

#[derive(Parser)]
#[command(
    name = "helpdesk-relay",
    version,
    about = "The Helpdesk Button relay: holds the Atera key so PCs never do"
)]
struct Cli {
    /// The configuration file (default: $HELPDESK_RELAY_CONFIG, else /etc/helpdesk-relay/relay.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the device API and file tickets in Atera.
    Serve,
    /// Enrollment tokens.
    Enroll {
        #[command(subcommand)]
        command: EnrollCommand,
    },
    /// Enrolled devices.
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
    /// The audit log: which device filed which reference when (never ticket text or keys).
    Audit {
        #[arg(long)]
        json: bool,
    },
    /// The MSP's admins: their tokens let the app's admin window edit and test the rules here.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The relay's Atera key.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand)]
enum EnrollCommand {
    /// Print a new enrollment token for one customer; put it in that customer's machine policy.
    Create {
        /// The Atera customer ID the enrolled PCs belong to.
        #[arg(long)]
        customer: i64,
        /// The customer's name, for lists and tickets (default: read from Atera).
        #[arg(long)]
        customer_name: Option<String>,
        /// How long the token enrolls PCs: 30m, 12h, 7d (default 7d).
        #[arg(long, default_value = "7d")]
        expires: String,
        /// How many PCs it may enroll.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// Every enrolled device.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse a device from now on.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        device_id: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print a new admin token; paste it into the admin window's Rules section (relay mode).
    Create {
        /// Who the token is for (shown in the audit log and as "saved by").
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Every admin token.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse an admin token from now on.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        admin_id: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Store the Atera key (read from standard input) in the relay user's keychain.
    Set,
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(helpdesk_core::rules::CHILD_MODE_ARG) {
        return helpdesk_core::rules::child_main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HELPDESK_RELAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config_path = cli
        .config
        .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    match run(cli.command, &config_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("helpdesk-relay: {message}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the async runtime cannot start: {e}"))
}

fn open(config: &RelayConfig) -> Result<std::sync::Arc<relay::RelayState>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    relay::open(config, exe)
}

fn now() -> i64 {
    helpdesk_core::clock::Clock::now(&helpdesk_core::clock::SystemClock)
}

fn run(command: Command, config_path: &std::path::Path) -> Result<(), String> {
    if let Command::Key {
        command: KeyCommand::Set,
    } = command
    {
        use helpdesk_core::secrets::Keychain as _;
        let mut raw = String::new();
        std::io::stdin()
            .read_to_string(&mut raw)
            .map_err(|e| format!("standard input: {e}"))?;
        let key = helpdesk_core::secrets::ApiKey::new(&raw).map_err(|e| e.to_string())?;
        helpdesk_core::secrets::OsKeychainEntry(relay::config::RELAY_KEYCHAIN_USER.into())
            .set(key.expose())
            .map_err(|e| {
                format!(
                    "the keychain refused the key ({e}); use atera.key_file or {} instead",
                    relay::config::RELAY_KEY_ENV
                )
            })?;
        println!(
            "The Atera key is stored in this user's keychain ({}).",
            key.masked()
        );
        return Ok(());
    }
    let config = RelayConfig::load(config_path).map_err(|e| match e {
        relay::config::ConfigError::Read { .. } => format!(
            "{e}. Give the configuration with --config PATH (or {CONFIG_ENV}); relay.example.toml (src/relay/deploy/) is a starting point"
        ),
        other => other.to_string(),
    })?;
    match command {
        Command::Serve => serve(&config),
        Command::Enroll {
            command:
                EnrollCommand::Create {
                    customer,
                    customer_name,
                    expires,
                    uses,
                    json,
                },
        } => {
            if customer <= 0 {
                return Err("--customer takes the Atera customer ID, a number above 0".into());
            }
            if uses == 0 {
                return Err("--uses must be at least 1".into());
            }
            let lifetime = parse_lifetime(&expires)?;
            let state = open(&config)?;
            let name = match customer_name.filter(|n| !n.trim().is_empty()) {
                Some(name) => name.trim().to_string(),
                None => runtime()?
                    .block_on(state.atera.customer(customer))
                    .map_err(|e| format!("customer {customer} could not be read from Atera ({e}); check the ID, or give --customer-name"))?
                    .customer_name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| format!("customer #{customer}")),
            };
            let issued = state
                .store
                .create_token(customer, &name, now(), now() + lifetime, uses)
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&issued);
            } else {
                println!("{}", issued.token);
                eprintln!(
                    "Enrolls {uses} PC(s) of {name} (customer {customer}) until {}. Put it in that customer's machine policy:\n  [settings.relay]\n  url = \"https://your-relay.example/\"\n  enrollment_token = \"{}\"",
                    rfc3339(issued.expires_at),
                    issued.token
                );
            }
            Ok(())
        }
        Command::Devices { command } => {
            let store = relay::open_store(&config)?;
            match command {
                DevicesCommand::List { json } => {
                    let devices = store.devices().map_err(|e| e.to_string())?;
                    if json {
                        print_json(&devices);
                    } else if devices.is_empty() {
                        println!("No devices are enrolled. Create a token with `helpdesk-relay enroll create --customer ID`.");
                    } else {
                        println!(
                            "{:<14} {:<24} {:<28} {:<22} STATE",
                            "DEVICE", "HOSTNAME", "CUSTOMER", "LAST SEEN"
                        );
                        for d in devices {
                            let state = match d.revoked_at {
                                Some(at) => format!("revoked {}", rfc3339(at)),
                                None => "active".into(),
                            };
                            println!(
                                "{:<14} {:<24} {:<28} {:<22} {state}",
                                d.identity.device_id,
                                d.identity.hostname,
                                format!(
                                    "{} ({})",
                                    d.identity.customer_name, d.identity.customer_id
                                ),
                                rfc3339(d.last_seen_at),
                            );
                        }
                    }
                    Ok(())
                }
                DevicesCommand::Revoke { device_id } => {
                    if store.revoke(&device_id, now()).map_err(|e| e.to_string())? {
                        println!(
                            "Device {device_id} is revoked: its requests are refused from now on."
                        );
                        Ok(())
                    } else {
                        Err(format!("there is no device {device_id}; `helpdesk-relay devices list` shows them"))
                    }
                }
            }
        }
        Command::Audit { json } => {
            let store = relay::open_store(&config)?;
            let log = store.audit_log().map_err(|e| e.to_string())?;
            if json {
                print_json(&log);
            } else {
                for e in log {
                    println!(
                        "{} {:<14} {:<14} {:<22} {}",
                        rfc3339(e.at),
                        e.event,
                        e.device_id.unwrap_or_default(),
                        e.reference.unwrap_or_default(),
                        e.detail.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        Command::Admin { command } => admin(&relay::open_store(&config)?, command),
        Command::Key { .. } => Ok(()),
    }
}

/// `--json` output.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn admin(store: &relay::store::Store, command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Create { name, json } => {
            let issued = store.create_admin(&name, now()).map_err(|e| match e {
                relay::store::StoreError::Refused(_) => format!(
                    "--name takes who the token is for: 1 to {} characters",
                    relay::store::MAX_ADMIN_NAME_CHARS
                ),
                other => other.to_string(),
            })?;
            if json {
                print_json(&issued);
            } else {
                println!("{}", issued.token);
                eprintln!(
                    "An admin token for {} (admin {}). In the app's admin window (relay mode), open Rules and paste it to edit and test the relay's rules. It is shown only now; `helpdesk-relay admin revoke {}` withdraws it.",
                    issued.name, issued.id, issued.id
                );
            }
            Ok(())
        }
        AdminCommand::List { json } => {
            let admins = store.admins().map_err(|e| e.to_string())?;
            if json {
                print_json(&admins);
            } else if admins.is_empty() {
                println!(
                    "No admin tokens. Create one with `helpdesk-relay admin create --name NAME`."
                );
            } else {
                println!("{:<18} {:<28} {:<22} STATE", "ADMIN", "NAME", "LAST SEEN");
                for a in admins {
                    let state = match a.revoked_at {
                        Some(at) => format!("revoked {}", rfc3339(at)),
                        None => "active".into(),
                    };
                    println!(
                        "{:<18} {:<28} {:<22} {state}",
                        a.identity.admin_id,
                        a.identity.name,
                        rfc3339(a.last_seen_at)
                    );
                }
            }
            Ok(())
        }
        AdminCommand::Revoke { admin_id } => {
            if store
                .revoke_admin(&admin_id, now())
                .map_err(|e| e.to_string())?
            {
                println!(
                    "Admin token {admin_id} is revoked: its requests are refused from now on."
                );
                Ok(())
            } else {
                Err(format!(
                    "there is no admin {admin_id}; `helpdesk-relay admin list` shows them"
                ))
            }
        }
    }
}

fn serve(config: &RelayConfig) -> Result<(), String> {
    let state = open(config)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shutdown = async {
            stop_signal().await;
            tracing::info!("stopping");
        };
        match &config.tls {
            Some(tls) => {
                let acceptor = relay::tls::acceptor(&tls.cert, &tls.key)?;
                // The line scripts and tests wait for.
                println!("helpdesk-relay listening on https://{addr}/");
                relay::server::serve_tls(state, listener, acceptor, shutdown)
                    .await
                    .map_err(|e| e.to_string())
            }
            None => {
                println!("helpdesk-relay listening on http://{addr}/");
                relay::server::serve(state, listener, shutdown)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    })
}

/// Ctrl-C, or (on Unix) SIGTERM from systemd.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn parse_lifetime(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = number.parse().map_err(|_| {
        format!("--expires {text:?}: give a number and a unit, like 30m, 12h or 7d")
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        _ => return Err(format!("--expires {text:?}: the unit is m, h or d")),
    };
    if n <= 0 || n > 365 {
        return Err(format!("--expires {text:?}: from 1 to 365 of its unit"));
    }
    Ok(n * seconds)
}
