#!/usr/bin/env bash
# Runs every test of Helpdesk Button on a fresh Debian/Ubuntu machine with Rust installed:
#   1. installs what is missing (src-tauri/scripts/install-deps.sh)
#   2. rustfmt --check, and clippy with -D warnings on every crate and test
#   3. unit and integration tests (submissions against the local Atera sandbox, the OpenAPI
#      contract, the CLI, and the tray app's triggers) under Xvfb and a private D-Bus session;
#      the relay's tests on a throwaway Postgres (src-tauri/scripts/test-postgres.sh)
#   4. page tests of ui/ in Debian's Chromium
#   5. the WebDriver suite driving the real app window through tauri-driver under Xvfb
#   6. the .deb: built with Tauri's bundler, installed with apt, started from its desktop entry,
#      then updated from a signed .deb on a local channel (tests/deb/run.sh; needs root)
#   7. Windows (x86_64-pc-windows-gnu): clippy with -D warnings on every crate and test for
#      Windows, the app and rules evaluator built as .exe files, the NSIS installer, and under
#      Wine the core's tests, the Windows CLI against the sandbox and the silent install
#      (src-tauri/scripts/windows.sh)
#   8. macOS (aarch64-apple-darwin): clippy with -D warnings on the core and the app, without the
#      Apple SDK (src-tauri/scripts/macos-check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
bash src-tauri/scripts/install-deps.sh

xvfb=(xvfb-run -a -s '-screen 0 1920x1080x24 -noreset')

echo "== rustfmt and clippy"
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check; else echo "rustfmt is not installed: format check skipped"; fi
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== unit, integration and CLI tests"
# A throwaway Postgres for the relay on a shared database (the tests make a database each).
eval "$(bash src-tauri/scripts/test-postgres.sh start)"
trap 'bash src-tauri/scripts/test-postgres.sh stop' EXIT
cargo build --workspace --locked
"${xvfb[@]}" dbus-run-session -- cargo test --workspace --locked

echo "== page tests (ui/ in Chromium)"
PLAYWRIGHT_CORE_DIR="$PWD/tests/e2e" node --test --test-concurrency=1 tests/ui/

echo "== WebDriver suite (the real window)"
HB_BIN="$PWD/target/debug/helpdesk-button" TAURI_DRIVER="$(command -v tauri-driver)" \
  "${xvfb[@]}" node --test --test-concurrency=1 tests/e2e/

echo "== the .deb: install, desktop entry, signed update"
"${xvfb[@]}" dbus-run-session -- bash tests/deb/run.sh

echo "== Windows (x86_64-pc-windows-gnu): clippy, the .exe files, the installer, Wine"
bash src-tauri/scripts/windows.sh

echo "== macOS (aarch64-apple-darwin): clippy, no Apple SDK"
bash src-tauri/scripts/macos-check.sh
