//! Capture: encode and thumbnail synthetic frames at the three layouts of the issue, and, when a
//! display is reachable, the real grab of every monitor with xcap, split into grab and encode.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode};
use helpdesk_core::capture::{
    capture, encode_jpeg, process_frames, test_frame, CaptureError, Frame, MonitorInfo,
    ScreenSource, XcapSource, PREVIEW_MAX_EDGE, PREVIEW_QUALITY, THUMBNAIL_MAX_EDGE,
};
use helpdesk_core::settings::ScreenshotMode;

/// JPEG quality of thumbnails, as `process_frames` uses.
const THUMBNAIL_QUALITY: u8 = 70;

/// The monitor layouts of the issue: (label, monitor sizes).
const LAYOUTS: [(&str, &[(u32, u32)]); 3] = [
    ("1x1920x1080", &[(1920, 1080)]),
    ("2x1920x1080", &[(1920, 1080), (1920, 1080)]),
    ("1x3840x2160", &[(3840, 2160)]),
];

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("capture");
    // Tens to hundreds of milliseconds per call: a fixed number of calls per sample.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for (label, sizes) in LAYOUTS {
        let frames: Vec<Frame> = sizes
            .iter()
            .enumerate()
            .map(|(i, &(w, h))| test_frame(&format!("SYN-{}", i + 1), w, h, i == 0))
            .collect();
        // What the app does after the grab: each monitor encoded once plus a thumbnail, one
        // thread per monitor.
        group.bench_function(format!("process_frames/{label}"), |b| {
            b.iter_batched(
                || frames.clone(),
                |f| process_frames(f).expect("synthetic frames encode"),
                BatchSize::LargeInput,
            );
        });
    }
    // The split for one monitor of each size: the encoded view, then the thumbnail.
    for (w, h) in [(1920, 1080), (3840, 2160)] {
        let frame = test_frame("SYN-1", w, h, true);
        group.bench_function(format!("encode/{w}x{h}"), |b| {
            b.iter(|| {
                encode_jpeg(black_box(&frame.image), PREVIEW_MAX_EDGE, PREVIEW_QUALITY)
                    .expect("encodes")
            });
        });
        group.bench_function(format!("thumbnail/{w}x{h}"), |b| {
            b.iter(|| {
                encode_jpeg(
                    black_box(&frame.image),
                    THUMBNAIL_MAX_EDGE,
                    THUMBNAIL_QUALITY,
                )
                .expect("encodes")
            });
        });
    }

    real_grab(&mut group);
    group.finish();
}

/// The real screens, when there is a display: grab, encode (with thumbnail), and both together
/// as the app's `capture` does them.
///
/// `HELPDESK_BENCH_SPLIT_MONITORS=N` grabs the one output as N monitors side by side (see
/// [`SplitSource`]); bench.sh sets it for the two-monitor layout.
fn real_grab(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!("note: no DISPLAY; the real grab (xcap) is not benchmarked");
        return;
    }
    let split = std::env::var("HELPDESK_BENCH_SPLIT_MONITORS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|&n| n > 1);
    let source: Box<dyn ScreenSource> = match split {
        Some(n) => Box::new(SplitSource(n)),
        None => Box::new(XcapSource),
    };
    let frames = match source.grab_all() {
        Ok(frames) => frames,
        Err(e) => {
            println!("note: a display is set but the screens cannot be grabbed ({e}); the real grab is not benchmarked");
            return;
        }
    };
    let label = layout_label(&frames);
    println!(
        "note: grabbing {label}{}: {:?}",
        if split.is_some() {
            " (one output split into monitors)"
        } else {
            ""
        },
        frames.iter().map(|f| &f.monitor).collect::<Vec<_>>()
    );
    group.bench_function(format!("xcap_grab/{label}"), |b| {
        b.iter(|| source.grab_all().expect("grabs"))
    });
    group.bench_function(format!("xcap_encode/{label}"), |b| {
        b.iter_batched(
            || frames.clone(),
            |f| process_frames(f).expect("encodes"),
            BatchSize::LargeInput,
        );
    });
    let primary = &frames[0].image;
    group.bench_function(format!("xcap_encode_one/{label}"), |b| {
        b.iter(|| {
            encode_jpeg(black_box(primary), PREVIEW_MAX_EDGE, PREVIEW_QUALITY).expect("encodes")
        });
    });
    group.bench_function(format!("xcap_thumbnail_one/{label}"), |b| {
        b.iter(|| {
            encode_jpeg(black_box(primary), THUMBNAIL_MAX_EDGE, THUMBNAIL_QUALITY).expect("encodes")
        });
    });
    group.bench_function(format!("xcap_total/{label}"), |b| {
        b.iter(|| capture(source.as_ref(), ScreenshotMode::AllMonitors).expect("captures"));
    });
}

/// Several monitors side by side on one X output. Xvfb (and Xephyr, and Xorg's dummy driver)
/// present a single RandR output, and xcap captures per output, so under Xvfb two monitors are
/// one 3840×1080 output; this grabs its N equal parts the way xcap grabs N outputs: the same
/// monitor queries, and one X `GetImage` per monitor rectangle.
struct SplitSource(u32);

impl ScreenSource for SplitSource {
    fn grab_all(&self) -> Result<Vec<Frame>, CaptureError> {
        let err = |e: xcap::XCapError| CaptureError::Grab(e.to_string());
        let monitors = xcap::Monitor::all().map_err(err)?;
        let output = monitors.first().ok_or(CaptureError::NoMonitors)?;
        let (width, height) = (output.width().map_err(err)?, output.height().map_err(err)?);
        let part = width / self.0;
        (0..self.0)
            .map(|i| {
                let image = output
                    .capture_region(i * part, 0, part, height)
                    .map_err(err)?;
                let monitor = MonitorInfo {
                    name: format!("{}-{}", output.name().unwrap_or_default(), i + 1),
                    x: output.x().unwrap_or(0) + i32::try_from(i * part).unwrap_or(0),
                    y: output.y().unwrap_or(0),
                    width: part,
                    height,
                    is_primary: i == 0,
                    scale_factor: output.scale_factor().unwrap_or(1.0),
                };
                Ok(Frame { monitor, image })
            })
            .collect()
    }
}

/// `2x1920x1080` when all monitors have one size, else the sizes joined with `+`.
fn layout_label(frames: &[Frame]) -> String {
    let sizes: Vec<(u32, u32)> = frames
        .iter()
        .map(|f| (f.image.width(), f.image.height()))
        .collect();
    match sizes.first() {
        Some(&(w, h)) if sizes.iter().all(|&s| s == (w, h)) => format!("{}x{w}x{h}", sizes.len()),
        _ => sizes
            .iter()
            .map(|(w, h)| format!("{w}x{h}"))
            .collect::<Vec<_>>()
            .join("+"),
    }
}
