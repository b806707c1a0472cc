#!/usr/bin/env bash
# The Windows target (x86_64-pc-windows-gnu), from this Linux machine: clippy with -D warnings
# on every crate and test for Windows, the app and the rules evaluator built as .exe files, the
# NSIS installer (Debian's makensis, src-tauri/windows/installer.nsi), and under Wine: the core's
# unit and integration tests as Windows binaries, the Windows CLI against the sandbox, and the
# installer's silent install (tests/app/wine.rs).
#
# rustup cannot fetch other targets here, so this uses Debian's extra Rust toolchain (rustc-web,
# 1.96, with its std source) and builds std for the target (-Zbuild-std). The rustup toolchain
# stays the main one: this script puts /usr/bin first only for its own cargo calls.
#
#   bash src-tauri/scripts/windows.sh            # clippy + build (what CI runs)
#   HB_WINDOWS_STEPS=clippy bash ...windows.sh   # clippy only (steps: clippy build installer wine)
#   HB_WINDOWS_PROFILE=release HB_WINDOWS_STEPS="build installer" bash ...windows.sh
#                                                 # the shipped installer (release.sh build-windows)
#
# Cold: about 6.5 min for clippy (std included) on 2 cores, plus the build; the target dir
# (target/windows-gnu) keeps both between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 nsis)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing the Windows toolchain: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

win() {
  PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$PWD/target/windows-gnu" \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    cargo "$1" -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu --locked "${@:2}"
}

profile="${HB_WINDOWS_PROFILE:-debug}"
case "$profile" in
  debug) profile_args=() ;;
  release) profile_args=(--release) ;;
  *) echo "windows.sh: HB_WINDOWS_PROFILE is debug or release, not $profile" >&2; exit 2 ;;
esac
out="target/windows-gnu/x86_64-pc-windows-gnu/$profile"
# The version the app reports and the installer carries: HELPDESK_BUTTON_RELEASE_VERSION (what
# release.sh sets), else the workspace's (Cargo.toml).
version="${HELPDESK_BUTTON_RELEASE_VERSION:-$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "windows.sh: no version ($version)" >&2; exit 2; }

steps="${HB_WINDOWS_STEPS:-clippy build installer wine}"
if [[ " $steps " == *" clippy "* ]]; then
  echo "== Windows: clippy (x86_64-pc-windows-gnu)"
  win clippy --workspace --all-targets -- -D warnings
fi
if [[ " $steps " == *" build "* ]]; then
  echo "== Windows: helpdesk-button.exe and helpdesk-button-rules.exe ($profile)"
  win build -p helpdesk-button --bins "${profile_args[@]}"
  for exe in helpdesk-button.exe helpdesk-button-rules.exe; do
    file "$out/$exe" | grep -q "PE32+ executable" \
      || { echo "windows: $exe is not a PE32+ executable" >&2; exit 1; }
  done
  ls -l "$out"/*.exe
fi
if [[ " $steps " == *" installer "* ]]; then
  echo "== Windows: the installer (NSIS, version $version)"
  stage="target/windows-gnu/installer/stage-$profile"
  rm -rf "$stage"; mkdir -p "$stage"
  cp "$out/helpdesk-button.exe" "$out/helpdesk-button-rules.exe" "$out/WebView2Loader.dll" "$stage/"
  # Debug builds carry 80 MB of debug info per .exe; the installer of a test build needs none.
  [ "$profile" = debug ] && x86_64-w64-mingw32-strip "$stage/helpdesk-button.exe" "$stage/helpdesk-button-rules.exe"
  # Tauri's bundler marks the .exe it packages with its package type, which tells the updater to
  # ask the channel for "windows-x86_64-nsis"; this installer does the same (same length).
  python3 - "$stage/helpdesk-button.exe" <<'PY'
import sys
path = sys.argv[1]
data = open(path, "rb").read()
old, new = b"__TAURI_BUNDLE_TYPE_VAR_UNK", b"__TAURI_BUNDLE_TYPE_VAR_NSS"
if data.count(old) != 1:
    sys.exit(f"windows.sh: {path} has {data.count(old)} package-type markers, not 1")
open(path, "wb").write(data.replace(old, new))
PY
  mkdir -p "target/windows-gnu/installer/$profile"
  installer="$PWD/target/windows-gnu/installer/$profile/helpdesk-button_${version}_x64-setup.exe"
  fast=(); [ "$profile" = debug ] && fast=(-DFAST)
  makensis -V2 "${fast[@]}" -DVERSION="$version" -DSRCDIR="$PWD/$stage" -DOUTFILE="$installer" \
    src-tauri/windows/installer.nsi
  file "$installer" | grep -q "PE32+ executable" \
    || { echo "windows: $installer is not a 64-bit Windows program" >&2; exit 1; }
  ls -l "$installer"
fi
if [[ " $steps " == *" wine "* ]]; then
  echo "== Windows under Wine: the core's tests, the CLI against the sandbox, the installer"
  if ! command -v wine >/dev/null || ! dpkg-query -W -f='${Status}' wine64 2>/dev/null | grep -q "install ok installed"; then
    echo "Installing Wine (Debian's wine, wine64)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null
  fi
  export WINEPREFIX="$PWD/target/wine-prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  timeout 300 wineboot --init
  # Wine plays Windows 7 by default; the app is for Windows 10 and 11.
  timeout 120 wine winecfg -v win10
  win test -p helpdesk-core --no-run
  # Wine 8.0 has no bcryptprimitives.dll (Rust's std asks its ProcessPrng for random bytes), so
  # no Rust program starts. A stand-in for the tests only, in the test prefix's System32 where
  # Windows 10 and 11 have the real one; nothing ships it.
  x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    src-tauri/scripts/wine/bcryptprimitives.c -ladvapi32
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine win test -p helpdesk-core -- --test-threads=2
  HB_WINE_EXE="$PWD/$out/helpdesk-button.exe" \
    HB_WINE_INSTALLER="$(ls -t "$PWD/target/windows-gnu/installer/$profile"/helpdesk-button_*_x64-setup.exe | head -n 1)" \
    cargo test -p helpdesk-button --test cli --locked wine:: -- --ignored --test-threads=1
  wineserver -k || true
fi
