//! The `/api/v3` endpoints: routing, authentication, paging, body validation and the handlers.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::validate::{self, Violation};
use super::{rules, Shared};

/// Default and maximum `itemsInPage`, as documented by Atera.
const DEFAULT_ITEMS: i64 = 20;
const MAX_ITEMS: i64 = 50;

/// An RFC 7807 error answer, shaped like the spec's `ProblemDetails`.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub status: StatusCode,
    pub detail: String,
    pub errors: BTreeMap<String, Vec<String>>,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            errors: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// A 400 listing every violation in `detail` and, by field, in `errors`.
    pub(crate) fn invalid(violations: Vec<Violation>) -> Self {
        let detail = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let mut problem =
            Self::bad_request(format!("One or more validation errors occurred: {detail}"));
        for v in violations {
            let key = if v.path.is_empty() {
                "$".to_owned()
            } else {
                v.path
            };
            problem.errors.entry(key).or_default().push(v.message);
        }
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let section = match self.status.as_u16() {
            400 => "#section-15.5.1",
            401 => "#section-15.5.2",
            404 => "#section-15.5.5",
            405 => "#section-15.5.6",
            413 => "#section-15.5.14",
            415 => "#section-15.5.16",
            429 => "",
            500 => "#section-15.6.1",
            503 => "#section-15.6.4",
            _ => "",
        };
        let kind = if section.is_empty() {
            "about:blank".to_owned()
        } else {
            format!("https://tools.ietf.org/html/rfc9110{section}")
        };
        let mut body = json!({
            "type": kind,
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json; charset=utf-8"),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Whether the request carries one of `keys` as `X-API-KEY` or `Authorization: Bearer`.
pub(crate) fn authorised(headers: &HeaderMap, keys: &[String]) -> bool {
    let offered = headers
        .get_all("x-api-key")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .chain(
            headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .filter_map(|v| {
                    let text = v.to_str().ok()?;
                    let (scheme, token) = text.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| token.trim().to_owned())
                }),
        )
        .collect::<Vec<_>>();
    offered.iter().any(|o| {
        keys.iter()
            .any(|k| !k.is_empty() && constant_time_eq(o.as_bytes(), k.as_bytes()))
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query string's pairs, looked up case-insensitively (as ASP.NET binds them).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Self {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, Problem> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    Problem::bad_request(format!("The value '{v}' is not valid for {name}."))
                })
            })
            .transpose()
    }

    fn bool(&self, name: &str) -> Result<bool, Problem> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Problem::bad_request(format!(
                "The value '{v}' is not valid for {name}."
            ))),
        }
    }
}

/// One page of a list endpoint, rendered as the spec's `*PagedResult`.
fn paged(items: Vec<Value>, query: &Query, origin: &str, path: &str) -> Result<Value, Problem> {
    paged_with(items, |v| v, query, origin, path)
}

/// [`paged`], rendering only the items of the page asked for (lists of thousands of tickets).
fn paged_with<T>(
    items: Vec<T>,
    render: impl Fn(T) -> Value,
    query: &Query,
    origin: &str,
    path: &str,
) -> Result<Value, Problem> {
    let page = query.int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(Problem::bad_request(format!(
            "page must be 1 or more (it is 1-based); got {page}."
        )));
    }
    let size = query.int("itemsInPage")?.unwrap_or(DEFAULT_ITEMS);
    if !(1..=MAX_ITEMS).contains(&size) {
        return Err(Problem::bad_request(format!(
            "itemsInPage must be between 1 and {MAX_ITEMS} (the maximum is {MAX_ITEMS}); got {size}."
        )));
    }
    let total = items.len() as i64;
    let pages = (total + size - 1) / size;
    let start = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let slice: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(size as usize)
        .map(render)
        .collect();
    let link = |target: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query.0 {
            if !k.eq_ignore_ascii_case("page") && !k.eq_ignore_ascii_case("itemsInPage") {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &target.to_string())
            .append_pair("itemsInPage", &size.to_string());
        format!("{origin}{path}?{}", s.finish())
    };
    Ok(json!({
        "items": slice, "page": page, "itemsInPage": size, "totalItemCount": total, "totalPages": pages,
        "prevLink": if page > 1 { link((page - 1).min(pages.max(1))) } else { String::new() },
        "nextLink": if page < pages { link(page + 1) } else { String::new() },
    }))
}

/// The endpoints the sandbox implements, with their spec path templates.
enum Route {
    Account,
    Customers,
    Customer(i64),
    Contacts,
    Contact(i64),
    AgentsByMachine(String),
    Tickets,
    TicketsLastModified,
    Ticket(i64),
    TicketComments(i64),
}

fn id(segment: &str, name: &str) -> Result<i64, Problem> {
    segment.parse().map_err(|_| {
        Problem::bad_request(format!("The value '{segment}' is not valid for {name}."))
    })
}

/// Finds the route for the path below `/api/v3` and the methods it allows.
fn route(segments: &[String]) -> Result<(Route, &'static [Method]), Problem> {
    const GET: &[Method] = &[Method::GET];
    const GET_POST: &[Method] = &[Method::GET, Method::POST];
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    Ok(match s.as_slice() {
        ["account"] => (Route::Account, GET),
        ["customers"] => (Route::Customers, GET),
        ["customers", c] => (Route::Customer(id(c, "customerId")?), GET),
        ["contacts"] => (Route::Contacts, GET_POST),
        ["contacts", c] => (Route::Contact(id(c, "contactId")?), GET),
        ["agents", "machine", name] => (Route::AgentsByMachine((*name).to_owned()), GET),
        ["tickets"] => (Route::Tickets, GET_POST),
        ["tickets", "lastmodified"] => (Route::TicketsLastModified, GET),
        ["tickets", t] => (Route::Ticket(id(t, "ticketId")?), GET),
        ["tickets", t, "comments"] => (Route::TicketComments(id(t, "ticketId")?), GET_POST),
        _ => {
            return Err(Problem::not_found(
                "The sandbox has no such /api/v3 endpoint.",
            ))
        }
    })
}

/// Answers one `/api/v3` request. `rest` is the percent-decoded path below `/api/v3`.
pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    rest: &[String],
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !authorised(headers, &shared.config.api_keys) {
        let mut problem = Problem::new(
            StatusCode::UNAUTHORIZED,
            "Missing or invalid API key: send it as the X-API-KEY header or as Authorization: Bearer.",
        );
        problem
            .headers
            .push((header::WWW_AUTHENTICATE, "Bearer".to_owned()));
        return problem.into_response();
    }
    match dispatch(
        shared,
        method,
        rest,
        &Query::parse(raw_query),
        headers,
        body,
    ) {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    rest: &[String],
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Problem> {
    let (route, allowed) = route(rest)?;
    if !allowed.contains(method) {
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut problem = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("This endpoint allows only {allow}."),
        );
        problem.headers.push((header::ALLOW, allow));
        return Err(problem);
    }
    let origin = &shared.origin;
    let path = format!("/api/v3/{}", rest.join("/"));
    let live = shared.config.behaviour.live_tenant;
    let ok = |v: Value| {
        Ok(json_reply(
            StatusCode::OK,
            &if live {
                live_shape(v, origin, &path)
            } else {
                v
            },
        ))
    };
    let mut store = shared.store();
    match (route, method == Method::POST) {
        (Route::Account, _) => ok(json!({
            "AccountID": "sandbox-account", "Country": "Sandbox", "CompanyName": shared.config.account_name,
            "CreatedOn": "2024-01-01T00:00:00Z", "State": null, "TimeZoneName": "UTC", "City": null,
            "Address": null, "PostalCode": null, "Phone": null, "IsITDepartment": false, "Plan": "Sandbox"
        })),
        (Route::Customers, _) => {
            let items = store
                .customers
                .iter()
                .map(|c| store.customer_dto(c))
                .collect();
            ok(paged(items, query, origin, &path)?)
        }
        (Route::Customer(id), _) => match store.customer(id) {
            Some(c) => ok(store.customer_dto(c)),
            None => Err(Problem::not_found(format!("Customer {id} was not found."))),
        },
        (Route::Contacts, false) => {
            let email = match shared.config.behaviour.contact_search {
                super::ContactSearch::Email => query.get("Email"),
                super::ContactSearch::SearchOptions => query.get("searchOptions.email"),
                super::ContactSearch::Ignored => None,
            }
            .map(str::to_lowercase);
            let phone = query.get("Phone");
            // Newest first, like Atera's default sort (EndUserId descending).
            let items = store
                .contacts
                .iter()
                .rev()
                .filter(|c| !c.archived)
                .filter(|c| {
                    email
                        .as_ref()
                        .is_none_or(|e| c.contact.email.to_lowercase().contains(e))
                })
                .filter(|c| {
                    phone
                        .is_none_or(|p| c.contact.phone.as_deref().is_some_and(|cp| cp.contains(p)))
                })
                .map(|c| store.contact_dto(c))
                .collect();
            ok(paged(items, query, origin, &path)?)
        }
        (Route::Contacts, true) => {
            let body = json_body(headers, body, "/api/v3/contacts")?;
            let taken = body.get("Email").and_then(Value::as_str).is_some_and(|e| {
                store
                    .contacts
                    .iter()
                    .any(|c| c.contact.email.eq_ignore_ascii_case(e.trim()))
            });
            if live && taken {
                return Err(Problem::new(StatusCode::CONFLICT, "Email already exists"));
            }
            let id = rules::create_contact(&mut store, &body)?;
            Ok(json_reply(StatusCode::CREATED, &json!({ "ActionID": id })))
        }
        (Route::Contact(id), _) => match store.contact(id) {
            Some(c) => ok(store.contact_dto(c)),
            None => Err(Problem::not_found(format!("Contact {id} was not found."))),
        },
        (Route::AgentsByMachine(name), _) => {
            let items = store
                .agents
                .iter()
                .filter(|a| a.machine_name.to_lowercase() == name.to_lowercase())
                .map(|a| store.agent_dto(a))
                .collect();
            ok(paged(items, query, origin, &path)?)
        }
        (Route::Tickets, false) => {
            let customer = query.int("customerId")?;
            let status = query.get("ticketStatus");
            let relations = query.bool("includeRelations")?;
            let items = store.listed_tickets(|t| {
                customer.is_none_or(|c| t.customer_id == c)
                    && status.is_none_or(|s| t.ticket.status.eq_ignore_ascii_case(s))
            });
            let render = |t| store.ticket_dto(t, true, relations);
            ok(paged_with(items, render, query, origin, &path)?)
        }
        (Route::Tickets, true) => {
            let body = json_body(headers, body, "/api/v3/tickets")?;
            let id = rules::create_ticket(&mut store, body)?;
            Ok(json_reply(
                StatusCode::CREATED,
                &json!({ "ActionID": id.to_string() }),
            ))
        }
        (Route::TicketsLastModified, _) => {
            let since = match query.get("date") {
                Some(d) => validate::parse_date_time(d).ok_or_else(|| {
                    Problem::bad_request(format!("The value '{d}' is not valid for date."))
                })?,
                None => time::OffsetDateTime::now_utc()
                    .date()
                    .midnight()
                    .assume_utc(),
            };
            let comments = query.bool("includeComments")?;
            let relations = query.bool("includeRelations")?;
            let items = store.listed_tickets(|t| t.modified >= since);
            let render = |t| store.ticket_dto(t, comments, relations);
            ok(paged_with(items, render, query, origin, &path)?)
        }
        (Route::Ticket(id), _) => {
            let relations = query.bool("includeRelations")?;
            match store.ticket(id) {
                Some(t) => ok(store.ticket_dto(t, true, relations)),
                None => Err(Problem::not_found(format!("Ticket {id} was not found."))),
            }
        }
        (Route::TicketComments(id), false) => match store.ticket(id) {
            Some(t) => ok(paged(store.comment_dtos(t), query, origin, &path)?),
            None => Err(Problem::not_found(format!("Ticket {id} was not found."))),
        },
        (Route::TicketComments(id), true) => {
            let body = json_body(headers, body, "/api/v3/tickets/{ticketId}/comments")?;
            let comment_id = rules::add_comment(&mut store, id, &body)?;
            if live {
                return Ok(StatusCode::CREATED.into_response());
            }
            Ok(json_reply(
                StatusCode::CREATED,
                &json!({ "ActionID": comment_id.to_string() }),
            ))
        }
    }
}

/// A spec-shaped answer as a live tenant sends it (see [`super::Behaviour::live_tenant`]).
fn live_shape(value: Value, origin: &str, path: &str) -> Value {
    match value {
        Value::Object(map) => {
            let technician_comment = map.get("TechnicianContactID").is_some_and(|v| !v.is_null())
                && map.get("EndUserID").is_some_and(Value::is_null);
            let first_page = map.get("page").and_then(Value::as_i64) == Some(1);
            let size = map.get("itemsInPage").and_then(Value::as_i64).unwrap_or(50);
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = match (k.as_str(), v) {
                    ("EndUserID", Value::Null) if technician_comment => json!(0),
                    ("prevLink", Value::String(s)) if s.is_empty() && first_page => {
                        json!(format!("{origin}{path}?itemsInPage={size}&page=0"))
                    }
                    (_, Value::Null) => continue,
                    (_, v) => live_shape(v, origin, path),
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| live_shape(v, origin, path))
                .collect(),
        ),
        Value::String(s) => Value::String(live_timestamp(s)),
        other => other,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` as a live tenant writes it: seven fractional digits and no zone for
/// even seconds, as is for odd ones (so one answer mixes both shapes).
fn live_timestamp(s: String) -> String {
    let b = s.as_bytes();
    let shaped = b.len() == 20
        && b[19] == b'Z'
        && b[10] == b'T'
        && b[4] == b'-'
        && b[13] == b':'
        && b[16] == b':'
        && b[17..19].iter().all(u8::is_ascii_digit);
    if shaped && (b[18] - b'0').is_multiple_of(2) {
        format!("{}.0000000", &s[..19])
    } else {
        s
    }
}

/// Checks the content type, parses the JSON and validates it against the schema that the spec
/// names for `POST path_template`.
fn json_body(headers: &HeaderMap, body: &[u8], path_template: &str) -> Result<Value, Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let is_json = media == "application/json"
        || media == "text/json"
        || (media.starts_with("application/") && media.ends_with("+json"));
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json (got {:?}).", media),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "A non-empty request body is required.",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("The request body is not valid JSON: {e}.")))?;
    let schema = validate::request_schema("post", path_template).ok_or_else(|| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The spec names no request schema for POST {path_template}."),
        )
    })?;
    validate::validate_named(schema, &value).map_err(Problem::invalid)?;
    Ok(value)
}
