//! In-process tests of the rules engine: semantics, diagnostics, built-ins and limits.
//! (The child process is tested from `tests/rules.rs`.)

use std::time::{Duration, Instant};

use super::*;

fn input() -> RuleInput {
    RuleInput {
        selections: vec!["Printer".into(), "This is an emergency".into()],
        hostname: "PC-042".into(),
        name: "Ada Lovelace".into(),
        email: "ada@contoso.com".into(),
        ip: "10.0.0.42".into(),
        mac: "AA:BB:CC:DD:EE:FF".into(),
        username: "ada".into(),
        os: "Windows 11 Pro".into(),
        input_name: None,
        input_email: None,
        input_phone: Some("+1 555 0100".into()),
        priority: "Medium".into(),
        r#type: "Problem".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        subject: "Printer jammed".into(),
        msg: "The printer is jammed".into(),
        append: String::new(),
    }
}

fn run(script: &str) -> RuleOutcome {
    run_with(script, &input())
}

fn run_with(script: &str, input: &RuleInput) -> RuleOutcome {
    evaluate_in_process(script, input, &RuleLimits::default())
}

fn var(outcome: &RuleOutcome, name: &str) -> serde_json::Value {
    outcome
        .variables
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no variable {name}"))
}

#[test]
fn product_example_emergency_selection_raises_priority() {
    let o = run("if 'This is an emergency' in selections: priority = 'Critical'");
    assert_eq!(o.priority, "Critical");
    assert_eq!(o.changed, ["priority"]);
    assert!(
        o.error.is_none() && o.exception.is_none() && o.warnings.is_empty(),
        "{o:?}"
    );
    let mut calm = input();
    calm.selections = vec!["Printer".into()];
    assert_eq!(
        run_with(
            "if 'This is an emergency' in selections: priority = 'Critical'",
            &calm
        )
        .priority,
        "Medium"
    );
}

#[test]
fn product_example_critical_subject() {
    let mut i = input();
    i.priority = "Critical".into();
    let o = run_with(
        "if priority == 'Critical': subject = '**EMERGENCY** ' + subject",
        &i,
    );
    assert_eq!(o.subject, "**EMERGENCY** Printer jammed");
    assert_eq!(
        run("if priority == 'Critical': subject = '**EMERGENCY** ' + subject").subject,
        "Printer jammed"
    );
}

#[test]
fn product_example_exclamation_mark() {
    let mut i = input();
    i.msg = "Nothing works!".into();
    assert_eq!(
        run_with("if '!' in msg: priority = 'High'", &i).priority,
        "High"
    );
    assert_eq!(run("if '!' in msg: priority = 'High'").priority, "Medium");
}

#[test]
fn product_example_paused_account_blocks() {
    let script = "if 'fabrikam.com' in email.lower(): exception = 'Ticket submission is paused for this account.'";
    let mut i = input();
    i.email = "Bob@FABRIKAM.com".into();
    let o = run_with(script, &i);
    assert_eq!(
        o.exception.as_deref(),
        Some("Ticket submission is paused for this account.")
    );
    assert!(o.blocks() && o.error.is_none());
    assert_eq!(
        var(&o, "exception"),
        "Ticket submission is paused for this account."
    );
    assert!(!run(script).blocks());
}

#[test]
fn product_example_machine_facts_in_message() {
    let o = run(r"msg = msg + '\n\n[host=' + hostname + ' mac=' + mac + ' ip=' + ip + ']'");
    assert_eq!(
        o.msg,
        "The printer is jammed\n\n[host=PC-042 mac=AA:BB:CC:DD:EE:FF ip=10.0.0.42]"
    );
    assert_eq!(o.changed, ["msg"]);
}

#[test]
fn product_examples_together() {
    let script = "\
if 'This is an emergency' in selections: priority = 'Critical'
if priority == 'Critical': subject = '**EMERGENCY** ' + subject
if '!' in msg: priority = 'High'
if 'fabrikam.com' in email.lower(): exception = 'Ticket submission is paused for this account.'
msg = msg + '\\n\\n[host=' + hostname + ' mac=' + mac + ' ip=' + ip + ']'
";
    assert_eq!(check(script), Ok(vec![]));
    let o = run(script);
    assert_eq!(
        (o.priority.as_str(), o.subject.as_str()),
        ("Critical", "**EMERGENCY** Printer jammed")
    );
    assert!(o
        .msg
        .ends_with("[host=PC-042 mac=AA:BB:CC:DD:EE:FF ip=10.0.0.42]"));
    assert_eq!(o.changed, ["priority", "subject", "msg"]);
    assert_eq!(o.exception, None);
}

#[test]
fn every_variable_is_reported_with_its_final_value() {
    let o = run("type = 'Incident'\nappend = 'seen'\nif input_name == '' and input_phone: impact = input_phone");
    assert_eq!(o.r#type, "Incident");
    assert_eq!(o.impact, "+1 555 0100");
    assert_eq!(o.changed, ["type", "impact", "append"]);
    assert_eq!(o.variables.len(), 20);
    assert_eq!(var(&o, "selections"), "Printer\nThis is an emergency");
    assert_eq!(var(&o, "input_name"), "");
    assert_eq!(var(&o, "type"), "Incident");
    assert_eq!(var(&o, "message"), "The printer is jammed");
    assert_eq!(var(&o, "exception"), "");
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["type"], "Incident");
    assert_eq!(serde_json::from_value::<RuleOutcome>(json).unwrap(), o);
}

#[test]
fn read_only_assignments_are_ignored_with_a_warning() {
    let o =
        run("hostname = 'evil'\nsubject = hostname\nemail += 'x'\nfor name in ['a']:\n    pass\n");
    assert_eq!(var(&o, "hostname"), "PC-042");
    assert_eq!(var(&o, "email"), "ada@contoso.com");
    assert_eq!(var(&o, "name"), "Ada Lovelace");
    // Inside the script the assignment takes effect, as in CPython.
    assert_eq!(o.subject, "evil");
    let places: Vec<_> = o
        .warnings
        .iter()
        .map(|w| (w.kind, w.line, w.column))
        .collect();
    assert_eq!(
        places,
        [
            (DiagnosticKind::ReadOnly, 1, 1),
            (DiagnosticKind::ReadOnly, 3, 1),
            (DiagnosticKind::ReadOnly, 4, 5)
        ]
    );
    assert!(
        o.warnings[0].message.contains("`hostname` is read-only"),
        "{}",
        o.warnings[0].message
    );
    assert!(o.error.is_none());
    // A local of the same name inside a function is not the variable.
    assert_eq!(
        check("def f(x):\n    name = x\n    return name\nsubject = f('a')"),
        Ok(vec![])
    );
}

#[test]
fn message_is_an_alias_of_msg() {
    assert_eq!(run("message = 'via message'").msg, "via message");
    assert_eq!(run("msg = 'via msg'").msg, "via msg");
    assert_eq!(run("msg = 'a'\nmessage = 'b'").msg, "b");
    assert_eq!(
        run("x = message.upper()\nmsg = x").msg,
        "THE PRINTER IS JAMMED"
    );
    let o = run("message = message + '!'");
    assert_eq!(
        (o.msg.as_str(), o.changed.as_slice()),
        ("The printer is jammed!", &["msg".to_owned()][..])
    );
    assert_eq!(var(&o, "message"), "The printer is jammed!");
}

#[test]
fn runtime_errors_block_with_their_line() {
    let o = run("priority = 'High'\nif True:\n    subject = subject + undefined_thing\n");
    assert_eq!(
        o.exception.as_deref(),
        Some("line 3: NameError: name 'undefined_thing' is not defined")
    );
    let e = o.error.unwrap();
    assert_eq!((e.kind, e.line, e.column), (DiagnosticKind::Runtime, 3, 25));
    assert_eq!(o.priority, "Medium", "nothing the script did is submitted");

    let o = run("x = int('abc')");
    assert_eq!(
        o.exception.as_deref(),
        Some("line 1: ValueError: invalid literal for int() with base 10: 'abc'")
    );
    let o = run("parts = subject.split()\nsubject = parts[7]");
    assert_eq!(o.error.as_ref().map(|e| (e.line, e.column)), Some((2, 11)));
    assert!(o.exception.unwrap().starts_with("line 2: IndexError"));
    // An error inside a function points at the line in the function.
    let o = run("def f(s):\n    return s.nope()\n\nsubject = f(subject)");
    assert_eq!(o.error.map(|e| e.line), Some(2));
    // A raised exception counts the same.
    let o = run("raise ValueError('no tickets on Sunday')");
    assert_eq!(
        o.exception.as_deref(),
        Some("line 1: ValueError: no tickets on Sunday")
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = check("priority = 'High'\nif priority == 'High'\n    subject = 'x'\n").unwrap_err();
    assert_eq!((e.kind, e.line), (DiagnosticKind::Syntax, 2));
    assert!(e.column >= 1);
    let e = check("x = 1\n  y = 2\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.message.contains("indent"), "{}", e.message);
    let e = check("a = 1\nb = (2 +\n").unwrap_err();
    assert!(e.line >= 2, "{e:?}");
    let o = run("x = 1\n  y = 2\n");
    assert_eq!(
        o.error.as_ref().map(|e| (e.kind, e.line, e.column)),
        Some((DiagnosticKind::Syntax, 2, 1))
    );
    assert!(o.exception.unwrap().starts_with("line 2: SyntaxError: "));
    let e = check("class A:\n    @staticmethod\n    def f(): pass\n").unwrap_err();
    assert!(
        e.message.starts_with("not supported by the rules engine"),
        "{}",
        e.message
    );
}

#[test]
fn pathological_scripts_are_refused_without_crashing() {
    // Deep enough to overflow an ordinary stack while parsing (this test runs on libtest's
    // 2 MiB thread), yet within the size limit.
    for script in [
        format!("x = {}1", "1+".repeat(60_000)),
        format!("x = {}b", "a.".repeat(60_000)),
        format!("x = {}1{}", "(".repeat(60_000), ")".repeat(60_000)),
    ] {
        assert!(script.len() <= MAX_SCRIPT_BYTES);
        let e = check(&script).unwrap_err();
        assert_eq!(e.kind, DiagnosticKind::Syntax);
        assert!(e.message.contains("too deeply nested"), "{}", e.message);
    }
    let e = check(&"x = 1\n".repeat(30_000)).unwrap_err();
    assert!(e.message.contains("too long"), "{}", e.message);
    assert!(run(&"x = 1\n".repeat(30_000))
        .exception
        .unwrap()
        .contains("too long"));
}

#[test]
fn is_with_a_literal_is_a_lint_warning() {
    let w = check("if priority is 'High':\n    subject = 'x'\nif impact is not 5: pass\n").unwrap();
    let places: Vec<_> = w.iter().map(|d| (d.kind, d.line, d.column)).collect();
    assert_eq!(
        places,
        [(DiagnosticKind::Lint, 1, 13), (DiagnosticKind::Lint, 3, 11)]
    );
    assert!(w[0].message.contains("use == instead of is"));
    assert!(w[1].message.contains("use != instead of is not"));
    assert_eq!(check("if exception is None or x is y: pass"), Ok(vec![]));
    assert_eq!(run("if priority is 'High': pass").warnings.len(), 1);
}

#[test]
fn textwrap_works_like_cpython() {
    let script = "\
import textwrap
lines = textwrap.wrap('Printer on floor 3 is jammed again and nobody can print the quarterly report', 30)
subject = lines[0]
msg = textwrap.shorten('Printer on floor 3 is jammed again and nobody can print the quarterly report', 40)
append = textwrap.shorten('Outlook   keeps\\n crashing', width=50, placeholder='...')
status = '|'.join(wrap('look-ahead-words and well-known e-mail x-ray', 8))
impact = '|'.join(textwrap.wrap('supercalifragilisticexpialidocious is long', 10))
type = textwrap.fill('a b c d e f', 3)
";
    let o = run(script);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.subject, "Printer on floor 3 is jammed");
    assert_eq!(o.msg, "Printer on floor 3 is jammed again [...]");
    assert_eq!(o.append, "Outlook keeps crashing");
    assert_eq!(o.status, "look-|ahead-|words|and|well-|known|e-mail|x-ray");
    assert_eq!(o.impact, "supercalif|ragilistic|expialidoc|ious is|long");
    assert_eq!(o.r#type, "a b\nc d\ne f");
    let o = run("from textwrap import shorten as s, wrap\nimport textwrap as tw\nsubject = s(subject, 10) + tw.wrap('a b', 1)[1]");
    assert_eq!(o.subject, "[...]b");
    let o = run("import re, textwrap\nsubject = re.sub('j', 'J', textwrap.wrap(subject)[0])");
    assert_eq!(o.subject, "Printer Jammed");
}

#[test]
fn common_python_idioms_work() {
    let script = "\
words = msg.split()
upper = sum(1 for c in msg if c.isupper())
count = len([w for w in words if len(w) > 3])
if count > 3:
    priority = 'High'
elif count == 2:
    priority = 'Low'
else:
    priority = priority.upper()
for i, w in enumerate(words):
    if w.startswith('jam') and w.endswith('ed'):
        subject = f'{subject.strip()} ({i}: {w.replace(\"jammed\", \"stuck\")})'
status = ', '.join(sorted(set(selections.split('\\n')), reverse=True))
impact = '{} of {}'.format(words[-1].title(), str(upper))
type = 'Incident' if any(s.lower().startswith('this is') for s in selections.splitlines()) else type
append = '%s %d%% [%-3s]' % ('done', 50, 'x')
";
    let o = run(script);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.priority, "Low");
    assert_eq!(o.subject, "Printer jammed (3: stuck)");
    assert_eq!(o.status, "This is an emergency, Printer");
    assert_eq!(o.impact, "Jammed of 1");
    assert_eq!(o.r#type, "Incident");
    assert_eq!(o.append, "done 50% [x  ]");
}

#[test]
fn non_text_values_are_converted_with_a_warning() {
    let o = run("priority = 5\nsubject = None\nstatus = ['a']\nexception = False");
    assert_eq!(
        (o.priority.as_str(), o.subject.as_str(), o.status.as_str()),
        ("5", "", "['a']")
    );
    assert_eq!(o.warnings.len(), 3, "{:?}", o.warnings);
    assert!(o
        .warnings
        .iter()
        .all(|w| w.kind == DiagnosticKind::Runtime && w.line == 0));
    assert!(!o.blocks());
    assert_eq!(run("exception = True").exception.as_deref(), Some("True"));
}

#[test]
fn oversized_values_are_refused() {
    let o = run("msg = 'x' * 2_000_000");
    assert_eq!(o.error.map(|e| e.kind), Some(DiagnosticKind::Limit));
    assert_eq!(
        o.exception.as_deref(),
        Some("`msg` is too long (1953 KiB; the limit is 1024 KiB)")
    );
    assert_eq!(o.msg, "The printer is jammed");
}

#[test]
fn print_output_is_kept_for_the_admin() {
    assert_eq!(
        run("print('checking', hostname)").printed,
        "checking PC-042\n"
    );
}

#[test]
fn runaway_rules_end_as_limit_errors_within_the_time_limit() {
    let limits = RuleLimits {
        time: Duration::from_millis(500),
        ..RuleLimits::default()
    };
    for script in [
        "while True: pass",
        "l = []\nwhile True:\n    l.append(len(l))",
        "x = 0\nfor i in range(10**12):\n    x += i",
    ] {
        let started = Instant::now();
        let o = evaluate_in_process(script, &input(), &limits);
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(1500),
            "{script:?} took {elapsed:?}"
        );
        let e = o.error.unwrap_or_else(|| panic!("{script:?} finished"));
        assert_eq!(e.kind, DiagnosticKind::Limit, "{script:?}: {e:?}");
        assert!(o.exception.unwrap().contains("took too long"));
    }
    let started = Instant::now();
    let o = run("def f(n):\n    return f(n + 1)\nsubject = f(1)");
    assert!(started.elapsed() < Duration::from_millis(1500));
    let e = o.error.unwrap();
    assert_eq!((e.kind, e.line), (DiagnosticKind::Limit, 2));
    assert!(o.exception.unwrap().contains("RecursionError"));
}

#[test]
fn compiled_scripts_are_reused() {
    let script = "subject = subject + ' (cached)'\n# a unique comment for this test";
    let first = Instant::now();
    assert_eq!(run(script).subject, "Printer jammed (cached)");
    let cold = first.elapsed();
    let second = Instant::now();
    for _ in 0..5 {
        assert_eq!(run(script).subject, "Printer jammed (cached)");
    }
    let warm = second.elapsed() / 5;
    assert!(warm < cold, "warm {warm:?} vs cold {cold:?}");
    assert_eq!(check(script), check(script));
}

#[test]
fn inputs_and_limits_read_from_partial_json() {
    let i: RuleInput =
        serde_json::from_str(r#"{"email": "a@b.c", "type": "Problem", "input_name": "Bo"}"#)
            .unwrap();
    assert_eq!(
        (i.email.as_str(), i.r#type.as_str(), i.input_name.as_deref()),
        ("a@b.c", "Problem", Some("Bo"))
    );
    assert_eq!(i.hostname, "");
    let i: RuleInput = serde_json::from_str(r#"{"selections": "a\nb"}"#).unwrap();
    assert_eq!(i.selections, ["a", "b"]);
    let i: RuleInput = serde_json::from_str(r#"{"selections": null}"#).unwrap();
    assert!(i.selections.is_empty());
    let l: RuleLimits = serde_json::from_str(r#"{"time": 250}"#).unwrap();
    assert_eq!(
        (l.time, l.memory_bytes),
        (Duration::from_millis(250), 64 * 1024 * 1024)
    );
    assert_eq!(
        serde_json::to_value(RuleLimits::default()).unwrap()["time"],
        1000
    );
    assert_eq!(
        serde_json::to_value(DiagnosticKind::ReadOnly).unwrap(),
        "read_only"
    );
}

#[test]
fn rules_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths::isolated(dir.path().to_path_buf());
    assert_eq!(load_rules(&paths).unwrap(), None);
    std::fs::write(rules_file(&paths), "  \n").unwrap();
    assert_eq!(load_rules(&paths).unwrap(), None);
    std::fs::write(rules_file(&paths), "priority = 'High'\n").unwrap();
    assert_eq!(
        load_rules(&paths).unwrap().as_deref(),
        Some("priority = 'High'\n")
    );
    assert_eq!(rules_file(&paths), dir.path().join("rules.py"));
}

#[test]
fn the_clock_works_and_the_host_stays_closed() {
    use chrono::{Datelike, Timelike};
    let script = "\
from datetime import datetime, date, timezone, timedelta
now = datetime.now()
after_hours = now.hour >= 18 or now.hour < 8 or date.today().weekday() >= 5
subject = str(date.today().year) + ' ' + str(now.hour) + ' ' + str(datetime.now(timezone.utc).tzinfo is not None)
if after_hours:
    append = 'Filed after hours'
";
    let before = chrono::Local::now();
    let o = run(script);
    let after = chrono::Local::now();
    assert!(o.error.is_none(), "{:?}", o.error);
    let expected = |t: chrono::DateTime<chrono::Local>| format!("{} {} True", t.year(), t.hour());
    assert!(
        o.subject == expected(before) || o.subject == expected(after),
        "{}",
        o.subject
    );
    for (script, text) in [
        ("subject = open('/etc/hostname').read()", "PermissionError"),
        (
            "from pathlib import Path\nsubject = Path('/etc/hostname').read_text()",
            "PermissionError",
        ),
        ("import os\nsubject = os.getenv('HOME')", "not supported"),
    ] {
        let o = run(script);
        let exception = o.exception.unwrap_or_default();
        assert!(exception.contains(text), "{script}: {exception}");
        assert_eq!(o.subject, "Printer jammed");
    }
}
