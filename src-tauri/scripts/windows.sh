#!/usr/bin/env bash
# The Windows target (x86_64-pc-windows-gnu), from this Linux machine: clippy with -D warnings
# on every crate and test for Windows, the app and the rules evaluator built as .exe files, and
# the Windows CLI run under Wine against the sandbox (tests/app/wine.rs).
#
# rustup cannot fetch other targets here, so this uses Debian's extra Rust toolchain (rustc-web,
# 1.96, with its std source) and builds std for the target (-Zbuild-std). The rustup toolchain
# stays the main one: this script puts /usr/bin first only for its own cargo calls.
#
#   bash src-tauri/scripts/windows.sh            # clippy + build (what CI runs)
#   HB_WINDOWS_STEPS=clippy bash ...windows.sh   # clippy only (steps: clippy build wine)
#
# Cold: about 6.5 min for clippy (std included) on 2 cores, plus the build; the target dir
# (target/windows-gnu) keeps both between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64)
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

steps="${HB_WINDOWS_STEPS:-clippy build wine}"
if [[ " $steps " == *" clippy "* ]]; then
  echo "== Windows: clippy (x86_64-pc-windows-gnu)"
  win clippy --workspace --all-targets -- -D warnings
fi
if [[ " $steps " == *" build "* ]]; then
  echo "== Windows: helpdesk-button.exe and helpdesk-button-rules.exe"
  win build -p helpdesk-button --bins
  for exe in helpdesk-button.exe helpdesk-button-rules.exe; do
    file "target/windows-gnu/x86_64-pc-windows-gnu/debug/$exe" | grep -q "PE32+ executable" \
      || { echo "windows: $exe is not a PE32+ executable" >&2; exit 1; }
  done
  ls -l target/windows-gnu/x86_64-pc-windows-gnu/debug/*.exe
fi
if [[ " $steps " == *" wine "* ]]; then
  echo "== Windows: the CLI under Wine (inventory, submit to the sandbox, outbox, rules)"
  if ! command -v wine >/dev/null || ! dpkg-query -W -f='${Status}' wine64 2>/dev/null | grep -q "install ok installed"; then
    echo "Installing Wine (Debian's wine, wine64)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null
  fi
  out="target/windows-gnu/x86_64-pc-windows-gnu/debug"
  # Wine 8.0 has no bcryptprimitives.dll (Rust's std asks it for random bytes); a stand-in for the
  # tests only, next to the .exe files. Real Windows has the DLL; nothing ships this one.
  x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$out/bcryptprimitives.dll" \
    src-tauri/scripts/wine/bcryptprimitives.c -ladvapi32
  export WINEPREFIX="$PWD/target/wine-prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  timeout 300 wineboot --init
  # Wine plays Windows 7 by default; the app is for Windows 10 and 11.
  timeout 120 wine winecfg -v win10
  HB_WINE_EXE="$PWD/$out/helpdesk-button.exe" \
    cargo test -p helpdesk-button --test cli --locked wine:: -- --ignored --test-threads=1
  wineserver -k || true
fi
