//! Composing a ticket: the title and the HTML body a technician reads in Atera.
//!
//! Everything the user typed and everything collected from the machine is escaped here
//! ([`crate::html::escape`]). Screenshots go in as inline JPEG images, scaled down until all of
//! them fit under a total byte cap. This module does no I/O.

use base64::Engine as _;
use std::fmt::Write as _;

use crate::capture::{encode_jpeg, Screenshot};
use crate::form::TicketForm;
use crate::html::{escape, escape_multiline};
use crate::inventory::Inventory;
use crate::settings::Settings;
use crate::values::{Impact, Priority, Replacement, TicketType};

/// Default cap on the JPEG bytes of all inline screenshots in one ticket: 1 MiB, which is about
/// 1.4 MB of base64 in the description. Two 1600-px screenshots of a normal desktop fit at full
/// quality; busier or more screens are scaled down step by step.
pub const DEFAULT_SCREENSHOT_BUDGET: usize = 1024 * 1024;
/// Re-encoding steps tried, in order, when the screenshots are over the cap: (longest edge, quality).
const FIT_STEPS: [(u32, u8); 4] = [(1280, 65), (1024, 60), (800, 55), (640, 50)];
/// Widest an image is displayed in the ticket.
const DISPLAY_MAX_WIDTH: u32 = 960;

/// The values the ticket is filed with, after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TicketValues {
    pub priority: Priority,
    pub ticket_type: TicketType,
    pub impact: Impact,
    pub status: String,
    /// Values that could not be mapped and were replaced by the defaults.
    pub replacements: Vec<Replacement>,
}

impl TicketValues {
    /// Normalises the form's priority, type and impact (Atera values, people's names or legacy
    /// names); anything unmappable falls back to the settings' defaults and is recorded.
    pub fn resolve(form: &TicketForm, settings: &Settings) -> Self {
        Self::from_strings(
            &form.priority,
            &form.ticket_type,
            &form.impact,
            &settings.atera.defaults.status,
            settings,
        )
    }

    /// Normalises values given as text (by the form, the CLI or the rules); an empty status is
    /// the default status.
    pub fn from_strings(
        priority: &str,
        ticket_type: &str,
        impact: &str,
        status: &str,
        settings: &Settings,
    ) -> Self {
        let defaults = &settings.atera.defaults;
        let mut replacements = Vec::new();
        let priority =
            crate::values::normalise_or_default(priority, defaults.priority, &mut replacements);
        let ticket_type = crate::values::normalise_or_default(
            ticket_type,
            defaults.ticket_type,
            &mut replacements,
        );
        let impact =
            crate::values::normalise_or_default(impact, defaults.impact, &mut replacements);
        let status = crate::values::normalise_status(if status.trim().is_empty() {
            &defaults.status
        } else {
            status
        });
        Self {
            priority,
            ticket_type,
            impact,
            status,
            replacements,
        }
    }
}

/// Everything the body is built from.
pub struct TicketInput<'a> {
    /// The normalised form.
    pub form: &'a TicketForm,
    pub settings: &'a Settings,
    pub values: &'a TicketValues,
    pub inventory: Option<&'a Inventory>,
    /// The screenshots the user kept included, already fitted under the size cap
    /// ([`prepare_images`]).
    pub images: &'a TicketImages,
    /// Text the dispatcher rules add below the message.
    pub append: &'a str,
    /// How the requester was matched in Atera, for the technician.
    pub contact_note: &'a str,
    /// The submission reference carried in the ticket.
    pub reference: &'a str,
    pub app_version: &'a str,
}

/// A composed ticket.
#[derive(Debug, Clone)]
pub struct RenderedTicket {
    pub title: String,
    pub description: String,
    /// JPEG bytes of the inline screenshots (before base64).
    pub screenshot_bytes: usize,
    /// Screenshots left out because even the smallest encoding did not fit the cap.
    pub omitted_screenshots: usize,
}

/// A screenshot ready to inline: its caption and its JPEG at the size it is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TicketImage {
    pub caption: String,
    #[serde(with = "base64_bytes")]
    pub jpeg: Vec<u8>,
    pub width: u32,
}

/// The screenshots of one ticket, fitted under the cap, and how many did not fit.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TicketImages {
    pub images: Vec<TicketImage>,
    pub omitted: usize,
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Builds the title and HTML body.
pub fn render_ticket(input: &TicketInput<'_>) -> RenderedTicket {
    let form = input.form;
    let (images, omitted) = (&input.images.images, input.images.omitted);
    let screenshot_bytes = images.iter().map(|i| i.jpeg.len()).sum();
    let mut html = String::with_capacity(screenshot_bytes * 4 / 3 + 8192);
    html.push_str("<div style=\"font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#1f2937\">\n");

    // The reference leads the body so it shows in Atera's ticket list (`FirstComment`), which
    // is how a submission whose answer was lost is found again instead of being sent twice.
    let _ = writeln!(
        html,
        "<p style=\"margin:0 0 8px;color:#9ca3af;font-size:12px\">Helpdesk Button ref {}</p>",
        escape(input.reference)
    );
    // Then the problem: it is what the technician reads before anything else.
    let _ = writeln!(
        html,
        "<p style=\"font-size:15px;margin:0 0 12px\">{}</p>",
        escape_multiline(&form.description)
    );
    if !input.append.trim().is_empty() {
        let _ = writeln!(
            html,
            "<p style=\"margin:0 0 12px\">{}</p>",
            escape_multiline(input.append.trim())
        );
    }

    if !input.values.replacements.is_empty() {
        html.push_str("<div style=\"border:1px solid #f59e0b;background:#fffbeb;padding:8px 12px;margin:0 0 12px\"><strong>Submission errors</strong><ul style=\"margin:4px 0 0 18px;padding:0\">\n");
        for r in &input.values.replacements {
            let _ = writeln!(
                html,
                "<li>{} “{}” is not a value Atera accepts; used the default “{}” instead.</li>",
                escape(&capitalise(&r.field)),
                escape(&r.given),
                escape(&r.used)
            );
        }
        html.push_str("</ul></div>\n");
    }

    section(&mut html, "Requester");
    let mut requester = vec![
        ("Name", escape(&form.name)),
        (
            "Email",
            format!("<a href=\"mailto:{0}\">{0}</a>", escape(&form.email)),
        ),
    ];
    if !form.phone.is_empty() {
        requester.push((
            "Phone",
            format!("<a href=\"tel:{0}\">{0}</a>", escape(&form.phone)),
        ));
    }
    requester.push(("Matched in Atera", escape(input.contact_note)));
    table(&mut html, requester.iter().map(|(k, v)| (*k, v.as_str())));

    let answers = selection_answers(form, input.settings);
    if !answers.is_empty() {
        section(&mut html, "Selections");
        html.push_str("<ul style=\"margin:0 0 12px 18px;padding:0\">\n");
        for a in &answers {
            let _ = writeln!(html, "<li>{}</li>", escape(a));
        }
        html.push_str("</ul>\n");
    }

    section(&mut html, "This computer");
    match input.inventory {
        Some(inv) => {
            let primary = inv.primary_interface();
            let rows = [
                ("Computer", escape(&inv.hostname)),
                ("User", escape(&inv.display_name())),
                ("OS", escape(&inv.os_display())),
                (
                    "IP address",
                    escape(inv.primary_ipv4().unwrap_or("unknown")),
                ),
                (
                    "MAC address",
                    escape(inv.primary_mac().unwrap_or("unknown")),
                ),
                (
                    "Network",
                    escape(primary.map_or("unknown", |p| p.name.as_str())),
                ),
            ];
            table(&mut html, rows.iter().map(|(k, v)| (*k, v.as_str())));
        }
        None => {
            html.push_str("<p style=\"color:#6b7280\">The inventory could not be collected.</p>\n")
        }
    }

    if !images.is_empty() || omitted > 0 {
        section(&mut html, "Screenshots");
        for image in images {
            let caption = &image.caption;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&image.jpeg);
            let _ = write!(
                html,
                "<p style=\"margin:0 0 4px;color:#6b7280\">{cap}</p>\n<p style=\"margin:0 0 12px\"><img src=\"data:image/jpeg;base64,{b64}\" alt=\"Screenshot of {cap}\" width=\"{w}\" style=\"max-width:100%;height:auto;border:1px solid #d1d5db\"></p>\n",
                cap = escape(caption),
                w = image.width.min(DISPLAY_MAX_WIDTH),
            );
        }
        if omitted > 0 {
            let _ = writeln!(html, "<p style=\"color:#6b7280\">{omitted} more screenshot(s) left out to keep the ticket under the size limit.</p>");
        }
    }

    if let Some(inv) = input.inventory {
        section(&mut html, "Inventory");
        html.push_str("<table style=\"border-collapse:collapse;font-size:13px\">\n");
        for s in inv.display_sections() {
            let _ = writeln!(html, "<tr><th colspan=\"2\" style=\"text-align:left;padding:8px 0 2px;color:#374151\">{}</th></tr>", escape(&s.title));
            for (k, v) in &s.rows {
                let _ = writeln!(html, "<tr><td style=\"padding:1px 16px 1px 0;color:#6b7280;vertical-align:top\">{}</td><td style=\"padding:1px 0\">{}</td></tr>", escape(k), escape(v));
            }
        }
        html.push_str("</table>\n");
    }

    let _ = write!(
        html,
        "<p style=\"margin-top:16px;color:#9ca3af;font-size:12px\">Sent with Helpdesk Button {}</p>\n</div>",
        escape(input.app_version)
    );
    RenderedTicket {
        title: ticket_title(form),
        description: html,
        screenshot_bytes,
        omitted_screenshots: omitted,
    }
}

/// The ticket title: the subject, or the derived one; never empty.
pub fn ticket_title(form: &TicketForm) -> String {
    let subject = form.subject.trim();
    if !subject.is_empty() {
        return subject.to_string();
    }
    let derived = crate::form::derive_subject(&form.description);
    if derived.is_empty() {
        "Help request".into()
    } else {
        derived
    }
}

/// The chosen selections as a technician reads them: each checkbox label, each radio group as
/// "Question: answer", then anything else given (CLI `--selection`), in settings order.
pub fn selection_answers(form: &TicketForm, settings: &Settings) -> Vec<String> {
    let chosen = |label: &str| form.selections.iter().any(|s| s.trim() == label);
    let mut used = Vec::new();
    let mut answers = Vec::new();
    for label in &settings.form.checkboxes {
        if chosen(label) {
            answers.push(label.clone());
            used.push(label.as_str());
        }
    }
    for group in &settings.form.radio_groups {
        if let Some(option) = group.options.iter().find(|o| chosen(o)) {
            answers.push(format!("{} {}", group.label, option));
            used.push(option.as_str());
        }
    }
    for s in &form.selections {
        if !used.contains(&s.trim()) && !s.trim().is_empty() {
            answers.push(s.trim().to_string());
        }
    }
    answers
}

/// The caption under a screenshot: monitor name, size, and whether it is the primary one.
fn caption(shot: &Screenshot) -> String {
    let m = &shot.monitor;
    format!(
        "{} · {}×{}{}",
        m.name,
        m.width,
        m.height,
        if m.is_primary { " · primary" } else { "" }
    )
}

/// Fits the included screenshots under `budget` JPEG bytes: as encoded at capture time when they
/// fit, otherwise re-encoded smaller step by step; any that still do not fit are left out.
pub fn prepare_images(shots: &[Screenshot], budget: usize) -> TicketImages {
    let total: usize = shots.iter().map(|s| s.jpeg.len()).sum();
    if total <= budget {
        let images = shots
            .iter()
            .map(|s| TicketImage {
                caption: caption(s),
                jpeg: s.jpeg.to_vec(),
                width: s.jpeg_width,
            })
            .collect();
        return TicketImages { images, omitted: 0 };
    }
    let mut smallest = Vec::new();
    for (edge, quality) in FIT_STEPS {
        let encoded: Vec<(Vec<u8>, u32)> = shots
            .iter()
            .filter_map(|s| {
                encode_jpeg(&s.frame, edge, quality)
                    .ok()
                    .map(|(bytes, w, _)| (bytes, w))
            })
            .collect();
        let size: usize = encoded.iter().map(|(b, _)| b.len()).sum();
        tracing::debug!(
            edge,
            quality,
            size,
            budget,
            "re-encoded screenshots to fit the cap"
        );
        smallest = encoded;
        if size <= budget {
            break;
        }
    }
    // Keep screenshots in order (primary first in the UI order) while they fit.
    let mut used = 0;
    let mut images = Vec::new();
    for (shot, (bytes, width)) in shots.iter().zip(smallest) {
        if used + bytes.len() > budget {
            continue;
        }
        used += bytes.len();
        images.push(TicketImage {
            caption: caption(shot),
            jpeg: bytes,
            width,
        });
    }
    let omitted = shots.len() - images.len();
    TicketImages { images, omitted }
}

fn section(html: &mut String, title: &str) {
    let _ = writeln!(html, "<h3 style=\"font-size:15px;margin:16px 0 6px;border-bottom:1px solid #e5e7eb;padding-bottom:2px\">{}</h3>", escape(title));
}

/// Rows of (label, already-escaped HTML value).
fn table<'a>(html: &mut String, rows: impl Iterator<Item = (&'a str, &'a str)>) {
    html.push_str("<table style=\"border-collapse:collapse;margin:0 0 8px\">\n");
    for (k, v) in rows {
        let _ = writeln!(html, "<tr><td style=\"padding:2px 16px 2px 0;color:#6b7280;vertical-align:top\">{}</td><td style=\"padding:2px 0\">{v}</td></tr>", escape(k));
    }
    html.push_str("</table>\n");
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{process_frames, test_frame};

    fn form() -> TicketForm {
        TicketForm {
            name: "Ada <Lovelace>".into(),
            email: "ada@contoso.com".into(),
            description: "Printer says <script>alert(1)</script>\nsecond line & more".into(),
            selections: vec![
                "This is an emergency".into(),
                "Call me".into(),
                "Custom thing".into(),
            ],
            priority: "urgent".into(),
            ticket_type: "Service Request".into(),
            impact: "whatever".into(),
            ..Default::default()
        }
        .normalised()
    }

    fn render(shots: &[Screenshot], settings: &Settings) -> RenderedTicket {
        let f = form();
        let values = TicketValues::resolve(&f, settings);
        let images = prepare_images(shots, settings.screenshots.max_total_bytes);
        render_ticket(&TicketInput {
            form: &f,
            settings,
            values: &values,
            inventory: None,
            images: &images,
            append: "",
            contact_note: "existing contact #12",
            reference: "HB-TEST-1",
            app_version: "0.1.0",
        })
    }

    #[test]
    fn user_text_is_escaped_and_values_normalised_with_a_note() {
        let settings = Settings::default();
        let values = TicketValues::resolve(&form(), &settings);
        assert_eq!(
            (values.priority, values.ticket_type, values.impact),
            (Priority::Critical, TicketType::Request, Impact::Minor)
        );
        let t = render(&[], &settings);
        assert!(!t.description.contains("<script>"));
        assert!(t
            .description
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;<br>\nsecond line &amp; more"));
        assert!(t.description.contains("Ada &lt;Lovelace&gt;"));
        assert!(t.description.contains("Submission errors"));
        assert!(t.description.contains(
            "Impact “whatever” is not a value Atera accepts; used the default “Minor” instead."
        ));
        assert!(t.description.contains("How should we contact you? Call me"));
        assert!(t.description.contains("<li>Custom thing</li>"));
        assert!(t.description.contains("HB-TEST-1"));
        assert_eq!(
            t.title, "Printer says <script>alert(1)</script>",
            "the title is plain text; Atera escapes titles"
        );
    }

    #[test]
    fn screenshots_are_inlined_as_jpeg_and_shrunk_to_fit_the_cap() {
        let shots = process_frames(vec![
            test_frame("HDMI-1", 1920, 1080, true),
            test_frame("DP-2", 1920, 1080, false),
        ])
        .unwrap()
        .screenshots;
        let full: usize = shots.iter().map(|s| s.jpeg.len()).sum();
        let mut settings = Settings::default();
        let t = render(&shots, &settings);
        assert_eq!(
            t.description
                .matches("<img src=\"data:image/jpeg;base64,")
                .count(),
            2
        );
        assert_eq!(t.screenshot_bytes, full);

        settings.screenshots.max_total_bytes = full / 3;
        let t = render(&shots, &settings);
        assert!(
            t.screenshot_bytes <= full / 3,
            "{} > {}",
            t.screenshot_bytes,
            full / 3
        );
        assert_eq!(
            t.description.matches("<img ").count() + t.omitted_screenshots,
            2
        );

        settings.screenshots.max_total_bytes = 100;
        let t = render(&shots, &settings);
        assert_eq!(t.omitted_screenshots, 2);
        assert!(t
            .description
            .contains("left out to keep the ticket under the size limit"));
    }
}
