#!/usr/bin/env bash
# macOS, type-checked from this Linux machine: `cargo clippy -D warnings` of helpdesk-core and
# the app for aarch64-apple-darwin, every crate and test, with Debian's extra Rust toolchain
# (rustc-web, std built from its source, as for Windows: src-tauri/scripts/windows.sh installs
# it). Nothing is linked, so no Apple SDK is needed for the Rust code; the C and Objective-C
# parts (ring, SQLite, objc2's exception helper, mac-notification-sys) need the SDK's headers and
# are not compiled here: scripts/macos/stub-cc.sh stands in for the compiler. A real build, the
# .app and the .dmg are made on a Mac (README, "Packages").
set -euo pipefail
cd "$(dirname "$0")/../.."
# The toolchain (Debian packages), installed by the Windows script when missing; no Windows step.
HB_WINDOWS_STEPS=none bash src-tauri/scripts/windows.sh
stub="$PWD/src-tauri/scripts/macos/stub-cc.sh"
echo "== macOS (aarch64-apple-darwin): clippy, no Apple SDK"
PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$PWD/target/macos" \
  CC_aarch64_apple_darwin="$stub" CXX_aarch64_apple_darwin="$stub" AR_aarch64_apple_darwin=ar \
  cargo clippy -Zbuild-std=std,panic_abort --target aarch64-apple-darwin --locked \
  -p helpdesk-core -p helpdesk-button --all-targets -- -D warnings
