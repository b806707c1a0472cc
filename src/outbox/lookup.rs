//! Finding the ticket an earlier attempt may have created, by the submission's reference.
//!
//! Atera has no idempotency key, so after an answer was lost the only proof of a ticket is the
//! ticket itself. This lookup is built so that it can neither miss nor mismatch:
//!
//! - **A window bounded by time, not by count.** It reads `GET /tickets/lastmodified` from the
//!   first attempt minus [`LOOKUP_MARGIN`] to its last page, so neither the list's order (Atera
//!   documents none) nor other customers' volume matters. The margin covers any time zone Atera
//!   may read the `date` in (UTC−12 … UTC+14) and clock skew.
//! - **An exact marker in its own place.** The app writes `Helpdesk Button ref <reference>` as
//!   the first text of the ticket body ([`crate::ticket::render_ticket`]). A ticket counts only
//!   when its body *starts* with that marker and its title is the one this submission sent, so a
//!   ticket that quotes another's reference (a forwarded mail, a technician's note) is never
//!   adopted.
//! - **Inconclusive is not "absent".** A page that cannot be read, an item carrying the marker
//!   whose id cannot be read, or a window larger than [`MAX_LOOKUP_PAGES`] is an error: the
//!   caller waits and looks again, and never sends a second `POST` on it.
//!
//! It reads items as raw JSON: one ticket of another customer in an odd shape must not make the
//! whole lookup fail, and only the two fields it matches on are read.

use std::time::Duration;

use serde_json::Value;

use crate::atera::{AteraClient, AteraError};

/// How far before the first attempt the window starts: Atera may read the `date` parameter in
/// the account's time zone, which can be up to 14 hours off UTC, plus an hour for clock skew.
pub const LOOKUP_MARGIN: Duration = Duration::from_secs(15 * 3600);
/// Pages (of 50) one lookup reads at most: 10,000 tickets modified inside the window. A larger
/// window is inconclusive rather than silently cut.
pub const MAX_LOOKUP_PAGES: u32 = 200;

/// The marker the ticket body starts with.
pub fn marker(reference: &str) -> String {
    format!("Helpdesk Button ref {reference}")
}

/// Why a lookup could not tell whether the ticket exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Atera(#[from] AteraError),
    #[error("Atera lists more than {pages} pages of tickets changed since {since}; the lookup is inconclusive")]
    TooLarge { pages: u32, since: String },
    #[error("a ticket carries this submission's reference but its id could not be read ({0})")]
    UnreadableMatch(String),
}

impl LookupError {
    /// Whether Atera asked us to slow down.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Atera(AteraError::RateLimited { retry_after }) => *retry_after,
            _ => None,
        }
    }
}

/// What one ticket in the window is, for this submission.
fn matches(item: &Value, reference: &str, title: &str) -> Result<Option<i64>, LookupError> {
    let body = item
        .get("FirstComment")
        .or_else(|| item.get("Description"))
        .and_then(Value::as_str);
    let Some(body) = body else {
        // No readable body: if the title is the one sent, it may be this ticket.
        let their_title = item
            .get("TicketTitle")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !their_title.is_empty() && same_title(their_title, title) {
            return Err(LookupError::UnreadableMatch(
                "a ticket with this title has no readable first comment".into(),
            ));
        }
        return Ok(None);
    };
    if !starts_with_marker(body, reference) {
        return Ok(None);
    }
    let their_title = item
        .get("TicketTitle")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !same_title(their_title, title) {
        tracing::info!(
            reference,
            "a ticket quotes this reference but is not the one sent"
        );
        return Ok(None);
    }
    match item.get("TicketID") {
        Some(Value::Number(n)) => n.as_i64().filter(|id| *id > 0).map(Some),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok().filter(|id| *id > 0).map(Some),
        _ => None,
    }
    .ok_or_else(|| {
        LookupError::UnreadableMatch(format!(
            "TicketID is {}",
            item.get("TicketID")
                .map_or("missing".into(), Value::to_string)
        ))
    })
}

/// Whether `body` (HTML or Atera's plain-text rendering of it) begins with this reference's
/// marker, followed by the end of the reference (not a longer one that shares its start).
pub fn starts_with_marker(body: &str, reference: &str) -> bool {
    let text = leading_text(body, 200);
    let wanted = marker(reference);
    text.strip_prefix(&wanted)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
}

/// The first `max` characters of visible text: tags dropped, the usual entities decoded,
/// whitespace and invisible direction marks at the start skipped, runs of spaces folded.
fn leading_text(body: &str, max: usize) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if out.chars().count() >= max {
            break;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                push_space(&mut out);
            }
            _ if in_tag => {}
            '&' => {
                let (decoded, used) = [
                    ("&nbsp;", ' '),
                    ("&amp;", '&'),
                    ("&lt;", '<'),
                    ("&gt;", '>'),
                    ("&#160;", ' '),
                ]
                .iter()
                .find(|(entity, _)| body_starts_with_entity(rest, entity))
                .map_or(('&', 0), |(entity, ch)| (*ch, entity.len() - 1));
                rest = &rest[used..];
                if decoded == ' ' {
                    push_space(&mut out);
                } else {
                    out.push(decoded);
                }
            }
            '\u{200e}' | '\u{200f}' | '\u{feff}' | '\u{202a}'..='\u{202e}' => {}
            c if c.is_whitespace() => push_space(&mut out),
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

fn body_starts_with_entity(rest: &str, entity: &str) -> bool {
    rest.starts_with(&entity[1..])
}

fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Titles compared the way Atera may store them: trimmed, whitespace folded, case ignored, and
/// cut (Atera may shorten a long title, so a stored title that is a long enough start of ours
/// counts).
fn same_title(theirs: &str, ours: &str) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (theirs, ours) = (fold(theirs), fold(ours));
    theirs == ours || (theirs.chars().count() >= 40 && ours.starts_with(&theirs))
}

/// Looks for the ticket carrying `reference` (sent with `title`) among the tickets modified since
/// `since_unix` minus [`LOOKUP_MARGIN`], reading the window to its last page. Every request it
/// makes is counted in `requests`.
///
/// # Errors
/// [`LookupError`] when the window could not be read completely: the answer is then unknown.
pub async fn find_ticket_by_reference(
    client: &AteraClient,
    reference: &str,
    title: &str,
    since_unix: i64,
    requests: &mut u32,
) -> Result<Option<i64>, LookupError> {
    let since = since_parameter(since_unix);
    for page in 1..=MAX_LOOKUP_PAGES {
        *requests += 1;
        let result = client
            .tickets_modified_since_page(&since, page, false)
            .await?;
        let mut found = None;
        for item in &result.items {
            if let Some(id) = matches(item, reference, title)? {
                found = Some(id);
                break;
            }
        }
        if found.is_some() {
            return Ok(found);
        }
        // A page count that is missing or 0 is unknown, not "one page": read on to a short page.
        let last = result.items.is_empty()
            || if result.total_pages > 0 {
                i64::from(page) >= i64::from(result.total_pages)
            } else {
                result.items.len() < crate::atera::client::MAX_PAGE_SIZE as usize
            };
        if last {
            return Ok(None);
        }
    }
    Err(LookupError::TooLarge {
        pages: MAX_LOOKUP_PAGES,
        since,
    })
}

/// The `date` parameter: UTC without a zone, `LOOKUP_MARGIN` before `since_unix`.
fn since_parameter(since_unix: i64) -> String {
    let start = since_unix.saturating_sub(LOOKUP_MARGIN.as_secs() as i64);
    let t = time::OffsetDateTime::from_unix_timestamp(start)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    t.format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: &str = "HB-20261128-K3M9QX";

    #[test]
    fn the_marker_counts_only_at_the_start_of_the_body() {
        let ours = format!(
            "<div style=\"x\">\n<p style=\"y\">{}</p>\n<p>Printer jammed</p>",
            marker(REF)
        );
        assert!(starts_with_marker(&ours, REF));
        // Atera's plain-text FirstComment, with a direction mark and a non-breaking space.
        assert!(starts_with_marker(
            &format!("\u{200f} Helpdesk&nbsp;Button ref {REF} Printer"),
            REF
        ));
        let quoting = format!("<p>Same as last week, see Helpdesk Button ref {REF}</p>");
        assert!(!starts_with_marker(&quoting, REF));
        assert!(!starts_with_marker(
            &format!("Helpdesk Button ref {REF}X"),
            REF
        ));
        assert!(!starts_with_marker(
            &format!("Helpdesk Button ref {}", &REF[..10]),
            REF
        ));
    }

    #[test]
    fn a_ticket_quoting_the_reference_with_another_title_is_not_adopted() {
        let item = serde_json::json!({"TicketID": 7, "TicketTitle": "RE: Printer jammed", "FirstComment": marker(REF)});
        assert_eq!(matches(&item, REF, "Printer jammed").unwrap(), None);
        let item = serde_json::json!({"TicketID": 7, "TicketTitle": " printer  JAMMED ", "FirstComment": marker(REF)});
        assert_eq!(matches(&item, REF, "Printer jammed").unwrap(), Some(7));
    }

    #[test]
    fn a_matching_ticket_without_a_readable_id_is_inconclusive() {
        let item =
            serde_json::json!({"TicketID": "abc", "TicketTitle": "T", "FirstComment": marker(REF)});
        assert!(matches(&item, REF, "T").is_err());
        let item = serde_json::json!({"TicketTitle": "T", "FirstComment": marker(REF)});
        assert!(matches(&item, REF, "T").is_err());
        // Another ticket in an odd shape is simply not ours.
        let odd = serde_json::json!({"TicketID": {"x": 1}, "FirstComment": null});
        assert_eq!(matches(&odd, REF, "T").unwrap(), None);
    }

    #[test]
    fn a_ticket_with_the_title_but_no_readable_body_is_inconclusive() {
        let item = serde_json::json!({"TicketID": 7, "TicketTitle": "Printer jammed"});
        assert!(
            matches(&item, REF, "Printer jammed").is_err(),
            "it may be ours: look again"
        );
        let other = serde_json::json!({"TicketID": 8, "TicketTitle": "VPN down"});
        assert_eq!(matches(&other, REF, "Printer jammed").unwrap(), None);
    }

    #[test]
    fn the_window_starts_fifteen_hours_before_the_first_attempt() {
        assert_eq!(since_parameter(1_764_320_400), "2025-11-27T18:00:00");
        assert_eq!(since_parameter(0), "1969-12-31T09:00:00");
    }
}
