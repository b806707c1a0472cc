//! Ticket composition: fitting two 1080p screenshots under the size cap, and rendering the HTML
//! body with them, the inventory and the form.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use helpdesk_core::capture::{process_frames, test_frame, Screenshot};
use helpdesk_core::form::TicketForm;
use helpdesk_core::inventory::collect;
use helpdesk_core::settings::Settings;
use helpdesk_core::ticket::{
    prepare_images, render_ticket, TicketInput, TicketValues, DEFAULT_SCREENSHOT_BUDGET,
};

/// Two 1920×1080 monitors, encoded as at capture time.
pub fn two_screenshots() -> Vec<Screenshot> {
    process_frames(vec![
        test_frame("HDMI-1", 1920, 1080, true),
        test_frame("DP-2", 1920, 1080, false),
    ])
    .expect("synthetic frames encode")
    .screenshots
}

/// A form as a user fills it in, with both screenshots included.
pub fn typical_form(email: &str) -> TicketForm {
    TicketForm {
        name: "Grace Hopper".into(),
        email: email.into(),
        phone: "+1 555 0100".into(),
        subject: "Outlook freezes when I open the shared calendar".into(),
        description: "Outlook freezes every time I open the shared calendar.\nIt started after this morning's update.".into(),
        selections: vec!["I need it today".into()],
        priority: "High".into(),
        ticket_type: "Problem".into(),
        impact: "Minor".into(),
        included_screenshots: vec![0, 1],
    }
}

pub fn bench(c: &mut Criterion) {
    let shots = two_screenshots();
    let settings = Settings::default();
    let form = typical_form("grace@contoso.example");
    let values = TicketValues::resolve(&form, &settings);
    let inventory = collect("0.1.0", Duration::ZERO);
    let images = prepare_images(&shots, DEFAULT_SCREENSHOT_BUDGET);
    assert_eq!(
        images.images.len(),
        2,
        "both screenshots fit the default cap"
    );

    let mut group = c.benchmark_group("ticket");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("prepare_images/2x1920x1080", |b| {
        b.iter(|| prepare_images(black_box(&shots), DEFAULT_SCREENSHOT_BUDGET))
    });
    group.bench_function("render/2x1920x1080", |b| {
        b.iter(|| {
            render_ticket(black_box(&TicketInput {
                form: &form,
                settings: &settings,
                values: &values,
                inventory: Some(&inventory),
                images: &images,
                append: "",
                contact_note: "existing contact #12",
                reference: "HB-20261128-K3M9QX",
                app_version: "0.1.0",
            }))
        });
    });
    group.finish();
}
