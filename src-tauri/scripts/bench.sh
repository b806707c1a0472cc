#!/usr/bin/env bash
# The performance benchmark: builds the release app, runs the criterion benches of the core and
# the whole-app measurements under Xvfb, prints one table (median, min, max, target, pass/fail)
# and writes the same figures to target/bench/results.json.
#
#   bash src-tauri/scripts/bench.sh
#
# Environment:
#   BENCH_RUNS=5        hotkey presses per layout, CLI submissions, reference launches
#   BENCH_IDLE_RUNS=3   app starts for the idle figures (each BENCH_IDLE_SECS long)
#   BENCH_IDLE_SECS=60  the idle window
#   BENCH_CRITERION=1   0 skips `cargo bench` (the table then shows n/a for those figures)
#
# Layouts (Xvfb, -noreset): 1×1920×1080; 2×1920×1080 as one 3840×1080 screen split into two
# RandR monitors (what xcap enumerates); 1×3840×2160. The root window shows a real desktop
# picture so that JPEG encoding works on realistic content. Takes about 15 minutes after the
# build; it needs the machine to itself (other heavy jobs skew every figure).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
scripts="$root/src-tauri/scripts"
out="$root/target/bench"
bin="$root/target/release/helpdesk-button"
export CRITERION_HOME="$out/criterion"
export HELPDESK_BENCH_APP_EXE="$bin"

# ---- inside one Xvfb display: bench.sh --inside LAYOUT ----------------------------------------
if [ "${1:-}" = "--inside" ]; then
  layout=$2
  case "$layout" in
    2x1920x1080)
      # One 3840x1080 screen, two RandR 1.5 monitors side by side: xcap lists two monitors.
      xrandr --setmonitor HB-LEFT 1920/508x1080/286+0+0 screen >/dev/null
      xrandr --setmonitor HB-RIGHT 1920/508x1080/286+1920+0 none >/dev/null
      n=$(xrandr --listmonitors | head -1 | awk '{print $2}')
      [ "$n" = 2 ] || { echo "bench: expected 2 monitors, xrandr lists $n" >&2; exit 1; }
      ;;
  esac
  # A busy desktop on the root window (a real screenshot of an app, scaled), for realistic JPEGs.
  size=$(xdpyinfo | awk '/dimensions:/{print $2}')
  bg="$out/desktop-$size.png"
  src="$root/tests/screenshots/form.png"
  convert=/usr/bin/convert; [ -x "$convert" ] || convert=convert
  if [ -f "$src" ]; then "$convert" "$src" -resize "$size!" "$bg"; else "$convert" -size "$size" plasma:fractal "$bg"; fi
  display -window root "$bg" >/dev/null 2>&1 || true

  if [ "${BENCH_CRITERION:-1}" = 1 ]; then
    if [ "$layout" = 1x1920x1080 ]; then
      echo "== criterion: every group, real screens at $layout"
      cargo bench -q -p helpdesk-core --bench core 2>&1 | tee "$out/criterion-$layout.log"
    else
      echo "== criterion: the real grab at $layout"
      cargo bench -q -p helpdesk-core --bench core -- capture/xcap 2>&1 | tee "$out/criterion-$layout.log"
    fi
  fi

  phases=hotkey
  [ "$layout" = 1x1920x1080 ] && phases=idle,hotkey,afteruse,submit,refs
  echo "== whole app at $layout: $phases"
  python3 "$scripts/bench_app.py" --bin "$bin" --label "$layout" --out "$out/app-$layout.json" --phases "$phases" \
    --runs "${BENCH_RUNS:-5}" --idle-runs "${BENCH_IDLE_RUNS:-3}" --idle-secs "${BENCH_IDLE_SECS:-60}"
  exit 0
fi

# ---- the whole run -----------------------------------------------------------------------------
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for tool in xvfb-run xdotool xmessage xrandr xdpyinfo dbus-run-session display chromium; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: $tool is missing; installing what is missing"
    bash "$scripts/install-deps.sh"
    break
  fi
done

rm -rf "$out"
mkdir -p "$out"
echo "== release build"
cargo build --release -p helpdesk-button

# The .deb, only with a bundler that is already installed (nothing is downloaded for it).
deb="" deb_note=""
if cargo tauri --version >/dev/null 2>&1; then
  echo "== .deb (cargo tauri build --bundles deb)"
  (cd src-tauri && cargo tauri build --bundles deb) && deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -1) || true
  [ -n "$deb" ] || deb_note="cargo tauri build --bundles deb failed"
else
  deb_note="not built: no bundler installed (tauri-cli); nothing is downloaded for it"
fi

if [ "${BENCH_CRITERION:-1}" = 1 ]; then
  echo "== criterion build"
  cargo bench -q -p helpdesk-core --bench core --no-run
fi

for layout in 1x1920x1080 2x1920x1080 1x3840x2160; do
  case "$layout" in
    1x1920x1080) screen=1920x1080x24 ;;
    2x1920x1080) screen=3840x1080x24 ;;
    1x3840x2160) screen=3840x2160x24 ;;
  esac
  echo
  echo "==== $layout (Xvfb -screen 0 $screen)"
  xvfb-run -a -s "-screen 0 $screen -noreset" dbus-run-session -- bash "$scripts/bench.sh" --inside "$layout"
done

echo
python3 "$scripts/bench_report.py" --dir "$out" --binary "$bin" --deb "$deb" --deb-note "$deb_note" --started "$started" \
  | tee "$out/table.txt"
