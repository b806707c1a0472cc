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
# Layouts (Xvfb, -noreset): 1×1920×1080; 2×1920×1080 (one 3840×1080 screen, grabbed as two
# monitors by the criterion bench: Xvfb has a single RandR output); 1×3840×2160. The root window
# shows a real desktop picture so that JPEG encoding works on realistic content. Takes about 10
# minutes after the build. It needs the machine to itself: other work inflates the times and, by
# sharing libraries, lowers PSS; the table warns when the machine was busy while the app sat idle.
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
  # Xvfb presents one RandR output and xcap captures per output, so two monitors side by side
  # are one 3840x1080 output: the criterion bench grabs it as two 1920x1080 monitors (one X
  # GetImage per monitor, as xcap does per output); the app itself sees one 3840x1080 monitor.
  [ "$layout" = 2x1920x1080 ] && export HELPDESK_BENCH_SPLIT_MONITORS=2
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

  phases=hotkey app_layout=$layout
  [ "$layout" = 1x1920x1080 ] && phases=idle,hotkey,afteruse,submit,refs
  [ "$layout" = 2x1920x1080 ] && app_layout=1x3840x1080
  echo "== whole app at $app_layout: $phases"
  python3 "$scripts/bench_app.py" --bin "$bin" --label "$app_layout" --out "$out/app-$app_layout.json" --phases "$phases" \
    --runs "${BENCH_RUNS:-5}" --idle-runs "${BENCH_IDLE_RUNS:-3}" --idle-secs "${BENCH_IDLE_SECS:-60}"
  exit 0
fi

# ---- the whole run -----------------------------------------------------------------------------
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for tool in xvfb-run xdotool xmessage xdpyinfo dbus-run-session display chromium; do
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

# The .deb, with Tauri's bundler (release.sh build: Tauri's CLI from npm).
deb="" deb_note=""
echo "== .deb (src-tauri/scripts/release.sh build)"
deb=$(bash "$scripts/release.sh" build) || deb_note="release.sh build failed"

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
  # D-Bus and its session services chatter on stderr: kept in a log, shown if something fails.
  # Two session services also print a line on stdout; those are dropped.
  if ! xvfb-run -a -s "-screen 0 $screen -noreset" dbus-run-session -- bash "$scripts/bench.sh" --inside "$layout" 2>"$out/stderr-$layout.log" \
    | grep --line-buffered -v -E '^(SpiRegistry daemon is running|GNOME_KEYRING_CONTROL=)'; then
    tail -40 "$out/stderr-$layout.log" >&2
    echo "bench: the run at $layout failed (full log: $out/stderr-$layout.log)" >&2
    exit 1
  fi
done

echo
python3 "$scripts/bench_report.py" --dir "$out" --binary "$bin" --deb "$deb" --deb-note "$deb_note" --started "$started" \
  | tee "$out/table.txt"
