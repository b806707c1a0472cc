//! The rule variables: their names, their starting values, and reading them back.

use monty_types::MontyObject;

use super::{DiagnosticKind, RuleDiagnostic, RuleInput};

/// Variables the script can read but not change.
pub const READ_ONLY: [&str; 11] = [
    "selections",
    "hostname",
    "name",
    "email",
    "ip",
    "mac",
    "username",
    "os",
    "input_name",
    "input_email",
    "input_phone",
];

/// Variables whose final value is submitted (`message` is an alias of `msg`).
pub const READ_WRITE: [&str; 7] = [
    "priority", "type", "impact", "status", "subject", "msg", "append",
];

/// Every name handed to the interpreter, in input order.
pub(crate) const ALL: [&str; 20] = [
    "selections",
    "hostname",
    "name",
    "email",
    "ip",
    "mac",
    "username",
    "os",
    "input_name",
    "input_email",
    "input_phone",
    "priority",
    "type",
    "impact",
    "status",
    "subject",
    "msg",
    "message",
    "append",
    "exception",
];

/// The starting value of each name in [`ALL`], as text.
pub(crate) fn initial_values(input: &RuleInput) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        input.selections.join("\n"),
        input.hostname.clone(),
        input.name.clone(),
        input.email.clone(),
        input.ip.clone(),
        input.mac.clone(),
        input.username.clone(),
        input.os.clone(),
        opt(&input.input_name),
        opt(&input.input_email),
        opt(&input.input_phone),
        input.priority.clone(),
        input.r#type.clone(),
        input.impact.clone(),
        input.status.clone(),
        input.subject.clone(),
        input.msg.clone(),
        input.msg.clone(),
        input.append.clone(),
        String::new(),
    ]
}

/// The Python expression appended to the script that yields every variable at the end.
pub(crate) fn readback_expression() -> String {
    format!("({},)", ALL.join(", "))
}

/// A submitted value as text, the way Python's `str()` shows it; `None` is `""`.
/// Returns the text and, for anything but a string, a warning.
pub(crate) fn as_text(name: &str, value: &MontyObject) -> (String, Option<RuleDiagnostic>) {
    let text = match value {
        MontyObject::String(s) => return (s.clone(), None),
        MontyObject::None => String::new(),
        other => other.to_string(),
    };
    let shown = if text.is_empty() {
        "empty text".to_owned()
    } else {
        format!("{text:?}")
    };
    let warning = RuleDiagnostic {
        line: 0,
        column: 0,
        message: format!(
            "`{name}` ended as {}, not text: submitted as {shown}",
            value.type_name()
        ),
        kind: DiagnosticKind::Runtime,
    };
    (text, Some(warning))
}

/// An interpreter value as JSON, for the admin's view of the final variables.
pub(crate) fn to_json(value: &MontyObject) -> serde_json::Value {
    use serde_json::Value;
    match value {
        MontyObject::None => Value::Null,
        MontyObject::Bool(b) => Value::Bool(*b),
        MontyObject::Int(i) => Value::from(*i),
        MontyObject::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(value.py_repr()), Value::Number),
        MontyObject::String(s) => Value::String(s.clone()),
        MontyObject::List(items)
        | MontyObject::Tuple(items)
        | MontyObject::Set(items)
        | MontyObject::FrozenSet(items) => Value::Array(items.iter().map(to_json).collect()),
        MontyObject::Dict(pairs) => {
            let mut map = serde_json::Map::new();
            for (k, v) in pairs.iter() {
                let key = match k {
                    MontyObject::String(s) => s.clone(),
                    other => other.py_repr(),
                };
                map.insert(key, to_json(v));
            }
            Value::Object(map)
        }
        other => Value::String(other.py_repr()),
    }
}
