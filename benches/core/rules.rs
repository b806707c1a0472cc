//! Rules: a typical rule (PRODUCT.md's examples) in the child process the app uses (the release
//! `helpdesk-button-rules`, which links no GUI library), in the app binary's own rule mode (its
//! fallback when the evaluator is missing), and in process (the interpreter alone).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use helpdesk_core::rules::{evaluate, evaluate_in_process, RuleInput, RuleLimits};

/// PRODUCT.md's "Examples that must work", as one script.
pub const TYPICAL_RULE: &str = "\
if 'This is an emergency' in selections: priority = 'Critical'
if priority == 'Critical': subject = '**EMERGENCY** ' + subject
if '!' in msg: priority = 'High'
if 'fabrikam.com' in email.lower(): exception = 'Ticket submission is paused for this account.'
msg = msg + '\\n\\n[host=' + hostname + ' mac=' + mac + ' ip=' + ip + ']'
";

pub fn typical_input() -> RuleInput {
    RuleInput {
        selections: vec!["This is an emergency".into(), "How should we contact you? Call me".into()],
        hostname: "PC-0042".into(),
        name: "Grace Hopper".into(),
        email: "grace@contoso.example".into(),
        ip: "192.0.2.10".into(),
        mac: "aa:bb:cc:dd:ee:01".into(),
        username: "grace".into(),
        os: "Debian GNU/Linux 12".into(),
        priority: "Medium".into(),
        r#type: "Problem".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        subject: "Outlook freezes when I open the shared calendar".into(),
        msg: "Outlook freezes every time I open the shared calendar. It started after this morning's update.".into(),
        ..RuleInput::default()
    }
}

/// The release app; the rules evaluator the app runs sits next to it.
fn app_exe() -> PathBuf {
    if let Some(exe) = std::env::var_os("HELPDESK_BENCH_APP_EXE") {
        return exe.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("release").join("helpdesk-button")
}

pub fn bench(c: &mut Criterion) {
    let input = typical_input();
    let limits = RuleLimits::default();
    let outcome = evaluate_in_process(TYPICAL_RULE, &input, &limits);
    assert!(
        outcome.error.is_none() && !outcome.blocks(),
        "the typical rule must run cleanly: {outcome:?}"
    );
    assert_eq!(outcome.priority, "Critical");

    let mut group = c.benchmark_group("rules");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("typical/in_process", |b| {
        b.iter(|| evaluate_in_process(black_box(TYPICAL_RULE), &input, &limits))
    });

    // What the app runs: `helpdesk-button-rules` next to the app (no GUI libraries to load).
    let evaluator = app_exe().with_file_name("helpdesk-button-rules");
    for (name, exe) in [("typical/child_process", evaluator)] {
        if !exe.is_file() {
            println!(
                "note: {} is not built (cargo build --release -p helpdesk-button); {name} is not benchmarked",
                exe.display()
            );
            continue;
        }
        match evaluate(&exe, TYPICAL_RULE, &input, &limits) {
            Ok(o) if o == outcome => {
                group.sampling_mode(SamplingMode::Flat).sample_size(30);
                group.bench_function(name, |b| {
                    b.iter(|| {
                        evaluate(&exe, black_box(TYPICAL_RULE), &input, &limits)
                            .expect("the child answers")
                    });
                });
            }
            Ok(o) => println!(
                "note: {} gave a different outcome than in process ({o:?}); {name} not benchmarked",
                exe.display()
            ),
            Err(e) => println!(
                "note: {} cannot evaluate rules ({e}); {name} not benchmarked",
                exe.display()
            ),
        }
    }
    group.finish();
}
