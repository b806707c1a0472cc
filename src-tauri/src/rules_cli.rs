//! `rules check FILE`, `rules test --rules FILE --input INPUT.json` and `settings set-rules FILE`.
//!
//! Diagnostics go to stdout in the compiler style `FILE:LINE:COL: error|warning: message`;
//! problems with the command itself (unreadable files) go to stderr.

use std::path::Path;
use std::process::ExitCode;

use helpdesk_core::paths::{write_atomic, AppPaths};
use helpdesk_core::rules::{self, RuleDiagnostic, RuleInput, RuleLimits};

/// Exit code of a script with a syntax error.
const EXIT_SYNTAX: u8 = 1;
/// Exit code when the evaluator could not run or the rules could not be installed.
const EXIT_FAILURE: u8 = 1;
/// Exit code for files that cannot be read.
const EXIT_INPUT: u8 = 2;

fn read(file: &Path, what: &str) -> Result<String, ExitCode> {
    std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: could not read the {what} {}: {e}", file.display());
        ExitCode::from(EXIT_INPUT)
    })
}

fn located(file: &Path, severity: &str, d: &RuleDiagnostic) -> String {
    format!(
        "{}:{}:{}: {severity}: {}",
        file.display(),
        d.line,
        d.column,
        d.message
    )
}

/// Prints the diagnostics of `script`; returns whether it is free of syntax errors.
fn report(file: &Path, script: &str) -> bool {
    let answer = match rules::check_in_child(&crate::rules_evaluator(), script) {
        Ok(answer) => answer,
        Err(e) => {
            println!("{}: error: {e}", file.display());
            return false;
        }
    };
    match answer {
        Ok(warnings) => {
            for w in &warnings {
                println!("{}", located(file, "warning", w));
            }
            true
        }
        Err(e) => {
            println!("{}", located(file, "error", &e));
            false
        }
    }
}

/// `helpdesk-button rules check FILE`: syntax and lint. Prints `OK` (after any warnings), or the
/// syntax error with its line and column. Exit 0 when the rules parse, 1 when they do not, 2
/// when the file cannot be read.
pub fn rules_check(file: &Path) -> ExitCode {
    let script = match read(file, "rules file") {
        Ok(s) => s,
        Err(code) => return code,
    };
    if report(file, &script) {
        println!("OK");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SYNTAX)
    }
}

/// `helpdesk-button rules test --rules FILE --input INPUT.json`: runs the rules on the sample
/// input (any [`RuleInput`] fields; missing ones are empty) in the same child process the app
/// uses, and prints the outcome as JSON: every variable's final value, what changed,
/// `exception`, warnings and the error with its line and column. Exit 0 whatever the rules did;
/// 2 when a file cannot be read or the input is not valid JSON; 1 when the evaluator could not
/// run.
pub fn rules_test(rules_path: &Path, input_path: &Path) -> ExitCode {
    let script = match read(rules_path, "rules file") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let text = match read(input_path, "input file") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let input: RuleInput = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!(
                "error: the input file {} is not a valid rule input: {e}",
                input_path.display()
            );
            return ExitCode::from(EXIT_INPUT);
        }
    };
    match rules::evaluate(
        &crate::rules_evaluator(),
        &script,
        &input,
        &RuleLimits::default(),
    ) {
        Ok(outcome) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&outcome).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `helpdesk-button settings set-rules FILE`: installs the rules as `rules.py` in the config
/// directory, atomically. Refuses a script with a syntax error (exit 1, with line and column);
/// warnings are printed and do not stop it.
pub fn set_rules(paths: &AppPaths, file: &Path) -> ExitCode {
    let script = match read(file, "rules file") {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !report(file, &script) {
        eprintln!("error: rules not installed: fix the syntax error first");
        return ExitCode::from(EXIT_SYNTAX);
    }
    let target = rules::rules_file(paths);
    match write_atomic(&target, script.as_bytes(), None) {
        Ok(()) => {
            println!("rules installed in {}", target.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
