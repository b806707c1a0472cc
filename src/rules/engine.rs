//! Compiling and running a rule script in this process, on monty.
// Clippy 1.96 (the Windows toolchain) flags the cache's `thread_local!` initializer as not
// `const` although it is.
#![allow(clippy::missing_const_for_thread_local)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;

use monty::{MontyRun, RunProgress};
use monty_types::{
    CompileOptions, ExcType, ExtFunctionResult, MontyException, MontyObject, NameLookupResult,
    PrintWriter, ResourceLimits, ResourceTracker,
};

use super::{
    clock, lint, prelude, variables, DiagnosticKind, RuleDiagnostic, RuleInput, RuleLimits,
    RuleOutcome,
};

/// The file name monty puts in tracebacks.
const SCRIPT_NAME: &str = "rules.py";
/// How much `print()` output is kept for the admin.
const MAX_PRINTED: usize = 64 * 1024;
/// How many compiled scripts are kept.
const CACHE_SIZE: usize = 8;
/// The longest script accepted. Real rules are a few KiB; the bound keeps parsing cheap and
/// its depth within the parsing thread's stack.
pub const MAX_SCRIPT_BYTES: usize = 128 * 1024;
/// The longest text a rule may leave in a variable.
const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Stack of the thread that parses a new script (reserved, not committed, until used).
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// A script ready to run: prelude + rewritten script + the read-back expression, compiled.
struct Compiled {
    runner: MontyRun,
    /// Lines before the script's first line.
    offset: u32,
    /// Lines of the script itself.
    lines: u32,
    /// Read-only assignments and lint.
    warnings: Vec<RuleDiagnostic>,
}

type CacheEntry = (String, Result<Rc<Compiled>, RuleDiagnostic>);

thread_local! {
    /// Compiled scripts by their text, most recent last: the same rules are not parsed twice.
    /// Per thread, because a compiled monty program is neither `Send` nor `Sync`.
    static COMPILED: RefCell<Vec<CacheEntry>> = const { RefCell::new(Vec::new()) };
}

/// [`check`] results by script text, shared by all threads (the GUI checks on every change).
static CHECKED: Mutex<Vec<(String, CheckResult)>> = Mutex::new(Vec::new());

type CheckResult = Result<Vec<RuleDiagnostic>, RuleDiagnostic>;

fn remember<T>(cache: &mut Vec<(String, T)>, script: &str, value: T) {
    if cache.len() >= CACHE_SIZE {
        cache.remove(0);
    }
    cache.push((script.to_owned(), value));
}

fn recall<T: Clone>(cache: &mut Vec<(String, T)>, script: &str) -> Option<T> {
    let pos = cache.iter().position(|(s, _)| s == script)?;
    let entry = cache.remove(pos);
    let value = entry.1.clone();
    cache.push(entry);
    Some(value)
}

fn compile(script: &str) -> Result<Rc<Compiled>, RuleDiagnostic> {
    if let Some(hit) = COMPILED.with_borrow_mut(|cache| recall(cache, script)) {
        return hit;
    }
    let result = compile_uncached(script).map(Rc::new);
    COMPILED.with_borrow_mut(|cache| remember(cache, script, result.clone()));
    result
}

fn line_count(text: &str) -> u32 {
    u32::try_from(text.lines().count()).unwrap_or(u32::MAX)
}

/// Parses the script alone, so that its syntax errors carry its own line numbers.
///
/// This runs on a thread with a large stack: a pathological script (a 100 000-term `1+1+...`)
/// builds a parse tree deep enough to overflow an ordinary thread's stack before monty's
/// nesting limit rejects it, and a stack overflow aborts the whole process. A script that
/// passes is nested at most `monty`'s limit (200) deep, so compiling it again anywhere is safe.
fn parse_alone(script: &str) -> Result<(), RuleDiagnostic> {
    let lines = line_count(script);
    if script.len() > MAX_SCRIPT_BYTES {
        return Err(RuleDiagnostic {
            line: lines.max(1),
            column: 1,
            message: format!(
                "the rules are too long: {} KiB (the limit is {} KiB)",
                script.len().div_ceil(1024),
                MAX_SCRIPT_BYTES / 1024
            ),
            kind: DiagnosticKind::Syntax,
        });
    }
    let parse = move |script: String| {
        MontyRun::new(
            script,
            SCRIPT_NAME,
            input_names(),
            CompileOptions::default(),
        )
        .map(drop)
        .map_err(|e| syntax_diagnostic(&e, 0, lines))
    };
    let owned = script.to_owned();
    match std::thread::Builder::new()
        .name("rules-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || parse(owned))
    {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(RuleDiagnostic {
                line: 1,
                column: 1,
                message: "the rules engine could not read this script".into(),
                kind: DiagnosticKind::Syntax,
            })
        }),
        // No thread to be had: parse here (only the pathological case needs the big stack).
        Err(_) => parse(script.to_owned()),
    }
}

fn compile_uncached(script: &str) -> Result<Compiled, RuleDiagnostic> {
    parse_alone(script)?;
    let offset = prelude::prelude_lines();
    let lines = line_count(script);
    let mut full = String::with_capacity(prelude::PRELUDE.len() + script.len() + 512);
    full.push_str(prelude::PRELUDE);
    full.push_str(&lint::rewrite(script));
    full.push('\n');
    full.push_str(&variables::readback_expression());
    full.push('\n');
    let runner = MontyRun::new(full, SCRIPT_NAME, input_names(), CompileOptions::default())
        .map_err(|e| syntax_diagnostic(&e, offset, lines))?;
    Ok(Compiled {
        runner,
        offset,
        lines,
        warnings: lint::warnings(script),
    })
}

fn input_names() -> Vec<String> {
    variables::ALL.iter().map(|s| (*s).to_owned()).collect()
}

/// Syntax and lint, without running anything.
///
/// # Errors
/// The first syntax error (or use of syntax the engine does not support), with its line and
/// column.
pub fn check(script: &str) -> Result<Vec<RuleDiagnostic>, RuleDiagnostic> {
    let lock = || {
        CHECKED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(hit) = recall(&mut lock(), script) {
        return hit;
    }
    let result = compile(script).map(|c| c.warnings.clone());
    remember(&mut lock(), script, result.clone());
    result
}

/// A position in the script from one in the compiled source, if it falls in the script.
fn script_position(line: u32, column: u32, offset: u32, lines: u32) -> Option<(u32, u32)> {
    let line = line.checked_sub(offset)?;
    (1..=lines.max(1)).contains(&line).then_some((line, column))
}

fn syntax_diagnostic(e: &MontyException, offset: u32, lines: u32) -> RuleDiagnostic {
    let (line, column) = e
        .traceback()
        .iter()
        .rev()
        .find_map(|f| script_position(f.start.line, f.start.column, offset, lines))
        .unwrap_or((lines.max(1), 1));
    let message = match (e.exc_type(), e.message()) {
        (ExcType::SyntaxError, Some(m)) => m.to_owned(),
        (ExcType::NotImplementedError, Some(m)) => {
            format!(
                "not supported by the rules engine: {}",
                m.trim_start_matches("The monty syntax parser does not yet support ")
            )
        }
        _ => e.summary(),
    };
    RuleDiagnostic {
        line,
        column,
        message,
        kind: DiagnosticKind::Syntax,
    }
}

/// A monty error as the diagnostic shown to the admin and the `exception` text shown to the user.
fn runtime_diagnostic(
    e: &MontyException,
    compiled: &Compiled,
    limits: &RuleLimits,
) -> (RuleDiagnostic, String) {
    let message = e.message().unwrap_or_default();
    let place = e.traceback().iter().rev().find_map(|f| {
        script_position(
            f.start.line,
            f.start.column,
            compiled.offset,
            compiled.lines,
        )
    });
    let (line, column) = place.unwrap_or((0, 0));
    let limit_text = match e.exc_type() {
        ExcType::TimeoutError if message.starts_with("time limit exceeded") => {
            Some(time_limit_text(limits))
        }
        ExcType::MemoryError if message.starts_with("memory limit exceeded") => {
            Some(memory_limit_text(limits))
        }
        _ => None,
    };
    let kind = if limit_text.is_some() || e.exc_type() == ExcType::RecursionError {
        DiagnosticKind::Limit
    } else {
        DiagnosticKind::Runtime
    };
    let summary = limit_text.unwrap_or_else(|| e.summary());
    let text = if line > 0 {
        format!("line {line}: {summary}")
    } else {
        summary.clone()
    };
    (
        RuleDiagnostic {
            line,
            column,
            message: summary,
            kind,
        },
        text,
    )
}

pub(crate) fn time_limit_text(limits: &RuleLimits) -> String {
    format!(
        "The rules took too long (the limit is {} ms) and were stopped",
        limits.time.as_millis()
    )
}

pub(crate) fn memory_limit_text(limits: &RuleLimits) -> String {
    format!(
        "The rules used too much memory (the limit is {} MiB) and were stopped",
        limits.memory_bytes / (1024 * 1024)
    )
}

/// An outcome that keeps every input value, with `error` set and its text as the exception.
pub(crate) fn failed_outcome(
    input: &RuleInput,
    error: RuleDiagnostic,
    exception: String,
    warnings: Vec<RuleDiagnostic>,
) -> RuleOutcome {
    let initial = variables::initial_values(input);
    let variables = variables::ALL
        .iter()
        .zip(&initial)
        .map(|(name, value)| {
            let value = if *name == "exception" {
                serde_json::Value::String(exception.clone())
            } else {
                value.clone().into()
            };
            ((*name).to_owned(), value)
        })
        .collect();
    RuleOutcome {
        priority: input.priority.clone(),
        r#type: input.r#type.clone(),
        impact: input.impact.clone(),
        status: input.status.clone(),
        subject: input.subject.clone(),
        msg: input.msg.clone(),
        append: input.append.clone(),
        exception: Some(exception),
        changed: Vec::new(),
        warnings,
        error: Some(error),
        variables,
        printed: String::new(),
    }
}

/// Runs the rules in this process.
///
/// Time and recursion limits hold here; the memory limit only holds in the child process set
/// up by [`super::child_main`], and a rule that exhausts memory can abort this process. So only
/// the child mode (and tests with harmless scripts) call this: the app uses [`super::evaluate`].
pub fn evaluate_in_process(script: &str, input: &RuleInput, limits: &RuleLimits) -> RuleOutcome {
    let compiled = match compile(script) {
        Ok(c) => c,
        Err(diag) => {
            let text = format!("line {}: SyntaxError: {}", diag.line, diag.message);
            return failed_outcome(input, diag, text, Vec::new());
        }
    };
    let initial = variables::initial_values(input);
    let inputs = initial
        .iter()
        .map(|v| MontyObject::String(v.clone()))
        .collect();
    let resource_limits = ResourceLimits::default()
        .max_duration(limits.time)
        .max_memory(limits.memory_bytes)
        .max_recursion_depth(limits.max_recursion.max(1));
    let mut printed = String::new();
    let result = run(
        &compiled.runner,
        inputs,
        ResourceTracker::new(resource_limits),
        &mut printed,
    );
    let values = match result {
        Ok(MontyObject::Tuple(values)) if values.len() == variables::ALL.len() => values,
        Ok(other) => {
            let diag = RuleDiagnostic {
                line: 0,
                column: 0,
                message: format!(
                    "internal error: the rules engine read back {}",
                    other.type_name()
                ),
                kind: DiagnosticKind::Runtime,
            };
            let text = diag.message.clone();
            return failed_outcome(input, diag, text, compiled.warnings.clone());
        }
        Err(e) => {
            let (diag, text) = runtime_diagnostic(&e, &compiled, limits);
            let mut outcome = failed_outcome(input, diag, text, compiled.warnings.clone());
            outcome.printed = printed;
            return outcome;
        }
    };
    // A rule may build a string as large as its memory limit; the ticket cannot use it, and the
    // answer from the child process must stay small.
    let oversized = variables::ALL.iter().zip(&values).find(|(name, v)| {
        !variables::READ_ONLY.contains(name)
            && matches!(v, MontyObject::String(s) if s.len() > MAX_VALUE_BYTES)
    });
    if let Some((name, MontyObject::String(s))) = oversized {
        let text = format!(
            "`{name}` is too long ({} KiB; the limit is {} KiB)",
            s.len() / 1024,
            MAX_VALUE_BYTES / 1024
        );
        let diag = RuleDiagnostic {
            line: 0,
            column: 0,
            message: text.clone(),
            kind: DiagnosticKind::Limit,
        };
        return failed_outcome(input, diag, text, compiled.warnings.clone());
    }
    finish(input, &initial, &values, compiled.warnings.clone(), printed)
}

/// Runs to completion, answering the host calls a rule may make: `datetime.now()` and
/// `date.today()` get this machine's clock; files, the environment and anything else are
/// refused with the error CPython would give for a missing permission.
fn run(
    runner: &MontyRun,
    inputs: Vec<MontyObject>,
    tracker: ResourceTracker,
    printed: &mut String,
) -> Result<MontyObject, MontyException> {
    let mut progress = runner.clone().start(inputs, tracker, print(printed))?;
    loop {
        progress = match progress {
            RunProgress::Complete(value) => return Ok(value),
            RunProgress::OsCall(call) => {
                let answer = clock::answer(&call.function_call);
                call.resume(answer, print(printed))?
            }
            RunProgress::NameLookup(lookup) => {
                lookup.resume(NameLookupResult::Undefined, print(printed))?
            }
            RunProgress::FunctionCall(call) => {
                let name = call.function_name.clone();
                call.resume(ExtFunctionResult::NotFound(name), print(printed))?
            }
            RunProgress::ResolveFutures(_) => {
                return Err(MontyException::new(
                    ExcType::RuntimeError,
                    Some("asynchronous code is not supported in rules".into()),
                ));
            }
        };
    }
}

fn print(printed: &mut String) -> PrintWriter<'_> {
    PrintWriter::CollectString(printed, Some(MAX_PRINTED))
}

/// Builds the outcome from the values read back at the end of the script.
fn finish(
    input: &RuleInput,
    initial: &[String],
    values: &[MontyObject],
    mut warnings: Vec<RuleDiagnostic>,
    printed: String,
) -> RuleOutcome {
    let value_of = |name: &str| {
        let i = variables::ALL.iter().position(|n| *n == name).unwrap_or(0);
        (&values[i], &initial[i])
    };
    let mut text_of = |name: &str| {
        let (value, _) = value_of(name);
        let (text, warning) = variables::as_text(name, value);
        warnings.extend(warning);
        text
    };
    let msg = text_of("msg");
    let message = text_of("message");
    let msg = if message != input.msg { message } else { msg };
    let mut outcome = RuleOutcome {
        priority: text_of("priority"),
        r#type: text_of("type"),
        impact: text_of("impact"),
        status: text_of("status"),
        subject: text_of("subject"),
        msg,
        append: text_of("append"),
        printed,
        ..RuleOutcome::default()
    };
    let (exception, _) = value_of("exception");
    if exception.is_truthy() {
        outcome.exception = Some(match exception {
            MontyObject::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    let submitted = [
        ("priority", &outcome.priority),
        ("type", &outcome.r#type),
        ("impact", &outcome.impact),
        ("status", &outcome.status),
        ("subject", &outcome.subject),
        ("msg", &outcome.msg),
        ("append", &outcome.append),
    ];
    outcome.changed = submitted
        .iter()
        .filter(|(name, v)| value_of(name).1 != *v)
        .map(|(name, _)| (*name).to_owned())
        .collect();
    let mut vars = BTreeMap::new();
    for (i, name) in variables::ALL.iter().enumerate() {
        let value = if variables::READ_ONLY.contains(name) {
            serde_json::Value::String(initial[i].clone())
        } else if let Some((_, v)) = submitted.iter().find(|(n, _)| n == name) {
            serde_json::Value::String((*v).clone())
        } else if *name == "message" {
            serde_json::Value::String(outcome.msg.clone())
        } else {
            variables::to_json(&values[i])
        };
        vars.insert((*name).to_owned(), value);
    }
    outcome.variables = vars;
    warnings.sort_by_key(|d| (d.line == 0, d.line, d.column));
    outcome.warnings = warnings;
    outcome
}
