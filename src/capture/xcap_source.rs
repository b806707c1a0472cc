//! The real screen source: every monitor through xcap (X11/Wayland on Linux, GDI/WGC on Windows,
//! CoreGraphics on macOS).

use super::{CaptureError, Frame, MonitorInfo, ScreenSource};

/// Captures all monitors with xcap.
pub struct XcapSource;

impl ScreenSource for XcapSource {
    fn grab_all(&self) -> Result<Vec<Frame>, CaptureError> {
        let grab_err = |e: xcap::XCapError| CaptureError::Grab(e.to_string());
        let monitors = xcap::Monitor::all().map_err(grab_err)?;
        if monitors.is_empty() {
            return Err(CaptureError::NoMonitors);
        }
        // Grab all monitors first, as close to the trigger as possible; encoding comes later.
        let mut frames: Vec<Frame> = monitors
            .iter()
            .map(|m| {
                let image = m.capture_image().map_err(grab_err)?;
                let monitor = MonitorInfo {
                    name: m
                        .name()
                        .or_else(|_| m.friendly_name())
                        .unwrap_or_else(|_| "Monitor".into()),
                    x: m.x().unwrap_or(0),
                    y: m.y().unwrap_or(0),
                    width: m.width().unwrap_or(image.width()),
                    height: m.height().unwrap_or(image.height()),
                    is_primary: m.is_primary().unwrap_or(false),
                    scale_factor: m.scale_factor().unwrap_or(1.0),
                };
                Ok(Frame { monitor, image })
            })
            .collect::<Result<_, CaptureError>>()?;
        // Some X servers (Xvfb, some VNC setups) report no primary output; the monitor at the
        // origin is where the desktop's panels and new windows go, so it counts as primary.
        if !frames.iter().any(|f| f.monitor.is_primary) {
            if let Some(f) = frames.iter_mut().min_by_key(|f| {
                (
                    f.monitor.x != 0 || f.monitor.y != 0,
                    f.monitor.y,
                    f.monitor.x,
                )
            }) {
                f.monitor.is_primary = true;
            }
        }
        Ok(frames)
    }
}
