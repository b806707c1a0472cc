//! Dispatcher rules: a short script in Python syntax that rewrites a ticket before it is filed.
//!
//! The admin writes the script; it runs on each submission, after contact resolution, while the
//! user is present (so that `exception` can be shown to them). The interpreter is `monty`, a
//! sandboxed Python subset written in Rust: no file system, network or environment access.
//!
//! # Variables (PRODUCT.md, "Dispatcher rules")
//! - Read-only: `selections` (the chosen labels joined by `"\n"`, so `'x' in selections` works),
//!   `hostname`, `name`, `email`, `ip`, `mac`, `username`, `os`, `input_name`, `input_email`,
//!   `input_phone` (`""` when the user typed nothing). Assigning one of them takes effect inside
//!   the script, exactly as in CPython, but the value is not submitted: the ticket keeps the
//!   original, and [`check`] / the outcome carry a [`DiagnosticKind::ReadOnly`] warning naming
//!   the line.
//! - Read/write: `priority`, `type`, `impact`, `status`, `subject`, `msg`, `append`.
//!   `message` is an alias of `msg`: both start with the same text, and when the script leaves
//!   `message` different from that initial text, `message` wins; otherwise `msg` is used.
//! - `exception`: starts as `""`; a truthy final value blocks the submission and becomes
//!   [`RuleOutcome::exception`]. A runtime error does the same, with `"line N: Error: text"`.
//!
//! Values are returned as the script left them (non-text values are converted the way Python's
//! `str()` would, `None` becomes `""`, with a warning); normalising them to Atera values is the
//! caller's job (`crate::values`).
//!
//! # Built-ins beyond monty
//! `import textwrap` works (`wrap`, `fill`, `shorten`, `dedent`, `indent`, `TextWrapper`,
//! ported from CPython and checked against it), and a plain `wrap(text, width)` is always
//! defined, as is the `format(value, spec)` builtin. `%` string formatting with a string literal
//! on the left (`'%s!' % x`) is rewritten to a CPython-compatible helper, since monty lacks it.
//! `datetime.now()` and `date.today()` read this machine's clock; files, the environment and the
//! network are refused. monty does not support `del`, decorators such as `@staticmethod`, or
//! `str.encode`, and bools are not ints in arithmetic (`True + 1`).
//!
//! Scripts are limited to [`MAX_SCRIPT_BYTES`], and each variable's final text to 1 MiB.
//! Compiled scripts are cached by their text (per thread; [`check`] results for all threads),
//! so the same rules are parsed once.
//!
//! # Isolation
//! [`evaluate`] runs the script in a child process (the app re-run with [`CHILD_MODE_ARG`]),
//! with monty's limits on time, memory and recursion inside, and a kill from outside after
//! `limits.time` plus a margin. A runaway rule becomes a [`DiagnosticKind::Limit`] error, never
//! a hang or a crash of the caller. The memory limit needs [`RulesAllocator`] installed as the
//! executable's global allocator; without it, oversized single operations are still refused
//! and the time limit and the kill still hold.

mod child;
mod clock;
mod engine;
#[cfg(windows)]
mod job;
mod lint;
mod prelude;
#[cfg(test)]
mod tests;
mod variables;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::paths::AppPaths;

pub use child::{
    check_in_child, check_with_command, child_main, evaluate, evaluate_with_command, CheckAnswer,
    RulesError, CHILD_MODE_ARG, CHILD_TIME_MARGIN,
};
pub use engine::{check, evaluate_in_process, MAX_SCRIPT_BYTES};
pub use variables::{READ_ONLY, READ_WRITE};

/// The global allocator that lets the rule-evaluation child enforce its memory limit.
///
/// Declare it once in the executable that re-runs itself with [`CHILD_MODE_ARG`]:
/// `#[global_allocator] static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;`
/// It only counts bytes until [`child_main`] arms it, so the GUI process is unaffected.
pub use monty_alloc::LimitedAllocator as RulesAllocator;

/// Everything a rule sees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleInput {
    /// The chosen labels; the script sees them as one string joined by `"\n"`. JSON may also
    /// give them as that one string.
    #[serde(deserialize_with = "lines_or_list")]
    pub selections: Vec<String>,
    pub hostname: String,
    pub name: String,
    pub email: String,
    pub ip: String,
    pub mac: String,
    pub username: String,
    pub os: String,
    /// What the user typed when the email was not found in Atera; `None` is `""` in the script.
    pub input_name: Option<String>,
    pub input_email: Option<String>,
    pub input_phone: Option<String>,
    pub priority: String,
    #[serde(rename = "type")]
    pub r#type: String,
    pub impact: String,
    pub status: String,
    pub subject: String,
    pub msg: String,
    pub append: String,
}

/// What the rules left: the values to submit, and what to tell the admin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleOutcome {
    pub priority: String,
    #[serde(rename = "type")]
    pub r#type: String,
    pub impact: String,
    pub status: String,
    pub subject: String,
    pub msg: String,
    pub append: String,
    /// Blocks the submission when set: the script's `exception`, or the error's text
    /// (`"line 3: NameError: name 'x' is not defined"`).
    pub exception: Option<String>,
    /// Read/write variables whose submitted value differs from the input.
    pub changed: Vec<String>,
    /// Read-only assignments, lint findings, non-text values.
    pub warnings: Vec<RuleDiagnostic>,
    /// A syntax, runtime or limit error; `exception` then holds its text.
    pub error: Option<RuleDiagnostic>,
    /// Every rule variable's final value (read-only ones with the value that is kept).
    pub variables: BTreeMap<String, serde_json::Value>,
    /// What the script printed (capped), for the admin's test view.
    pub printed: String,
}

impl RuleOutcome {
    /// Whether the submission must stop and show [`RuleOutcome::exception`].
    pub fn blocks(&self) -> bool {
        self.exception.is_some()
    }
}

/// A finding with its place in the script (1-based; 0 when it has no place, e.g. a time limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDiagnostic {
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub kind: DiagnosticKind,
}

impl std::fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}:{}: {}", self.line, self.column, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// What kind of finding a [`RuleDiagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// The script does not parse (or uses syntax the engine does not support).
    Syntax,
    /// An error raised while running, or a value that had to be converted.
    Runtime,
    /// Time, memory or recursion limit; or the evaluator process died.
    Limit,
    /// An assignment to a read-only variable, which is ignored.
    ReadOnly,
    /// A likely mistake, such as `x is 'literal'`.
    Lint,
}

/// Limits for one evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleLimits {
    /// Execution time of the script (compilation not included).
    #[serde(with = "millis")]
    pub time: Duration,
    /// Memory the script may allocate (enforced in the child process).
    pub memory_bytes: usize,
    /// Maximum depth of Python function calls.
    pub max_recursion: usize,
}

impl Default for RuleLimits {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(1),
            memory_bytes: 64 * 1024 * 1024,
            max_recursion: 200,
        }
    }
}

fn lines_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Lines(String),
        Null(()),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::Lines(text) if text.is_empty() => Vec::new(),
        Either::Lines(text) => text.split('\n').map(str::to_owned).collect(),
        Either::Null(()) => Vec::new(),
    })
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Where the installed rules live: `rules.py` in the config directory.
pub fn rules_file(paths: &AppPaths) -> PathBuf {
    paths.config_dir.join("rules.py")
}

/// The rules that run on this PC under `policy`: the policy's when it locks `rules`; else the
/// PC's own file, or the policy's when the PC has none. A broken policy never drops the PC's
/// rules (it sets nothing, so the PC's own file stays in force).
///
/// # Errors
/// The PC's file exists but cannot be read, or is not UTF-8.
pub fn effective_rules(
    paths: &AppPaths,
    policy: &crate::policy::Policy,
) -> std::io::Result<Option<String>> {
    if policy.broken.is_none() && policy.is_locked("rules") {
        return Ok(policy.rules.clone());
    }
    Ok(load_rules(paths)?.or_else(|| policy.rules.clone()))
}

/// The installed rules, or `None` when there are none (no file, or only whitespace).
///
/// # Errors
/// The file exists but cannot be read, or is not UTF-8.
pub fn load_rules(paths: &AppPaths) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(rules_file(paths)) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
