//! Dispatcher rules through a real child process, and the vendor-style fixtures.
//!
//! The child is this test binary itself: [`child_command`] re-runs it with the libtest filter
//! `rules::child_entry --exact` and `HELPDESK_RULES_TEST_CHILD=1`, and [`child_entry`] then
//! behaves like `helpdesk-button-rules __evaluate-rules` (it calls `child_main` and exits).
//! libtest's "running 1 test" banner on stdout is harmless: the parent reads the last line. The
//! binary installs `RulesAllocator`, as the evaluator does, so the memory ceiling is real here.
//!
//! Killing, crash and protocol handling are also tested with `sh` commands that hang, abort or
//! answer nonsense.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use helpdesk_core::rules::{
    check, check_with_command, evaluate_in_process, evaluate_with_command, DiagnosticKind,
    RuleInput, RuleLimits, RuleOutcome, CHILD_TIME_MARGIN,
};
// Used by the tests that script a misbehaving child with `sh` (Unix only).
#[cfg(unix)]
use helpdesk_core::rules::{evaluate, RulesError};

#[global_allocator]
static ALLOC: helpdesk_core::rules::RulesAllocator = helpdesk_core::rules::RulesAllocator;

const CHILD_ENV: &str = "HELPDESK_RULES_TEST_CHILD";

/// Not a test: the child side, when this binary is started by [`child_command`].
#[test]
fn child_entry() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let code = helpdesk_core::rules::child_main();
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
}

fn child_command() -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        "rules::child_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(CHILD_ENV, "1");
    cmd
}

fn input() -> RuleInput {
    RuleInput {
        selections: vec!["Printer".into(), "This is an emergency".into()],
        hostname: "PC-042".into(),
        email: "ada@contoso.com".into(),
        ip: "10.0.0.42".into(),
        mac: "AA:BB:CC:DD:EE:FF".into(),
        priority: "Medium".into(),
        subject: "Printer jammed".into(),
        msg: "It is jammed!".into(),
        ..RuleInput::default()
    }
}

fn in_child(script: &str, limits: &RuleLimits) -> (RuleOutcome, Duration) {
    let started = Instant::now();
    let outcome = evaluate_with_command(child_command(), script, &input(), limits)
        .expect("the child answers");
    (outcome, started.elapsed())
}

const PRODUCT_EXAMPLES: &str = "\
if 'This is an emergency' in selections: priority = 'Critical'
if priority == 'Critical': subject = '**EMERGENCY** ' + subject
if '!' in msg: priority = 'High'
if 'fabrikam.com' in email.lower(): exception = 'Ticket submission is paused for this account.'
msg = msg + '\\n\\n[host=' + hostname + ' mac=' + mac + ' ip=' + ip + ']'
";

#[test]
fn the_child_answers_like_the_engine_in_process() {
    let limits = RuleLimits::default();
    let (outcome, _) = in_child(PRODUCT_EXAMPLES, &limits);
    assert_eq!(
        outcome,
        evaluate_in_process(PRODUCT_EXAMPLES, &input(), &limits)
    );
    assert_eq!(outcome.priority, "High");
    assert_eq!(outcome.subject, "**EMERGENCY** Printer jammed");
    assert_eq!(
        outcome.msg,
        "It is jammed!\n\n[host=PC-042 mac=AA:BB:CC:DD:EE:FF ip=10.0.0.42]"
    );
    assert!(outcome.error.is_none() && outcome.exception.is_none());
}

#[test]
fn the_child_reports_errors_with_their_place() {
    let limits = RuleLimits::default();
    let (o, _) = in_child(
        "subject = subject.upper()\nhostname = 'x'\npriority = undefined\n",
        &limits,
    );
    let e = o.error.expect("a runtime error");
    assert_eq!((e.kind, e.line, e.column), (DiagnosticKind::Runtime, 3, 12));
    assert_eq!(
        o.exception.as_deref(),
        Some("line 3: NameError: name 'undefined' is not defined")
    );
    assert_eq!(
        o.warnings
            .iter()
            .map(|w| (w.kind, w.line))
            .collect::<Vec<_>>(),
        [(DiagnosticKind::ReadOnly, 2)]
    );
    let (o, _) = in_child("if True\n    pass\n", &limits);
    assert_eq!(
        o.error.map(|e| (e.kind, e.line)),
        Some((DiagnosticKind::Syntax, 1))
    );
}

/// The app checks syntax through the child (it does not link the interpreter): same answers
/// as the in-process check, for clean, warned-about and broken scripts.
#[test]
fn the_child_checks_syntax_like_the_engine_in_process() {
    for script in [
        PRODUCT_EXAMPLES,
        "hostname = 'x'\n",
        "if True\n    pass\n",
        "priority = (\n",
    ] {
        let answer = check_with_command(child_command(), script).expect("an answer");
        assert_eq!(answer, check(script), "{script:?}");
    }
    let error = check_with_command(child_command(), "if True\n    pass\n")
        .expect("an answer")
        .unwrap_err();
    assert_eq!((error.kind, error.line), (DiagnosticKind::Syntax, 1));
}

/// A check that cannot finish says why instead of passing. (Unix: the child kills itself with a
/// signal; Windows has no signals, and its killed child is the Job Object's business.)
#[cfg(unix)]
#[test]
fn a_syntax_check_whose_child_is_killed_is_a_limit_error() {
    let stopped = check_with_command(sh("kill -KILL $$"), "pass")
        .expect("an answer")
        .unwrap_err();
    assert_eq!(stopped.kind, DiagnosticKind::Limit);
    assert!(stopped.message.contains("signal 9"), "{}", stopped.message);
}

/// Each abuse script ends as the limit error it provokes, within its time limit plus the kill
/// margin, and this process survives it. The memory abusers get a time limit far beyond what
/// reaching the memory limit takes, so a busy machine cannot turn them into time-outs.
#[test]
fn abuse_scripts_end_as_limit_errors_in_time() {
    let quick = RuleLimits::default();
    let patient = RuleLimits {
        time: Duration::from_secs(30),
        ..RuleLimits::default()
    };
    let scripts = [
        ("infinite loop", "while True: pass", "took too long", &quick),
        (
            "huge string",
            "x = 'a' * 10**9",
            "too much memory",
            &patient,
        ),
        (
            "doubling string",
            "s = 'abc' * 1000\nwhile True:\n    s = s + s",
            "too much memory",
            &patient,
        ),
        ("huge list", "l = [0] * 10**8", "too much memory", &patient),
        (
            "growing list",
            "l = []\nwhile True:\n    l.append('x' * 100)",
            "too much memory",
            &patient,
        ),
        (
            "deep recursion",
            "def f(n):\n    return f(n + 1)\nf(1)",
            "RecursionError",
            &quick,
        ),
        ("huge number", "x = 10 ** 10**8", "", &quick),
    ];
    for (what, script, text, limits) in scripts {
        let bound = limits.time + CHILD_TIME_MARGIN + Duration::from_millis(300);
        let (o, elapsed) = in_child(script, limits);
        assert!(elapsed < bound, "{what}: took {elapsed:?}");
        let e = o
            .error
            .unwrap_or_else(|| panic!("{what}: finished without an error"));
        assert_eq!(e.kind, DiagnosticKind::Limit, "{what}: {e:?}");
        let exception = o.exception.unwrap_or_default();
        assert!(exception.contains(text), "{what}: {exception}");
        assert_eq!(o.priority, "Medium", "{what}: nothing is submitted");
    }
}

#[cfg(unix)]
fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

#[cfg(unix)]
#[test]
fn a_hanging_child_is_killed_after_the_time_limit() {
    let limits = RuleLimits {
        time: Duration::from_millis(300),
        ..RuleLimits::default()
    };
    let started = Instant::now();
    let o = evaluate_with_command(sh("sleep 5"), "pass", &input(), &limits).expect("an outcome");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= limits.time
            && elapsed < limits.time + CHILD_TIME_MARGIN + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert_eq!(o.error.map(|e| e.kind), Some(DiagnosticKind::Limit));
    assert!(o.exception.unwrap().contains("took too long"));
    assert_eq!(
        o.subject, "Printer jammed",
        "the input comes back unchanged"
    );
}

#[cfg(unix)]
#[test]
fn a_crashing_child_becomes_a_limit_error() {
    let limits = RuleLimits::default();
    for (script, text) in [
        ("cat >/dev/null; kill -ABRT $$", "signal 6"),
        ("kill -KILL $$", "signal 9"),
        ("exit 65", "too much memory"),
        // A panic in a release build (panic = "abort"): the message, then SIGABRT.
        (
            "cat >/dev/null; echo \"thread 'main' panicked at src/x.rs:1:1\" >&2; kill -ABRT $$",
            "internal error in the rules engine",
        ),
        ("exit 101", "internal error in the rules engine"),
    ] {
        let o = evaluate_with_command(sh(script), "pass", &input(), &limits).expect("an outcome");
        assert_eq!(
            o.error.as_ref().map(|e| e.kind),
            Some(DiagnosticKind::Limit),
            "{script}"
        );
        assert!(
            o.exception.as_deref().unwrap_or_default().contains(text),
            "{script}: {:?}",
            o.exception
        );
    }
}

#[cfg(unix)]
#[test]
fn protocol_failures_are_errors() {
    let limits = RuleLimits::default();
    let err = evaluate_with_command(
        sh("cat >/dev/null; echo not json"),
        "pass",
        &input(),
        &limits,
    )
    .unwrap_err();
    assert!(matches!(err, RulesError::BadAnswer { .. }), "{err}");
    let err = evaluate_with_command(
        sh("echo unknown mode >&2; exit 7"),
        "pass",
        &input(),
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(&err, RulesError::NoAnswer { stderr, .. } if stderr == "unknown mode"),
        "{err}"
    );
    let err = evaluate(
        Path::new("/nonexistent/helpdesk-button"),
        "pass",
        &input(),
        &limits,
    )
    .unwrap_err();
    assert!(matches!(err, RulesError::Spawn { .. }), "{err}");
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

/// The vendor-style rules in `fixtures/rules/`, with the outcomes CPython gives
/// (`cpython_parity.py` checks the same file against CPython).
#[test]
fn vendor_style_fixtures_give_the_expected_outcomes() {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    let base = cases["base"].as_object().unwrap();
    let mut failures = Vec::new();
    let mut scripts = std::collections::BTreeSet::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rules = case["rules"].as_str().unwrap();
        scripts.insert(rules);
        let script = std::fs::read_to_string(fixtures().join(rules)).unwrap();
        let mut merged = base.clone();
        merged.extend(case["input"].as_object().unwrap().clone());
        let input: RuleInput = serde_json::from_value(merged.into()).unwrap();
        let o = evaluate_with_command(child_command(), &script, &input, &RuleLimits::default())
            .expect("the child answers");
        assert!(o.error.is_none(), "{name}: {:?}", o.error);
        let got = serde_json::json!({
            "priority": o.priority, "type": o.r#type, "impact": o.impact, "status": o.status,
            "subject": o.subject, "msg": o.msg, "append": o.append, "exception": o.exception,
        });
        if got != case["expect"] {
            failures.push(format!(
                "{name} ({rules}):\n  got      {got}\n  expected {}",
                case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(scripts.len() >= 8, "{scripts:?}");
    for script in scripts {
        let warnings = check(&std::fs::read_to_string(fixtures().join(script)).unwrap())
            .expect("fixtures parse");
        let expected = if script == "legacy_style.py" { 2 } else { 0 };
        assert_eq!(warnings.len(), expected, "{script}: {warnings:?}");
    }
}

#[test]
fn the_legacy_fixture_warns_about_read_only_and_is() {
    let script = std::fs::read_to_string(fixtures().join("legacy_style.py")).unwrap();
    let w = check(&script).unwrap();
    assert_eq!(
        w.iter()
            .map(|d| (d.kind, d.line, d.column))
            .collect::<Vec<_>>(),
        [
            (DiagnosticKind::ReadOnly, 3, 1),
            (DiagnosticKind::Lint, 4, 13)
        ]
    );
}
