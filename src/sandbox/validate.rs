//! The embedded Atera OpenAPI spec and a small JSON-schema subset validator over it.
//!
//! Only what the spec uses is supported: `type`, `format` (int32/int64, date-time, uuid),
//! `nullable`, `enum`, `$ref`, `properties`, `required`, `additionalProperties`, `minLength` and
//! `items`. As in OpenAPI 3.0, keywords next to a `$ref` are ignored, so a property that is a
//! `$ref` to an enum is not nullable.

use std::sync::OnceLock;

use serde_json::Value;

/// Atera's own OpenAPI 3 document for API v3.
const SPEC_TEXT: &str = include_str!("atera-openapi.json");

/// Prefix of local schema references.
const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// How deep `$ref`/nesting may go before validation gives up (guards against reference cycles).
const MAX_DEPTH: u32 = 64;

static SPEC: OnceLock<Result<Value, (usize, usize)>> = OnceLock::new();

/// The parsed spec, or the line and column where parsing failed.
pub(crate) fn spec() -> Result<&'static Value, (usize, usize)> {
    SPEC.get_or_init(|| serde_json::from_str(SPEC_TEXT).map_err(|e| (e.line(), e.column())))
        .as_ref()
        .map_err(|pos| *pos)
}

/// A schema from `components.schemas`, if the spec has it.
pub(crate) fn schema(name: &str) -> Option<&'static Value> {
    spec().ok()?.get("components")?.get("schemas")?.get(name)
}

/// The schema name that the operation `method` (lower-case) on `path_template` takes as its
/// `application/json` request body, read from the spec.
pub(crate) fn request_schema(method: &str, path_template: &str) -> Option<&'static str> {
    let reference = spec()
        .ok()?
        .get("paths")?
        .get(path_template)?
        .get(method)?
        .get("requestBody")?
        .get("content")?
        .get("application/json")?
        .get("schema")?
        .get("$ref")?
        .as_str()?;
    reference.strip_prefix(SCHEMA_REF_PREFIX)
}

/// The allowed values of an enum schema such as `TicketPriorityOptions`.
pub(crate) fn enum_values(name: &str) -> Vec<&'static str> {
    schema(name)
        .and_then(|s| s.get("enum"))
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// One way in which a value breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// Where: `""` for the whole body, `Field`, `Outer.Inner` or `List[2]`.
    pub path: String,
    /// What is wrong, without the path.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "request body: {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Validates `body` against `components.schemas.<schema_name>` of the embedded Atera spec.
///
/// Returns every violation found, each as `"Field: what is wrong"`.
pub fn validate_request_body(schema_name: &str, body: &Value) -> Result<(), Vec<String>> {
    validate_named(schema_name, body).map_err(|v| v.iter().map(ToString::to_string).collect())
}

/// Like [`validate_request_body`], keeping paths and messages apart.
pub(crate) fn validate_named(schema_name: &str, body: &Value) -> Result<(), Vec<Violation>> {
    let Some(schema) = schema(schema_name) else {
        return Err(vec![Violation {
            path: String::new(),
            message: format!("the Atera spec has no schema named {schema_name:?}"),
        }]);
    };
    let mut out = Vec::new();
    check(schema, Some(schema_name), body, "", &mut out, 0);
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn push(out: &mut Vec<Violation>, path: &str, message: String) {
    out.push(Violation {
        path: path.to_owned(),
        message,
    });
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A short, printable rendering of a request value for error messages.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(37).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(
    schema: &Value,
    name: Option<&str>,
    value: &Value,
    path: &str,
    out: &mut Vec<Violation>,
    depth: u32,
) {
    if depth > MAX_DEPTH {
        push(out, path, "is nested too deeply".to_owned());
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference.strip_prefix(SCHEMA_REF_PREFIX);
        match target.and_then(|t| self::schema(t).map(|s| (t, s))) {
            Some((target_name, target)) => {
                check(target, Some(target_name), value, path, out, depth + 1)
            }
            None => push(
                out,
                path,
                format!("the spec's reference {reference:?} cannot be resolved"),
            ),
        }
        return;
    }
    let declared_type = schema.get("type").and_then(Value::as_str);
    if value.is_null() {
        let nullable = schema
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if declared_type.is_some() && !nullable {
            push(out, path, "must not be null".to_owned());
        }
        return;
    }
    if let Some(expected) = declared_type {
        if !check_type(schema, expected, value, path, out) {
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            let of = name.map(|n| format!(" ({n})")).unwrap_or_default();
            push(
                out,
                path,
                format!("{} is not one of{of}: {}", show(value), list.join(", ")),
            );
        }
    }
    if let (Some(min), Some(text)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) {
        if (text.chars().count() as u64) < min {
            push(
                out,
                path,
                format!("must be at least {min} character(s) long"),
            );
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, None, item, &format!("{path}[{i}]"), out, depth + 1);
        }
    }
    if let Some(object) = value.as_object() {
        check_object(schema, name, object, path, out, depth);
    }
}

/// Checks `type` and `format`; returns false when the type is wrong (no further checks then).
fn check_type(
    schema: &Value,
    expected: &str,
    value: &Value,
    path: &str,
    out: &mut Vec<Violation>,
) -> bool {
    let format = schema.get("format").and_then(Value::as_str);
    let ok = match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    };
    if !ok {
        let shown = format
            .map(|f| format!("{expected} ({f})"))
            .unwrap_or_else(|| expected.to_owned());
        push(
            out,
            path,
            format!("expected {shown}, got {} {}", type_name(value), show(value)),
        );
        return false;
    }
    let problem = match (expected, format) {
        ("integer", Some("int32"))
            if value.as_i64().and_then(|n| i32::try_from(n).ok()).is_none() =>
        {
            Some("is out of range for int32")
        }
        ("integer", Some("int64")) if value.as_i64().is_none() => Some("is out of range for int64"),
        ("string", Some("date-time")) if !value.as_str().is_some_and(is_date_time) => {
            Some("is not a date-time (ISO 8601)")
        }
        ("string", Some("uuid")) if !value.as_str().is_some_and(is_uuid) => Some("is not a UUID"),
        _ => None,
    };
    if let Some(problem) = problem {
        push(out, path, format!("{} {problem}", show(value)));
    }
    true
}

fn check_object(
    schema: &Value,
    name: Option<&str>,
    object: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<Violation>,
    depth: u32,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(key) {
                push(out, &child_path(path, key), "is required".to_owned());
            }
        }
    }
    let additional = schema.get("additionalProperties");
    for (key, item) in object {
        let item_path = child_path(path, key);
        if let Some(property) = properties.and_then(|p| p.get(key)) {
            check(property, None, item, &item_path, out, depth + 1);
            continue;
        }
        match additional {
            Some(Value::Bool(false)) => {
                let known: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let owner = name.unwrap_or("this object");
                push(
                    out,
                    &item_path,
                    format!(
                        "unknown property; {owner} allows only: {}",
                        known.join(", ")
                    ),
                );
            }
            Some(extra @ Value::Object(_)) => check(extra, None, item, &item_path, out, depth + 1),
            _ => {}
        }
    }
}

/// ISO 8601 as ASP.NET reads it: `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and `Z` or an offset.
pub(crate) fn is_date_time(text: &str) -> bool {
    parse_date_time(text).is_some()
}

/// Parses the date-time forms [`is_date_time`] accepts, as UTC (no offset means UTC).
pub(crate) fn parse_date_time(text: &str) -> Option<time::OffsetDateTime> {
    crate::atera::instant::parse_instant(text)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sandbox_spec_parses_and_has_the_schemas_it_needs() {
        assert!(spec().is_ok());
        assert_eq!(
            request_schema("post", "/api/v3/tickets"),
            Some("CreateTicketModel")
        );
        assert_eq!(
            request_schema("post", "/api/v3/contacts"),
            Some("CreateContactRequest")
        );
        assert_eq!(
            request_schema("post", "/api/v3/tickets/{ticketId}/comments"),
            Some("AddCommentToTicketModel")
        );
        assert_eq!(
            enum_values("TicketPriorityOptions"),
            ["Low", "Medium", "High", "Critical"]
        );
    }

    #[test]
    fn sandbox_validator_accepts_a_correct_ticket() {
        let body = json!({
            "TicketTitle": "Printer on fire", "Description": "<p>Help</p>", "TicketPriority": "High",
            "TicketImpact": "Minor", "TicketType": "Incident", "TicketStatus": "Open", "EndUserID": 5001,
            "EndUserPhone": null
        });
        assert_eq!(validate_request_body("CreateTicketModel", &body), Ok(()));
    }

    #[test]
    fn sandbox_validator_rejects_unknown_properties_types_and_enums() {
        let errors = validate_request_body("CreateTicketModel", &json!({"Foo": 1})).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("Foo: unknown property"), "{errors:?}");

        let errors = validate_request_body(
            "CreateTicketModel",
            &json!({"TicketPriority": "Urgent", "EndUserID": "12", "TicketImpact": null, "TicketTitle": 3}),
        )
        .unwrap_err();
        let joined = errors.join("\n");
        assert!(
            joined
                .contains("TicketPriority: \"Urgent\" is not one of (TicketPriorityOptions): Low"),
            "{joined}"
        );
        assert!(
            joined.contains("EndUserID: expected integer (int64)"),
            "{joined}"
        );
        assert!(
            joined.contains("TicketImpact: must not be null"),
            "{joined}"
        );
        assert!(joined.contains("TicketTitle: expected string"), "{joined}");

        assert!(validate_request_body("CreateTicketModel", &json!([1])).is_err());
        assert!(validate_request_body("NoSuchSchema", &json!({})).is_err());
    }

    #[test]
    fn sandbox_validator_handles_required_min_length_nested_refs_and_formats() {
        let errors =
            validate_request_body("CreateContactRequest", &json!({"CustomerID": 1.5})).unwrap_err();
        assert!(
            errors.contains(&"Email: is required".to_owned()),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("CustomerID: expected integer")),
            "{errors:?}"
        );
        let errors =
            validate_request_body("CreateContactRequest", &json!({"Email": ""})).unwrap_err();
        assert_eq!(errors, ["Email: must be at least 1 character(s) long"]);

        let comment = json!({"CommentText": "x", "CommentTimestampUTC": "yesterday",
            "TechnicianCommentDetails": {"TechnicianId": 1, "IsInternal": "yes", "Extra": 1}});
        let errors = validate_request_body("AddCommentToTicketModel", &comment)
            .unwrap_err()
            .join("\n");
        assert!(
            errors.contains("CommentTimestampUTC: \"yesterday\" is not a date-time"),
            "{errors}"
        );
        assert!(
            errors.contains("TechnicianCommentDetails.IsInternal: expected boolean"),
            "{errors}"
        );
        assert!(
            errors.contains("TechnicianCommentDetails.Extra: unknown property"),
            "{errors}"
        );

        let agent =
            json!({"MachineName": "PC", "MacAddresses": ["aa", 3], "Memory": 5_000_000_000_i64});
        let errors = validate_request_body("AgentDto", &agent)
            .unwrap_err()
            .join("\n");
        assert!(
            errors.contains("MacAddresses[1]: expected string"),
            "{errors}"
        );
        assert!(
            errors.contains("Memory: 5000000000 is out of range for int32"),
            "{errors}"
        );
        assert!(validate_request_body(
            "ProblemDetails",
            &json!({"title": "x", "errors": {"a": ["b"]}})
        )
        .is_ok());
    }

    #[test]
    fn sandbox_date_times_parse_like_aspnet() {
        for ok in [
            "2025-01-02",
            "2025-01-02T03:04:05",
            "2025-01-02T03:04:05Z",
            "2025-01-02T03:04:05.123+02:00",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in ["", "today", "2025-13-01", "02/01/2025"] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
    }
}
