//! Running the rules in a child process: `helpdesk-button-rules` (or any program whose `main`
//! calls [`child_main`]) run with [`CHILD_MODE_ARG`].
//!
//! Protocol: the parent writes one JSON request `{script, input, limits, check}` to the child's
//! stdin and closes it; the child prints the [`RuleOutcome`] as one line of JSON and exits 0.
//! With `check` set it only compiles the script ([`check_in_child`]) and prints the result of
//! [`super::check`] instead: the app keeps the interpreter out of its own binary. The
//! parent reads the last non-empty line of stdout, so a banner printed before it does no harm.
//! A child that outlives `limits.time` + [`CHILD_TIME_MARGIN`] is killed; one that dies (memory
//! ceiling, abort, signal, panic) becomes a [`DiagnosticKind::Limit`] outcome.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::engine::{failed_outcome, memory_limit_text, time_limit_text};
use super::{
    evaluate_in_process, DiagnosticKind, RuleDiagnostic, RuleInput, RuleLimits, RuleOutcome,
};

/// The first argument that makes the evaluator read one request from stdin ([`child_main`]).
pub const CHILD_MODE_ARG: &str = "__evaluate-rules";

/// Time the child gets beyond `limits.time` for starting and compiling before it is killed.
pub const CHILD_TIME_MARGIN: Duration = Duration::from_millis(500);

/// How long a syntax check may take, start of the evaluator included: generous, because nothing
/// of the script runs and a busy machine must not turn a good script into a refused one.
const CHECK_TIME: Duration = Duration::from_secs(10);

/// The most the parent reads from the child's stdout and stderr.
const MAX_CHILD_OUTPUT: u64 = 16 * 1024 * 1024;
const MAX_CHILD_STDERR: u64 = 64 * 1024;
/// How long the parent waits for the child's output once the child has exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// Exit code of a child whose request was unreadable.
const EXIT_BAD_REQUEST: u8 = 2;
/// Exit code of a child that stopped itself because the parent did not kill it in time.
const EXIT_WATCHDOG: i32 = 3;
/// Exit code of a Rust panic.
const EXIT_PANIC: i32 = 101;

/// Why [`evaluate`] could not produce an outcome. A rule that misbehaves is not an error: it
/// yields an outcome with `error` set.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("could not start the rules evaluator {program}: {source}. It is installed next to the app; reinstall Helpdesk Button if it is missing")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("could not talk to the rules evaluator: {0}")]
    Pipe(#[source] std::io::Error),
    #[error("the rules evaluator exited with {status} without an answer: {stderr}")]
    NoAnswer { status: ExitStatus, stderr: String },
    #[error("the rules evaluator gave an unreadable answer ({source}): {stderr}")]
    BadAnswer {
        source: serde_json::Error,
        stderr: String,
    },
}

#[derive(Serialize)]
struct RequestRef<'a> {
    script: &'a str,
    input: &'a RuleInput,
    limits: &'a RuleLimits,
    check: bool,
}

#[derive(Deserialize)]
struct Request {
    script: String,
    input: RuleInput,
    limits: RuleLimits,
    /// Only the syntax check: the answer is a [`CheckAnswer`].
    #[serde(default)]
    check: bool,
}

/// What [`super::check`] returns: the warnings, or the first syntax error.
pub type CheckAnswer = Result<Vec<RuleDiagnostic>, RuleDiagnostic>;

/// How a child run ended.
enum Ended {
    /// Exited 0: the last non-empty line of its stdout, and its stderr.
    Answered { line: String, stderr: String },
    /// Killed, or died on a limit or a crash: why, for the user.
    Stopped(String),
}

/// Evaluates the rules in a child process: `exe __evaluate-rules`.
///
/// # Errors
/// The child could not be started, or exited normally without a readable answer (for example,
/// `exe` does not know the child mode).
pub fn evaluate(
    exe: &Path,
    script: &str,
    input: &RuleInput,
    limits: &RuleLimits,
) -> Result<RuleOutcome, RulesError> {
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_MODE_ARG);
    evaluate_with_command(cmd, script, input, limits)
}

/// [`evaluate`] with a caller-built command (tests run the test binary itself as the child).
/// Its stdin, stdout and stderr are replaced by pipes.
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_with_command(
    cmd: Command,
    script: &str,
    input: &RuleInput,
    limits: &RuleLimits,
) -> Result<RuleOutcome, RulesError> {
    match run_child(cmd, script, input, limits, false)? {
        Ended::Answered { line, stderr } => parse_answer(&line, stderr),
        Ended::Stopped(text) => Ok(limit_outcome(input, text)),
    }
}

/// The syntax check ([`super::check`]) in a child process: `exe __evaluate-rules`, so that the
/// caller need not contain the interpreter. Nothing of the script runs; the check may take up to
/// 10 s.
///
/// # Errors
/// As [`evaluate`].
pub fn check_in_child(exe: &Path, script: &str) -> Result<CheckAnswer, RulesError> {
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_MODE_ARG);
    check_with_command(cmd, script)
}

/// [`check_in_child`] with a caller-built command, as [`evaluate_with_command`].
///
/// # Errors
/// As [`evaluate`].
pub fn check_with_command(cmd: Command, script: &str) -> Result<CheckAnswer, RulesError> {
    let input = RuleInput::default();
    let limits = RuleLimits {
        time: CHECK_TIME,
        ..RuleLimits::default()
    };
    match run_child(cmd, script, &input, &limits, true)? {
        Ended::Answered { line, stderr } => parse_answer(&line, stderr),
        Ended::Stopped(message) => Ok(Err(RuleDiagnostic {
            line: 0,
            column: 0,
            message,
            kind: DiagnosticKind::Limit,
        })),
    }
}

fn parse_answer<T: serde::de::DeserializeOwned>(
    line: &str,
    stderr: String,
) -> Result<T, RulesError> {
    serde_json::from_str(line).map_err(|source| RulesError::BadAnswer { source, stderr })
}

/// Runs one request in the child and says how it ended.
fn run_child(
    mut cmd: Command,
    script: &str,
    input: &RuleInput,
    limits: &RuleLimits,
    check: bool,
) -> Result<Ended, RulesError> {
    let request = serde_json::to_vec(&RequestRef {
        script,
        input,
        limits,
        check,
    })
    .map_err(|e| RulesError::Pipe(e.into()))?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        cmd.creation_flags(CREATE_NO_WINDOW);
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|source| RulesError::Spawn { program, source })?;
    // Windows: the OS backstop (memory, CPU, no child processes, gone with the parent). The
    // interpreter itself needs room beyond the script's allowance. Without it the child's own
    // allocator limit and the deadline below still hold.
    #[cfg(windows)]
    let _job = super::job::confine(
        &child,
        limits
            .memory_bytes
            .saturating_mul(2)
            .saturating_add(128 << 20),
        limits.time + CHILD_TIME_MARGIN,
    )
    .inspect_err(|e| tracing::warn!(error = %e, "the rules child could not be put in a job object"))
    .ok();
    let stdin = child.stdin.take();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        if let Some(mut stdin) = stdin {
            stdin.write_all(&request)?;
        }
        Ok(())
    });
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    let stdout = child
        .stdout
        .take()
        .map(|s| read_all(s, MAX_CHILD_OUTPUT, Some(closed_tx)));
    let stderr = child
        .stderr
        .take()
        .map(|s| read_all(s, MAX_CHILD_STDERR, None));

    let deadline = started + limits.time + CHILD_TIME_MARGIN;
    // Block until the child's output closes (it answered and exits) or the deadline: no polling
    // delay on the way to the answer.
    let _ = closed_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    let mut pause = Duration::from_millis(1);
    let (status, killed) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (Some(status), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                break (child.wait().ok(), true);
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RulesError::Pipe(e));
            }
        }
    };
    // The pipes close when the child is gone, unless something it started still holds them:
    // wait a little for the rest of the output, never for that.
    let grace = Instant::now() + if killed { Duration::ZERO } else { OUTPUT_GRACE };
    let _ = join_by(writer, grace); // fails if the child exited without reading; its status tells why
    let stdout = stdout.and_then(|h| join_by(h, grace)).unwrap_or_default();
    let stderr = stderr.and_then(|h| join_by(h, grace)).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        killed,
        "rules evaluated in a child process"
    );

    if killed {
        return Ok(Ended::Stopped(time_limit_text(limits)));
    }
    let Some(status) = status else {
        return Ok(Ended::Stopped(
            "The rules evaluator stopped unexpectedly".to_owned(),
        ));
    };
    if status.success() {
        let text = String::from_utf8_lossy(&stdout);
        let line = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned();
        return Ok(Ended::Answered { line, stderr });
    }
    // A Rust panic: exit 101, or (built with panic = "abort") death by a signal or a failure
    // status after the panic message.
    let died = status.code().is_none_or(|c| c < 0);
    if status.code() == Some(EXIT_PANIC) || (died && stderr.contains("panicked at")) {
        tracing::warn!(stderr = %stderr, "the rules evaluator panicked");
        return Ok(Ended::Stopped(
            "The rules stopped the evaluator (an internal error in the rules engine)".to_owned(),
        ));
    }
    match status.code() {
        Some(monty_types::OOM_EXIT_CODE) => Ok(Ended::Stopped(memory_limit_text(limits))),
        Some(EXIT_WATCHDOG) => Ok(Ended::Stopped(time_limit_text(limits))),
        // A signal (Unix), or an NTSTATUS failure such as a stack overflow (Windows).
        None | Some(i32::MIN..=-1) => Ok(Ended::Stopped(format!(
            "The rules used too much memory or time and the evaluator was stopped ({})",
            describe(status)
        ))),
        Some(_) => Err(RulesError::NoAnswer { status, stderr }),
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    status.to_string()
}

/// The thread's result if it finishes by `deadline`; otherwise it is left to end on its own.
fn join_by<T>(handle: thread::JoinHandle<T>, deadline: Instant) -> Option<T> {
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
    handle.join().ok()
}

fn read_all<R: Read + Send + 'static>(
    reader: R,
    max: u64,
    on_limit_or_end: Option<std::sync::mpsc::Sender<()>>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut limited = reader.take(max);
        let _ = limited.read_to_end(&mut buf);
        if let Some(tx) = on_limit_or_end {
            let _ = tx.send(());
        }
        // Keep draining so a chatty child never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        buf
    })
}

fn limit_outcome(input: &RuleInput, text: String) -> RuleOutcome {
    let diag = RuleDiagnostic {
        line: 0,
        column: 0,
        message: text.clone(),
        kind: DiagnosticKind::Limit,
    };
    failed_outcome(input, diag, text, Vec::new())
}

/// The child side: reads the request from stdin, arms the memory limit, evaluates, and prints
/// the outcome as one line of JSON. Call it first thing in `main` when the first argument is
/// [`CHILD_MODE_ARG`], before any other setup.
pub fn child_main() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("rules evaluator: could not read the request: {e}");
        return ExitCode::from(EXIT_BAD_REQUEST);
    }
    let request: Request = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rules evaluator: unreadable request: {e}");
            return ExitCode::from(EXIT_BAD_REQUEST);
        }
    };
    drop(text);
    if request.check {
        return answer(&super::check(&request.script));
    }
    // If the parent is gone and nobody kills us, stop anyway.
    let watchdog = request.limits.time + CHILD_TIME_MARGIN * 4;
    thread::spawn(move || {
        thread::sleep(watchdog);
        std::process::exit(EXIT_WATCHDOG);
    });
    // Fails when `RulesAllocator` is not the global allocator: then only oversized single
    // operations are refused, and the parent's kill is the backstop.
    let armed = monty_alloc::set_limit(Some(request.limits.memory_bytes), false).is_ok();
    let outcome = evaluate_in_process(&request.script, &request.input, &request.limits);
    if armed {
        let _ = monty_alloc::set_limit(None, false);
    }
    answer(&outcome)
}

/// Prints the answer as the last line of stdout.
fn answer<T: Serialize>(value: &T) -> ExitCode {
    let line = match serde_json::to_string(value) {
        Ok(line) => line,
        Err(e) => {
            eprintln!("rules evaluator: could not write the outcome: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "\n{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
