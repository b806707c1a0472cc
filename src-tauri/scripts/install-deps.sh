#!/usr/bin/env bash
# Installs what building, running and testing Helpdesk Button needs on Debian/Ubuntu, and only
# what is missing: system packages (with sudo when not root), tauri-driver, and the page-test
# npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(
  build-essential pkg-config curl file libssl-dev            # Rust builds
  openssl                                                    # the relay's TLS test: a self-signed certificate
  postgresql postgresql-client                               # the relay on a shared Postgres (test-postgres.sh)
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev  # Tauri 2, keyring
  libpipewire-0.3-dev libclang-dev libgbm-dev                # xcap
  xvfb xauth dbus-x11 x11-utils x11-xserver-utils xdotool imagemagick  # a display for tests and screenshots
  dunst                                                      # a notification daemon, to click notifications in tests
  webkit2gtk-driver                                          # WebDriver for the real window
  chromium nodejs npm                                        # page tests of ui/
  sudo libgtk-3-bin desktop-file-utils xdg-utils            # the .deb test: dpkg via sudo, gtk-launch
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (nvm, NodeSource); only install Debian's when there is none.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]:-}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "Installing tauri-driver (WebDriver bridge for the real app window)"
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi

# Tauri's CLI (bundler, signer) for release.sh and the .deb test: the prebuilt binary from npm.
if [ ! -x src-tauri/node_modules/.bin/tauri ]; then
  (cd src-tauri && npm install --no-package-lock --no-audit --no-fund --silent)
fi

if [ ! -d tests/e2e/node_modules/playwright-core ]; then
  (cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund --silent)
fi
