//! Atera's rules beyond the schema for the writes the sandbox supports (new contact, new ticket,
//! new comment), and the writes themselves. Bodies reach here already validated against the spec.

use serde_json::Value;

use super::api::Problem;
use super::store::{NewTicket, Store};
use super::validate::{self, Violation};
use super::StoredComment;

/// Ticket statuses Atera knows (matched case-insensitively, stored in this spelling).
const TICKET_STATUSES: [&str; 4] = ["Open", "Pending", "Resolved", "Closed"];

fn violation(path: &str, message: &str) -> Violation {
    Violation {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// A string property that is present, not null and not blank.
fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn looks_like_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !email.contains(' ')
    })
}

pub(crate) fn create_contact(store: &mut Store, body: &Value) -> Result<i64, Problem> {
    let email = text(body, "Email").unwrap_or_default();
    if !looks_like_email(email) {
        return Err(Problem::invalid(vec![violation(
            "Email",
            "is not an email address",
        )]));
    }
    let customer_id = match (
        body.get("CustomerID").and_then(Value::as_i64),
        text(body, "CustomerName"),
    ) {
        (Some(id), _) => store.customer(id).map(|c| c.id).ok_or_else(|| {
            Problem::invalid(vec![violation(
                "CustomerID",
                &format!("no customer with id {id}"),
            )])
        })?,
        (None, Some(name)) => store.customer_by_name(name).map(|c| c.id).ok_or_else(|| {
            Problem::invalid(vec![violation("CustomerName", "no customer has this name")])
        })?,
        (None, None) => {
            return Err(Problem::invalid(vec![violation(
                "CustomerID",
                "CustomerID or CustomerName is required",
            )]));
        }
    };
    let first = text(body, "Firstname").unwrap_or_default();
    let last = text(body, "Lastname").unwrap_or_default();
    Ok(store.add_contact(customer_id, first, last, email.trim(), text(body, "Phone")))
}

pub(crate) fn create_ticket(store: &mut Store, body: Value) -> Result<i64, Problem> {
    let mut violations = Vec::new();
    for field in ["TicketTitle", "Description"] {
        if text(&body, field).is_none() {
            violations.push(violation(field, "is required and must not be empty"));
        }
    }
    let status = match text(&body, "TicketStatus") {
        None => "Open",
        Some(s) => TICKET_STATUSES
            .into_iter()
            .find(|k| k.eq_ignore_ascii_case(s.trim()))
            .unwrap_or_else(|| {
                violations.push(violation(
                    "TicketStatus",
                    &format!("must be one of {}", TICKET_STATUSES.join(", ")),
                ));
                "Open"
            }),
    };
    let end_user = match body.get("EndUserID").and_then(Value::as_i64) {
        Some(id) if store.contact(id).is_some() => Some(id),
        Some(id) => {
            violations.push(violation("EndUserID", &format!("no contact with id {id}")));
            None
        }
        None => {
            let names = ["EndUserFirstName", "EndUserLastName", "EndUserEmail"];
            let missing: Vec<&str> = names
                .into_iter()
                .filter(|n| text(&body, n).is_none())
                .collect();
            if !missing.is_empty() {
                violations.push(violation(
                    &missing.join(", "),
                    "EndUserID or all of EndUserFirstName, EndUserLastName and EndUserEmail are required",
                ));
            } else if !text(&body, "EndUserEmail").is_some_and(looks_like_email) {
                violations.push(violation("EndUserEmail", "is not an email address"));
            }
            None
        }
    };
    if !violations.is_empty() {
        return Err(Problem::invalid(violations));
    }
    let end_user_id = match end_user {
        Some(id) => id,
        None => {
            let email = text(&body, "EndUserEmail").unwrap_or_default().trim();
            match store.contact_by_exact_email(email) {
                Some(c) => c.contact.end_user_id,
                None => {
                    let customer = store.unassigned_customer();
                    let first = text(&body, "EndUserFirstName").unwrap_or_default();
                    let last = text(&body, "EndUserLastName").unwrap_or_default();
                    store.add_contact(customer, first, last, email, text(&body, "EndUserPhone"))
                }
            }
        }
    };
    // Enum values were checked against the spec already; absent ones get Atera's defaults.
    let pick = |name: &str, default: &str| text(&body, name).unwrap_or(default).to_owned();
    let new = NewTicket {
        title: text(&body, "TicketTitle").unwrap_or_default().to_owned(),
        description: text(&body, "Description").unwrap_or_default().to_owned(),
        priority: pick("TicketPriority", "Low"),
        impact: pick("TicketImpact", "NoImpact"),
        ticket_type: pick("TicketType", "Problem"),
        status: status.to_owned(),
        end_user_id,
        request_json: body,
    };
    Ok(store.add_ticket(new))
}

pub(crate) fn add_comment(store: &mut Store, ticket_id: i64, body: &Value) -> Result<i64, Problem> {
    if store.ticket(ticket_id).is_none() {
        return Err(Problem::not_found(format!(
            "Ticket {ticket_id} was not found."
        )));
    }
    let mut violations = Vec::new();
    let comment_text = text(body, "CommentText");
    if comment_text.is_none() {
        violations.push(violation(
            "CommentText",
            "is required and must not be empty",
        ));
    }
    let technician = body
        .get("TechnicianCommentDetails")
        .filter(|v| v.is_object());
    let end_user = body.get("EnduserCommentDetails").filter(|v| v.is_object());
    let mut enduser_id = None;
    match (technician, end_user) {
        (Some(_), Some(_)) | (None, None) => violations.push(violation(
            "TechnicianCommentDetails",
            "exactly one of TechnicianCommentDetails and EnduserCommentDetails is required",
        )),
        (None, Some(details)) => match details.get("EnduserId").and_then(Value::as_i64) {
            Some(id) if store.contact(id).is_some() => enduser_id = Some(id),
            Some(id) => violations.push(violation(
                "EnduserCommentDetails.EnduserId",
                &format!("no contact with id {id}"),
            )),
            None => violations.push(violation("EnduserCommentDetails.EnduserId", "is required")),
        },
        (Some(details), None) => {
            if details
                .get("TechnicianId")
                .and_then(Value::as_i64)
                .is_none_or(|id| id < 1)
            {
                violations.push(violation(
                    "TechnicianCommentDetails.TechnicianId",
                    "is required",
                ));
            }
        }
    }
    if !violations.is_empty() {
        return Err(Problem::invalid(violations));
    }
    let technician_id = technician
        .and_then(|d| d.get("TechnicianId"))
        .and_then(Value::as_i64);
    let comment = StoredComment {
        date: text(body, "CommentTimestampUTC")
            .and_then(validate::parse_date_time)
            .map_or_else(super::store::now, super::store::format_time),
        text: comment_text.unwrap_or_default().to_owned(),
        is_internal: technician
            .and_then(|d| d.get("IsInternal"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        technician: technician.map(|d| {
            text(d, "TechnicianEmail").map_or_else(
                || format!("Technician #{}", technician_id.unwrap_or_default()),
                str::to_owned,
            )
        }),
        enduser_id,
    };
    store
        .add_comment(ticket_id, comment, technician_id)
        .ok_or_else(|| Problem::not_found(format!("Ticket {ticket_id} was not found.")))
}
