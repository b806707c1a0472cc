//! Wire types, named as in Atera's OpenAPI spec (`reference/atera-openapi.json`). Request types
//! serialise only the properties the spec allows; response types tolerate unknown properties.

use serde::{Deserialize, Deserializer, Serialize};

/// `CreateTicketModel`. Either `end_user_id` or all three `end_user_*` name/email fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTicket {
    #[serde(rename = "TicketTitle")]
    pub title: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "TicketPriority")]
    pub priority: String,
    #[serde(rename = "TicketImpact")]
    pub impact: String,
    #[serde(rename = "TicketStatus")]
    pub status: String,
    #[serde(rename = "TicketType")]
    pub ticket_type: String,
    #[serde(rename = "EndUserID", skip_serializing_if = "Option::is_none")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "EndUserFirstName", skip_serializing_if = "Option::is_none")]
    pub end_user_first_name: Option<String>,
    #[serde(rename = "EndUserLastName", skip_serializing_if = "Option::is_none")]
    pub end_user_last_name: Option<String>,
    #[serde(rename = "EndUserEmail", skip_serializing_if = "Option::is_none")]
    pub end_user_email: Option<String>,
}

/// `CreateContactRequest`, the properties this app sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateContact {
    #[serde(rename = "Email")]
    pub email: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: i64,
    #[serde(rename = "Firstname")]
    pub first_name: String,
    #[serde(rename = "Lastname")]
    pub last_name: String,
    #[serde(rename = "Phone", skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `Result`: the id of what was created. The spec types `ActionID` as a string; clients in the
/// wild read a number, so both are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionResult {
    #[serde(rename = "ActionID", deserialize_with = "id_from_string_or_number")]
    pub action_id: i64,
}

fn id_from_string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("ActionID {s:?} is not a number"))),
    }
}

/// A `*PagedResult`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Paged<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_as_empty")]
    pub items: Vec<T>,
    #[serde(default)]
    pub page: i32,
    #[serde(default, rename = "totalPages")]
    pub total_pages: i32,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `ContactDto`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Contact {
    #[serde(rename = "EndUserID")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "CustomerID")]
    pub customer_id: Option<i64>,
    #[serde(rename = "CustomerName")]
    pub customer_name: Option<String>,
    #[serde(rename = "Firstname")]
    pub first_name: Option<String>,
    #[serde(rename = "Lastname")]
    pub last_name: Option<String>,
    #[serde(rename = "Email")]
    pub email: Option<String>,
}

/// `AgentDto`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Agent {
    #[serde(rename = "AgentID")]
    pub agent_id: Option<i64>,
    #[serde(rename = "CustomerID")]
    pub customer_id: Option<i64>,
    #[serde(rename = "CustomerName")]
    pub customer_name: Option<String>,
    #[serde(rename = "MachineName")]
    pub machine_name: Option<String>,
    #[serde(rename = "MacAddresses", default)]
    pub mac_addresses: Option<Vec<String>>,
    #[serde(rename = "LastSeen")]
    pub last_seen: Option<String>,
}

/// `AccountInfoResponse`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Account {
    #[serde(rename = "AccountID")]
    pub account_id: Option<String>,
    #[serde(rename = "CompanyName")]
    pub company_name: Option<String>,
}

/// `TicketDto`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Ticket {
    #[serde(rename = "TicketID")]
    pub ticket_id: Option<i64>,
    #[serde(
        rename = "TicketNumber",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    pub ticket_number: Option<String>,
    #[serde(rename = "TicketTitle")]
    pub title: Option<String>,
    #[serde(rename = "TicketStatus")]
    pub status: Option<String>,
    #[serde(rename = "EndUserEmail")]
    pub end_user_email: Option<String>,
    #[serde(rename = "TicketCreatedDate")]
    pub created: Option<String>,
    #[serde(rename = "FirstComment")]
    pub first_comment: Option<String>,
    #[serde(rename = "EndUserID")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "LastTechnicianComment")]
    pub last_technician_comment: Option<String>,
    #[serde(rename = "LastTechnicianCommentTimestamp")]
    pub last_technician_comment_at: Option<String>,
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
    )
}

/// `CustomerDto`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Customer {
    #[serde(rename = "CustomerID")]
    pub customer_id: Option<i64>,
    #[serde(rename = "CustomerName")]
    pub customer_name: Option<String>,
}

/// `TicketCommentDto`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Comment {
    #[serde(rename = "Date")]
    pub date: Option<String>,
    #[serde(rename = "Comment")]
    pub text: Option<String>,
    #[serde(rename = "CommentHtml")]
    pub html: Option<String>,
    #[serde(rename = "EndUserID")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "TechnicianContactID")]
    pub technician_contact_id: Option<i64>,
    #[serde(rename = "FirstName")]
    pub first_name: Option<String>,
    #[serde(rename = "LastName")]
    pub last_name: Option<String>,
    #[serde(rename = "IsInternal", default)]
    pub is_internal: bool,
}

/// `AddCommentToTicketModel` for a comment written by the end user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateEndUserComment {
    #[serde(rename = "CommentText")]
    pub text: String,
    #[serde(rename = "EnduserCommentDetails")]
    pub end_user: EndUserCommentDetails,
}

/// `EnduserCommentDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndUserCommentDetails {
    #[serde(rename = "EnduserId")]
    pub end_user_id: i64,
}

/// `ProblemDetails`, Atera's error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProblemDetails {
    pub title: Option<String>,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_id_is_read_as_string_or_number() {
        let a: ActionResult = serde_json::from_str(r#"{"ActionID":"4711"}"#).unwrap();
        let b: ActionResult = serde_json::from_str(r#"{"ActionID":4711}"#).unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<ActionResult>(r#"{"ActionID":"abc"}"#).is_err());
    }

    #[test]
    fn create_ticket_with_end_user_id_sends_no_name_fields() {
        let body = serde_json::to_value(CreateTicket {
            end_user_id: Some(5),
            ..Default::default()
        })
        .unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert!(!keys.contains(&"EndUserEmail"));
    }

    #[test]
    fn paged_items_may_be_null() {
        let page: Paged<Contact> =
            serde_json::from_str(r#"{"items":null,"page":1,"totalPages":0}"#).unwrap();
        assert!(page.items.is_empty());
    }
}

/// An e-mail address for comparison: trimmed, lower-case, without the invisible direction marks
/// and zero-width characters that right-to-left locales and copy-paste leave in strings.
pub fn fold_email(email: &str) -> String {
    email
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
            )
        })
        .collect::<String>()
        .trim()
        .to_lowercase()
}

#[cfg(test)]
mod email_tests {
    #[test]
    fn emails_compare_without_case_spaces_or_bidi_marks() {
        assert_eq!(super::fold_email(" \u{200f}Bob@Contoso.COM\u{200e} "), "bob@contoso.com");
    }
}
