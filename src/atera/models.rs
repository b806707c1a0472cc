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

/// A `*PagedResult`. One item that does not decode is skipped (and logged) rather than failing
/// the whole list: a single odd ticket of another customer must not hide the others. Only when
/// no item decodes is the list an error, naming the first bad item's field
/// (`[0].EndUserID: …`, below `items`).
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: i32,
    pub total_pages: i32,
    /// How many items the page held, skipped ones included: a page is short (the last) only by
    /// this count, never because an item was skipped.
    pub listed: usize,
}

#[derive(Deserialize)]
struct RawPaged {
    #[serde(default, deserialize_with = "null_as_empty")]
    items: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_zero")]
    page: i32,
    #[serde(default, rename = "totalPages", deserialize_with = "null_as_zero")]
    total_pages: i32,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Paged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawPaged::deserialize(deserializer)?;
        let total = raw.items.len();
        let mut items = Vec::with_capacity(total);
        let mut first_error = None;
        for (i, value) in raw.items.into_iter().enumerate() {
            match serde_path_to_error::deserialize::<_, T>(value) {
                Ok(item) => items.push(item),
                Err(e) => {
                    let at = e.path().to_string();
                    let at = if at == "." {
                        String::new()
                    } else {
                        format!(".{at}")
                    };
                    tracing::warn!(item = i, field = %at, error = %e.inner(), "skipping a list item that could not be read");
                    first_error.get_or_insert_with(|| format!("[{i}]{at}: {}", e.inner()));
                }
            }
        }
        if items.is_empty() {
            if let Some(e) = first_error {
                return Err(serde::de::Error::custom(e));
            }
        }
        Ok(Self {
            items,
            page: raw.page,
            total_pages: raw.total_pages,
            listed: total,
        })
    }
}

/// A count that may be `null` or missing (read as 0).
fn null_as_zero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::Number(n)) => {
                n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0)
            }
            Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        },
    )
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `ContactDto`, the properties this app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Contact {
    #[serde(rename = "EndUserID", default, deserialize_with = "positive_id")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "CustomerID", default, deserialize_with = "positive_id")]
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
    #[serde(rename = "AgentID", default, deserialize_with = "positive_id")]
    pub agent_id: Option<i64>,
    #[serde(rename = "CustomerID", default, deserialize_with = "positive_id")]
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
    #[serde(rename = "TicketID", default, deserialize_with = "positive_id")]
    pub ticket_id: Option<i64>,
    #[serde(
        rename = "TicketNumber",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    pub ticket_number: Option<String>,
    #[serde(rename = "TicketTitle")]
    pub title: Option<String>,
    #[serde(
        rename = "TicketStatus",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    pub status: Option<String>,
    #[serde(rename = "EndUserEmail")]
    pub end_user_email: Option<String>,
    #[serde(rename = "TicketCreatedDate")]
    pub created: Option<String>,
    #[serde(rename = "FirstComment")]
    pub first_comment: Option<String>,
    #[serde(rename = "EndUserID", default, deserialize_with = "positive_id")]
    pub end_user_id: Option<i64>,
    #[serde(rename = "LastTechnicianComment")]
    pub last_technician_comment: Option<String>,
    #[serde(rename = "LastTechnicianCommentTimestamp")]
    pub last_technician_comment_at: Option<String>,
}

/// An id as Atera sends it: a number or digits in a string. Zero and negative ids (a
/// technician comment's `EndUserID: 0`, a ticket's `CustomerID: 0`) mean "none".
fn positive_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let id = match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(n.as_i64().ok_or_else(|| {
            serde::de::Error::custom(format!("the id {n} is not a whole number"))
        })?),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(serde_json::Value::String(s)) => Some(s.trim().parse::<i64>().map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid type: string {s:?}, expected an id (a number)"
            ))
        })?),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "invalid type: {other}, expected an id (a number)"
            )))
        }
    };
    Ok(id.filter(|id| *id > 0))
}

/// A boolean that may be `null` (read as false).
fn null_as_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
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
    #[serde(rename = "CustomerID", default, deserialize_with = "positive_id")]
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
    #[serde(rename = "EndUserID", default, deserialize_with = "positive_id")]
    pub end_user_id: Option<i64>,
    #[serde(
        rename = "TechnicianContactID",
        default,
        deserialize_with = "positive_id"
    )]
    pub technician_contact_id: Option<i64>,
    #[serde(rename = "FirstName")]
    pub first_name: Option<String>,
    #[serde(rename = "LastName")]
    pub last_name: Option<String>,
    #[serde(rename = "IsInternal", default, deserialize_with = "null_as_false")]
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
    fn live_tenant_shapes_read() {
        // A technician's comment: EndUserID 0, IsInternal null, ids as strings.
        let c: Comment = serde_json::from_str(
            r#"{"Date":"2026-07-13T22:36:33.5766667","Comment":"hi","EndUserID":0,"TechnicianContactID":"12","IsInternal":null}"#,
        )
        .unwrap();
        assert_eq!(
            (c.end_user_id, c.technician_contact_id, c.is_internal),
            (None, Some(12), false)
        );
        // Null-valued fields left out entirely; numeric enums (older generation).
        let t: Ticket =
            serde_json::from_str(r#"{"TicketID":7,"TicketStatus":3,"CustomerID":0}"#).unwrap();
        assert_eq!((t.ticket_id, t.status.as_deref()), (Some(7), Some("3")));
        let p: Paged<Contact> = serde_json::from_str(
            r#"{"items":[],"page":null,"totalPages":"2","nextLink":"","prevLink":"x?page=0"}"#,
        )
        .unwrap();
        assert_eq!((p.page, p.total_pages), (0, 2));
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
        assert_eq!(
            super::fold_email(" \u{200f}Bob@Contoso.COM\u{200e} "),
            "bob@contoso.com"
        );
    }
}
