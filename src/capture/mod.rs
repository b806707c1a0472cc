//! Screenshots: grab every monitor once, keep the frames in memory, encode each frame once (a
//! JPEG for the larger view and the ticket) and make a thumbnail.
//!
//! The grab itself sits behind [`ScreenSource`] so tests run without a display; the real one is
//! [`XcapSource`]. This module never shows a window: the caller captures before its form exists
//! or shows, so our own window is never in the picture.

mod xcap_source;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{ImageFormat, RgbaImage};
use serde::Serialize;

pub use xcap_source::XcapSource;

use crate::settings::ScreenshotMode;

/// Longest edge of the encoded screenshot (larger view and ticket image).
pub const PREVIEW_MAX_EDGE: u32 = 1600;
/// JPEG quality of the encoded screenshot.
pub const PREVIEW_QUALITY: u8 = 75;
/// Longest edge of a thumbnail.
pub const THUMBNAIL_MAX_EDGE: u32 = 320;

/// Errors taking or saving screenshots.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no monitor was found to capture")]
    NoMonitors,
    #[error("the screen could not be captured: {0}")]
    Grab(String),
    #[error("a screenshot could not be encoded: {0}")]
    Encode(#[from] image::ImageError),
    #[error("a screenshot could not be encoded as JPEG: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
    #[error("{0}")]
    TooLarge(String),
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A monitor as seen at capture time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorInfo {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub is_primary: bool,
    pub scale_factor: f32,
}

/// One grabbed monitor, full resolution.
#[derive(Debug, Clone)]
pub struct Frame {
    pub monitor: MonitorInfo,
    pub image: RgbaImage,
}

/// Where frames come from.
pub trait ScreenSource: Send + Sync {
    /// Grabs every monitor.
    ///
    /// # Errors
    /// [`CaptureError::Grab`] when the display cannot be read.
    fn grab_all(&self) -> Result<Vec<Frame>, CaptureError>;
}

/// Frames given up front: for tests and for machines without a display.
pub struct StaticSource(pub Vec<Frame>);

impl ScreenSource for StaticSource {
    fn grab_all(&self) -> Result<Vec<Frame>, CaptureError> {
        Ok(self.0.clone())
    }
}

/// A captured monitor: the full frame, its one encoded JPEG, and a thumbnail.
#[derive(Debug, Clone)]
pub struct Screenshot {
    pub id: u32,
    pub monitor: MonitorInfo,
    /// Full resolution, kept in memory for re-encoding under a size cap and for `capture --out`.
    pub frame: Arc<RgbaImage>,
    /// The frame scaled to [`PREVIEW_MAX_EDGE`], JPEG.
    pub jpeg: Arc<Vec<u8>>,
    pub jpeg_width: u32,
    pub jpeg_height: u32,
    /// The frame scaled to [`THUMBNAIL_MAX_EDGE`], JPEG.
    pub thumbnail: Arc<Vec<u8>>,
}

/// How long each stage took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CaptureTimings {
    pub grab: Duration,
    pub encode: Duration,
    pub thumbnail: Duration,
}

/// Everything captured at one trigger.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub screenshots: Vec<Screenshot>,
    pub timings: CaptureTimings,
}

/// Grabs the monitors the policy allows and encodes them. `Off` returns an empty capture.
///
/// # Errors
/// When grabbing or encoding fails.
pub fn capture(source: &dyn ScreenSource, mode: ScreenshotMode) -> Result<Capture, CaptureError> {
    if mode == ScreenshotMode::Off {
        return Ok(Capture::default());
    }
    let started = Instant::now();
    let mut frames = source.grab_all()?;
    let grab = started.elapsed();
    if mode == ScreenshotMode::PrimaryOnly {
        let primary = frames
            .iter()
            .position(|f| f.monitor.is_primary)
            .unwrap_or(0);
        frames = frames.into_iter().nth(primary).into_iter().collect();
    }
    if frames.is_empty() {
        return Err(CaptureError::NoMonitors);
    }
    let mut capture = process_frames(frames)?;
    capture.timings.grab = grab;
    tracing::debug!(monitors = capture.screenshots.len(), ?capture.timings, "captured screens");
    Ok(capture)
}

/// Encodes frames, one thread per monitor.
///
/// # Errors
/// When an encoder fails.
pub fn process_frames(frames: Vec<Frame>) -> Result<Capture, CaptureError> {
    let results: Vec<Result<(Screenshot, Duration, Duration), CaptureError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = frames
                .into_iter()
                .enumerate()
                .map(|(i, frame)| {
                    scope.spawn(move || encode_frame(u32::try_from(i).unwrap_or(u32::MAX), frame))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(CaptureError::Grab("encoder thread panicked".into()))
                    })
                })
                .collect()
        });
    let mut capture = Capture::default();
    for result in results {
        let (shot, encode, thumb) = result?;
        capture.timings.encode = capture.timings.encode.max(encode);
        capture.timings.thumbnail = capture.timings.thumbnail.max(thumb);
        capture.screenshots.push(shot);
    }
    Ok(capture)
}

fn encode_frame(id: u32, frame: Frame) -> Result<(Screenshot, Duration, Duration), CaptureError> {
    let started = Instant::now();
    let (jpeg, jpeg_width, jpeg_height) =
        encode_jpeg(&frame.image, PREVIEW_MAX_EDGE, PREVIEW_QUALITY)?;
    let encoded = started.elapsed();
    let started = Instant::now();
    let (thumbnail, _, _) = encode_jpeg(&frame.image, THUMBNAIL_MAX_EDGE, 70)?;
    let thumbed = started.elapsed();
    Ok((
        Screenshot {
            id,
            monitor: frame.monitor,
            frame: Arc::new(frame.image),
            jpeg: Arc::new(jpeg),
            jpeg_width,
            jpeg_height,
            thumbnail: Arc::new(thumbnail),
        },
        encoded,
        thumbed,
    ))
}

/// Scales `image` so its longest edge is at most `max_edge` and encodes it as JPEG.
/// Returns the bytes and the encoded size.
///
/// # Errors
/// When the encoder fails.
pub fn encode_jpeg(
    image: &RgbaImage,
    max_edge: u32,
    quality: u8,
) -> Result<(Vec<u8>, u32, u32), CaptureError> {
    let (w, h) = image.dimensions();
    let scale = f64::from(max_edge) / f64::from(w.max(h));
    let scaled;
    let source = if scale < 1.0 {
        let nw = ((f64::from(w) * scale).round() as u32).max(1);
        let nh = ((f64::from(h) * scale).round() as u32).max(1);
        scaled = image::imageops::thumbnail(image, nw, nh);
        &scaled
    } else {
        image
    };
    let (width, height) = source.dimensions();
    let too_large = || {
        CaptureError::TooLarge(format!(
            "a {width}x{height} screenshot is larger than JPEG allows (65535 pixels a side)"
        ))
    };
    let mut out = Vec::with_capacity(256 * 1024);
    // jpeg-encoder takes the RGBA pixels as they are (no copy to RGB) and uses AVX2 where the
    // CPU has it: nearly twice as fast as image's encoder (README, Performance). Its default
    // below quality 90 is JPEG's usual 4:2:0: brightness, which carries the shape of text, at
    // full resolution and colour at half. Full colour (4:4:4, what image's encoder wrote) cost
    // ~60 ms on the hotkey → form figure, the encoder competing with WebKit's start for the CPU.
    jpeg_encoder::Encoder::new(&mut out, quality).encode(
        source.as_raw(),
        u16::try_from(width).map_err(|_| too_large())?,
        u16::try_from(height).map_err(|_| too_large())?,
        jpeg_encoder::ColorType::Rgba,
    )?;
    Ok((out, width, height))
}

/// Writes each screenshot's full frame as PNG into `dir` (`monitor-1-NAME.png`) and returns the
/// paths in monitor order.
///
/// # Errors
/// When the directory cannot be created or a file written.
pub fn write_pngs(capture: &Capture, dir: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    std::fs::create_dir_all(dir).map_err(|source| CaptureError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    capture
        .screenshots
        .iter()
        .map(|shot| {
            let safe: String = shot
                .monitor
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = dir.join(format!("monitor-{}-{safe}.png", shot.id + 1));
            let mut bytes = Cursor::new(Vec::new());
            shot.frame.write_to(&mut bytes, ImageFormat::Png)?;
            std::fs::write(&path, bytes.into_inner()).map_err(|source| CaptureError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

/// A synthetic frame for tests and demos: a gradient with a block, so encodings are realistic.
pub fn test_frame(name: &str, width: u32, height: u32, is_primary: bool) -> Frame {
    let image = RgbaImage::from_fn(width, height, |x, y| {
        let block = (x / 64 + y / 64) % 2 == 0;
        image::Rgba([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            if block { 200 } else { 40 },
            255,
        ])
    });
    Frame {
        monitor: MonitorInfo {
            name: name.into(),
            x: 0,
            y: 0,
            width,
            height,
            is_primary,
            scale_factor: 1.0,
        },
        image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_monitor_is_encoded_once_with_a_thumbnail() {
        let source = StaticSource(vec![
            test_frame("HDMI-1", 1920, 1080, true),
            test_frame("DP-1", 1280, 1024, false),
        ]);
        let capture = capture(&source, ScreenshotMode::AllMonitors).unwrap();
        assert_eq!(capture.screenshots.len(), 2);
        let first = &capture.screenshots[0];
        assert_eq!((first.jpeg_width, first.jpeg_height), (1600, 900));
        assert_eq!(&first.jpeg[..2], &[0xFF, 0xD8], "JPEG magic");
        let thumb = image::load_from_memory(&first.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 180));
        assert_eq!(capture.screenshots[1].monitor.name, "DP-1");
        assert_eq!(
            (
                capture.screenshots[1].jpeg_width,
                capture.screenshots[1].jpeg_height
            ),
            (1280, 1024)
        );
    }

    #[test]
    fn primary_only_and_off_policies_are_honoured() {
        let source = StaticSource(vec![
            test_frame("DP-1", 640, 480, false),
            test_frame("HDMI-1", 640, 480, true),
        ]);
        let primary = capture(&source, ScreenshotMode::PrimaryOnly).unwrap();
        assert_eq!(
            primary
                .screenshots
                .iter()
                .map(|s| s.monitor.name.as_str())
                .collect::<Vec<_>>(),
            ["HDMI-1"]
        );
        assert!(capture(&source, ScreenshotMode::Off)
            .unwrap()
            .screenshots
            .is_empty());
        assert!(matches!(
            capture(&StaticSource(vec![]), ScreenshotMode::AllMonitors),
            Err(CaptureError::NoMonitors)
        ));
    }

    #[test]
    fn pngs_are_written_per_monitor_at_full_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let capture = capture(
            &StaticSource(vec![test_frame("eDP 1", 800, 600, true)]),
            ScreenshotMode::AllMonitors,
        )
        .unwrap();
        let paths = write_pngs(&capture, dir.path()).unwrap();
        assert_eq!(paths, vec![dir.path().join("monitor-1-eDP_1.png")]);
        let png = image::open(&paths[0]).unwrap();
        assert_eq!((png.width(), png.height()), (800, 600));
    }
}
