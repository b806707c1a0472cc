//! The sandbox's in-memory Atera account: customers, contacts, agents, tickets and comments, and
//! their rendering as the spec's DTOs.
//!
//! Ids come from separate ranges (customers from 101, contacts from 5001, agents from 9001,
//! tickets from 70001) so that a client mixing one kind of id up with another gets a 404 or 400
//! instead of a lucky hit.

use std::collections::VecDeque;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{
    Behaviour, Fault, ListOrder, RecordedRequest, StoredComment, StoredContact, StoredTicket,
};

/// Name of the customer that contacts created through `POST /tickets` belong to.
pub(crate) const UNASSIGNED_CUSTOMER: &str = "Unassigned";

/// A customer (an Atera "customer" is a client company of the MSP).
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub id: i64,
    pub name: String,
    pub created: String,
}

/// A contact and when it was created.
#[derive(Debug, Clone)]
pub(crate) struct ContactRecord {
    pub contact: StoredContact,
    pub created: String,
    /// Archived: left out of searches, but its e-mail is still taken.
    pub archived: bool,
}

/// A device with the Atera agent installed.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub id: i64,
    pub customer_id: i64,
    pub machine_name: String,
    pub mac: Option<String>,
    pub last_seen: String,
    pub created: String,
}

/// A ticket plus what the sandbox needs beyond [`StoredTicket`].
#[derive(Debug, Clone)]
pub(crate) struct TicketRecord {
    pub ticket: StoredTicket,
    pub customer_id: i64,
    pub modified: OffsetDateTime,
    /// When it was created, by the sandbox's clock (for the list lag).
    pub created_unix: i64,
    /// `TechnicianId` of each entry of `ticket.comments` (None for end-user comments).
    pub comment_technicians: Vec<Option<i64>>,
}

/// Everything the sandbox holds, behind one mutex.
pub(crate) struct Store {
    pub behaviour: Behaviour,
    pub customers: Vec<Customer>,
    pub contacts: Vec<ContactRecord>,
    pub agents: Vec<Agent>,
    pub tickets: Vec<TicketRecord>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
    next_customer: i64,
    next_contact: i64,
    next_agent: i64,
    next_ticket: i64,
    next_comment: i64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            behaviour: Behaviour::default(),
            customers: Vec::new(),
            contacts: Vec::new(),
            agents: Vec::new(),
            tickets: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            next_customer: 101,
            next_contact: 5001,
            next_agent: 9001,
            next_ticket: 70001,
            next_comment: 1,
        }
    }
}

/// A stable, order-destroying key for an id (splitmix64's finaliser).
fn scramble(id: i64) -> u64 {
    let mut z = (id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Now, in UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// Formats a time in UTC as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The fields of a new ticket, already validated.
pub(crate) struct NewTicket {
    pub request_json: Value,
    pub title: String,
    pub description: String,
    pub priority: String,
    pub impact: String,
    pub ticket_type: String,
    pub status: String,
    pub end_user_id: i64,
}

impl Store {
    /// Adds a customer; returns its CustomerID.
    pub fn add_customer(&mut self, name: &str) -> i64 {
        let id = self.next_customer;
        self.next_customer += 1;
        self.customers.push(Customer {
            id,
            name: name.to_owned(),
            created: now(),
        });
        id
    }

    pub fn customer(&self, id: i64) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    pub fn customer_by_name(&self, name: &str) -> Option<&Customer> {
        self.customers
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The "Unassigned" customer, created on first use.
    pub fn unassigned_customer(&mut self) -> i64 {
        match self.customer_by_name(UNASSIGNED_CUSTOMER) {
            Some(c) => c.id,
            None => self.add_customer(UNASSIGNED_CUSTOMER),
        }
    }

    /// Adds a contact; returns its EndUserID.
    pub fn add_contact(
        &mut self,
        customer_id: i64,
        first: &str,
        last: &str,
        email: &str,
        phone: Option<&str>,
    ) -> i64 {
        let id = self.next_contact;
        self.next_contact += 1;
        let contact = StoredContact {
            end_user_id: id,
            customer_id,
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email: email.to_owned(),
            phone: phone.map(str::to_owned),
        };
        self.contacts.push(ContactRecord {
            contact,
            created: now(),
            archived: false,
        });
        id
    }

    pub fn contact(&self, id: i64) -> Option<&ContactRecord> {
        self.contacts.iter().find(|c| c.contact.end_user_id == id)
    }

    pub fn contact_by_exact_email(&self, email: &str) -> Option<&ContactRecord> {
        self.contacts
            .iter()
            .find(|c| c.contact.email.eq_ignore_ascii_case(email.trim()))
    }

    /// Adds an agent; returns its AgentID.
    pub fn add_agent(
        &mut self,
        customer_id: i64,
        machine_name: &str,
        mac: Option<&str>,
        last_seen: &str,
    ) -> i64 {
        let id = self.next_agent;
        self.next_agent += 1;
        self.agents.push(Agent {
            id,
            customer_id,
            machine_name: machine_name.to_owned(),
            mac: mac.map(str::to_owned),
            last_seen: last_seen.to_owned(),
            created: now(),
        });
        id
    }

    /// Stores a validated ticket; returns its TicketID.
    pub fn add_ticket(&mut self, new: NewTicket) -> i64 {
        let id = self.next_ticket;
        self.next_ticket += 1;
        let (email, customer_id) = self
            .contact(new.end_user_id)
            .map(|c| (c.contact.email.clone(), c.contact.customer_id))
            .unwrap_or_default();
        let now_time = OffsetDateTime::now_utc();
        let created_unix = self.behaviour.clock.now();
        self.tickets.push(TicketRecord {
            created_unix,
            ticket: StoredTicket {
                ticket_id: id,
                request_json: new.request_json,
                title: new.title,
                description: new.description,
                priority: new.priority,
                impact: new.impact,
                ticket_type: new.ticket_type,
                status: new.status,
                end_user_id: new.end_user_id,
                end_user_email: email,
                created: format_time(now_time),
                comments: Vec::new(),
            },
            customer_id,
            modified: now_time,
            comment_technicians: Vec::new(),
        });
        id
    }

    /// The tickets a list endpoint shows, in the order it shows them: without those still inside
    /// the list lag, in the configured order (Atera documents none).
    pub fn listed_tickets(&self, keep: impl Fn(&TicketRecord) -> bool) -> Vec<&TicketRecord> {
        let now = self.behaviour.clock.now();
        let lag = i64::try_from(self.behaviour.list_lag.as_secs()).unwrap_or(i64::MAX);
        let mut items: Vec<&TicketRecord> = self
            .tickets
            .iter()
            .filter(|t| now >= t.created_unix.saturating_add(lag))
            .filter(|t| keep(t))
            .collect();
        match self.behaviour.order {
            ListOrder::NewestFirst => items.reverse(),
            ListOrder::OldestFirst => {}
            ListOrder::Scrambled => items.sort_by_key(|t| scramble(t.ticket.ticket_id)),
        }
        items
    }

    pub fn ticket(&self, id: i64) -> Option<&TicketRecord> {
        self.tickets.iter().find(|t| t.ticket.ticket_id == id)
    }

    /// Appends a comment to a ticket; returns the comment's id (None if the ticket is unknown).
    pub fn add_comment(
        &mut self,
        ticket_id: i64,
        comment: StoredComment,
        technician_id: Option<i64>,
    ) -> Option<i64> {
        let id = self.next_comment;
        let record = self
            .tickets
            .iter_mut()
            .find(|t| t.ticket.ticket_id == ticket_id)?;
        record.ticket.comments.push(comment);
        record.comment_technicians.push(technician_id);
        record.modified = OffsetDateTime::now_utc();
        self.next_comment += 1;
        Some(id)
    }

    fn customer_name(&self, id: i64) -> Option<String> {
        self.customer(id).map(|c| c.name.clone())
    }

    /// A `CustomerDto`.
    pub fn customer_dto(&self, c: &Customer) -> Value {
        json!({
            "CustomerID": c.id, "CustomerName": c.name, "CreatedOn": c.created, "LastModified": c.created,
            "BusinessNumber": null, "Domain": null, "Address": null, "City": null, "State": null,
            "Country": null, "Phone": null, "Fax": null, "Notes": null, "Logo": null, "Links": null,
            "Longitude": null, "Latitude": null, "ZipCodeStr": null
        })
    }

    /// A `ContactDto`.
    pub fn contact_dto(&self, record: &ContactRecord) -> Value {
        let c = &record.contact;
        json!({
            "EndUserID": c.end_user_id, "CustomerID": c.customer_id,
            "CustomerName": self.customer_name(c.customer_id), "Firstname": c.first_name,
            "Lastname": c.last_name, "JobTitle": null, "Email": c.email, "Phone": c.phone,
            "MobilePhone": null, "IsContactPerson": false, "InIgnoreMode": false,
            "CreatedOn": record.created, "LastModified": record.created, "Archived": false,
            "DepartmentID": null, "DepartmentName": null, "DefaultAgentId": null
        })
    }

    /// An `AgentDto`.
    pub fn agent_dto(&self, a: &Agent) -> Value {
        let online = super::validate::parse_date_time(&a.last_seen)
            .is_some_and(|seen| OffsetDateTime::now_utc() - seen < time::Duration::minutes(5));
        json!({
            "MachineID": format!("sandbox-machine-{}", a.id), "AgentID": a.id,
            "DeviceGuid": format!("00000000-0000-4000-8000-{:012x}", a.id), "FolderID": null,
            "FolderName": null, "CustomerID": a.customer_id, "CustomerName": self.customer_name(a.customer_id),
            "AgentName": a.machine_name, "SystemName": a.machine_name, "MachineName": a.machine_name,
            "DomainName": "WORKGROUP", "CurrentLoggedUsers": null, "ComputerDescription": null,
            "Monitored": true, "AgentVersion": "sandbox", "Favorite": false, "ThresholdID": null,
            "MonitoredAgentID": null, "Created": a.created, "Modified": a.created, "Online": online,
            "LastSeen": a.last_seen, "ReportedFromIP": null, "AppViewUrl": null,
            "MacAddresses": a.mac.iter().collect::<Vec<_>>(), "IpAddresses": [],
            "OS": null, "OSType": null, "LastLoginUser": null, "DeviceType": null
        })
    }

    /// A `TicketDto`. Without `include_comments`, the last-comment fields are null (as
    /// `GET /tickets/lastmodified` does unless asked).
    pub fn ticket_dto(
        &self,
        record: &TicketRecord,
        include_comments: bool,
        include_relations: bool,
    ) -> Value {
        let t = &record.ticket;
        let contact = self.contact(t.end_user_id).map(|c| &c.contact);
        let field = |name: &str| t.request_json.get(name).cloned().unwrap_or(Value::Null);
        let mut last_end_user = (
            Some(plain_text(&t.description, usize::MAX)),
            Some(t.created.clone()),
        );
        let mut last_technician = (None, None);
        let mut first_technician_date = None;
        for c in &t.comments {
            if c.technician.is_some() {
                first_technician_date.get_or_insert_with(|| c.date.clone());
                last_technician = (Some(c.text.clone()), Some(c.date.clone()));
            } else {
                last_end_user = (Some(c.text.clone()), Some(c.date.clone()));
            }
        }
        if !include_comments {
            last_end_user = (None, None);
            last_technician = (None, None);
        }
        let mut dto = json!({
            "TicketID": t.ticket_id, "TicketTitle": t.title, "TicketNumber": t.ticket_id.to_string(),
            "TicketPriority": t.priority, "TicketImpact": t.impact, "TicketStatus": t.status,
            "TicketSource": "API", "TicketType": t.ticket_type, "EndUserID": t.end_user_id,
            "EndUserEmail": t.end_user_email, "EndUserFirstName": contact.map(|c| &c.first_name),
            "EndUserLastName": contact.map(|c| &c.last_name), "EndUserPhone": contact.and_then(|c| c.phone.as_ref()),
            "TicketResolvedDate": null, "TicketCreatedDate": t.created,
            "TechnicianFirstCommentDate": first_technician_date, "FirstResponseDueDate": null,
            "ClosedTicketDueDate": null, "FirstComment": plain_text(&t.description, 200),
            "LastEndUserComment": last_end_user.0, "LastEndUserCommentTimestamp": last_end_user.1,
            "LastTechnicianComment": last_technician.0, "LastTechnicianCommentTimestamp": last_technician.1,
            "CustomerID": record.customer_id, "CustomerName": self.customer_name(record.customer_id),
            "CustomerBusinessNumber": null, "TechnicianContactID": field("TechnicianContactID"),
            "TechnicianFullName": null, "TechnicianEmail": field("TechnicianEmail"), "ContractID": null
        });
        if include_relations {
            dto["RelationType"] = json!("None");
            dto["RelatedTicketId"] = Value::Null;
        }
        dto
    }

    /// `TicketCommentDto`s: the description (the end user's first message, as in Atera) and then
    /// every posted comment.
    pub fn comment_dtos(&self, record: &TicketRecord) -> Vec<Value> {
        let t = &record.ticket;
        let contact = |id: Option<i64>| id.and_then(|id| self.contact(id)).map(|c| &c.contact);
        let requester = contact(Some(t.end_user_id));
        let mut out = vec![json!({
            "Date": t.created, "Comment": plain_text(&t.description, usize::MAX), "CommentHtml": t.description,
            "EndUserID": t.end_user_id, "TechnicianContactID": null, "Email": t.end_user_email,
            "FirstName": requester.map(|c| &c.first_name), "LastName": requester.map(|c| &c.last_name),
            "IsInternal": false
        })];
        for (c, technician_id) in t.comments.iter().zip(&record.comment_technicians) {
            let author = contact(c.enduser_id);
            let email = match (&c.technician, author) {
                (Some(tech), _) => Some(tech.clone()),
                (None, Some(a)) => Some(a.email.clone()),
                (None, None) => None,
            };
            out.push(json!({
                "Date": c.date, "Comment": c.text, "CommentHtml": crate::html::escape_multiline(&c.text),
                "EndUserID": c.enduser_id, "TechnicianContactID": technician_id, "Email": email,
                // A technician named "Sam Tech" (not an email) reads as first and last name.
                "FirstName": author.map(|a| a.first_name.clone()).or_else(|| c.technician.as_ref().filter(|t| !t.contains('@')).map(|t| t.split_whitespace().next().unwrap_or_default().to_string())),
                "LastName": author.map(|a| a.last_name.clone()).or_else(|| c.technician.as_ref().filter(|t| !t.contains('@')).map(|t| t.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))),
                "IsInternal": c.is_internal
            }));
        }
        out
    }
}

/// The text of an HTML fragment: tags, `<style>`/`<script>`/`<head>` contents dropped, common
/// entities decoded, whitespace collapsed, cut to `max_chars` characters.
pub(crate) fn plain_text(html: &str, max_chars: usize) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..close].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[close + 1..];
        if matches!(name.as_str(), "style" | "script" | "head" | "title") && !after.starts_with('/')
        {
            let end = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&end) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
        }
        text.push(' ');
    }
    text.push_str(rest);
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > max_chars {
        collapsed.chars().take(max_chars).collect()
    } else {
        collapsed
    }
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn sandbox_plain_text_strips_markup() {
        let html = "<html><head><style>p{color:red}</style></head><body><p>Printer &amp; scanner</p>\
                    <img src=\"data:image/jpeg;base64,AAAA\"><p>are&nbsp;down</p><script>x()</script></body>";
        assert_eq!(plain_text(html, 200), "Printer & scanner are down");
        assert_eq!(plain_text("abcdef", 3), "abc");
        assert_eq!(plain_text("a <b", 10), "a");
    }
}
