#!/usr/bin/env bash
# The .deb, end to end, on this machine (run as root, under a display and a session bus;
# tests/run-all.sh does that):
#   1. build the release .deb of this version and of a newer one (0.0.1 patch higher);
#   2. check the package: desktop entry with the helpdesk-button:// handler, autostart entry,
#      dependencies that apt can resolve;
#   3. install it with apt, start the app from its desktop entry (gtk-launch), see the form;
#   4. publish the newer .deb, signed, on a local static server; the policy file points the app
#      at it and pins the test key; while the form is open the update only downloads; once the
#      form closes the app installs it (dpkg via sudo) and restarts; the new version reports itself;
#   5. purge the package.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [ "$(id -u)" != 0 ]; then
    echo "deb test: skipped (installing a package needs root; CI runs it as root)"
    exit 0
fi

fail() { echo "deb test: FAIL: $*" >&2; exit 1; }
step() { echo "deb test: $*"; }

WORK="$(mktemp -d /tmp/hb-deb.XXXXXX)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    pkill -f '^/usr/bin/helpdesk-button' 2>/dev/null || true
    if dpkg -s helpdesk-button >/dev/null 2>&1; then
        apt-get purge -y -qq helpdesk-button >/dev/null 2>&1 || true
    fi
    rm -f /etc/helpdesk-button/policy.toml
    rm -rf "$WORK"
}
trap cleanup EXIT

# Waits up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
    local secs="$1"; shift
    local deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# ---- 1. Build ----------------------------------------------------------------------------
CURRENT="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
NEXT="$(echo "$CURRENT" | awk -F. '{ printf "%d.%d.%d", $1, $2, $3 + 1 }')"
step "building the .deb for $CURRENT and for $NEXT"
# The dev profile by default (it reuses the test build; HB_DEB_PROFILE=release for the shipped one).
PROFILE_ARG=(--debug)
[ "${HB_DEB_PROFILE:-debug}" = release ] && PROFILE_ARG=()
OLD_DEB="$(bash src-tauri/scripts/release.sh build "${PROFILE_ARG[@]}")"
cp "$OLD_DEB" "$WORK/old.deb"
NEW_DEB="$(bash src-tauri/scripts/release.sh build "${PROFILE_ARG[@]}" --version "$NEXT")"
cp "$NEW_DEB" "$WORK/"
NEW_DEB="$WORK/$(basename "$NEW_DEB")"
ls -l "$WORK"/*.deb

# ---- 2. The package's contents --------------------------------------------------------------
step "checking the package contents"
dpkg-deb -c "$WORK/old.deb" > "$WORK/contents"
for f in usr/bin/helpdesk-button usr/bin/helpdesk-button-rules "usr/share/applications/Helpdesk Button.desktop" \
         etc/xdg/autostart/helpdesk-button.desktop usr/share/icons/hicolor/128x128/apps/helpdesk-button.png; do
    grep -qF "$f" "$WORK/contents" || fail "the package lacks $f"
done
dpkg-deb -f "$WORK/old.deb" Version | grep -qx "$CURRENT" || fail "package version is not $CURRENT"
dpkg-deb -f "$NEW_DEB" Version | grep -qx "$NEXT" || fail "the new package's version is not $NEXT"
DEPENDS="$(dpkg-deb -f "$WORK/old.deb" Depends)"
step "Depends: $DEPENDS"
for lib in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 libdbus-1-3 libxcb1; do
    echo "$DEPENDS" | grep -q "$lib" || fail "Depends lacks $lib"
done

# ---- 3. Install, start from the desktop entry ---------------------------------------------
step "installing with apt"
apt-get install -y -qq "$WORK/old.deb" >/dev/null
DESKTOP="/usr/share/applications/Helpdesk Button.desktop"
grep -qx 'MimeType=x-scheme-handler/helpdesk-button;' "$DESKTOP" || fail "no URL handler in the desktop entry"
desktop-file-validate "$DESKTOP" || fail "the desktop entry is not valid"
desktop-file-validate /etc/xdg/autostart/helpdesk-button.desktop || fail "the autostart entry is not valid"
grep -q 'helpdesk-button' /usr/share/applications/mimeinfo.cache || fail "the URL handler is not registered"
[ "$(xdg-mime query default x-scheme-handler/helpdesk-button)" = "Helpdesk Button.desktop" ] \
    || fail "helpdesk-button:// does not open the app"
/usr/bin/helpdesk-button --version | grep -q "$CURRENT" || fail "the installed binary does not report $CURRENT"
# Every library the binary needs is present once its Depends are installed.
if ldd /usr/bin/helpdesk-button | grep -q 'not found'; then
    ldd /usr/bin/helpdesk-button | grep 'not found'
    fail "the installed binary misses libraries"
fi

export HELPDESK_BUTTON_CONFIG_DIR="$WORK/config"
export HELPDESK_BUTTON_LOG=info
mkdir -p "$HELPDESK_BUTTON_CONFIG_DIR"
step "starting the app from its desktop entry"
gtk-launch "Helpdesk Button" >"$WORK/launch.log" 2>&1 || fail "gtk-launch failed: $(cat "$WORK/launch.log")"
wait_for 60 xdotool search --onlyvisible --name "Report a problem" \
    || fail "the form did not open from the desktop entry"
PID="$(pgrep -f '^/usr/bin/helpdesk-button|^helpdesk-button' | head -n 1)"
[ -n "$PID" ] || fail "no app process"
step "app $PID is running $CURRENT with its form open"

# ---- 4. A signed update on the local channel ----------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
bash src-tauri/scripts/release.sh publish --channel stable --base-url "http://127.0.0.1:$PORT" \
    --key tests/fixtures/updater/test.key --out "$WORK/site" --notes "e2e" "$NEW_DEB"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/site" >"$WORK/http.log" 2>&1 &
SERVER_PID=$!
wait_for 10 python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/stable/latest.json')"
install -D -m 0644 /dev/stdin /etc/helpdesk-button/policy.toml <<POLICY
locked = ["updates"]
[settings.updates]
stable_url = "http://127.0.0.1:$PORT/stable/latest.json"
pubkey = "$(cat tests/fixtures/updater/test.key.pub)"
POLICY
# A release build reads only the machine policy: a user's own policy file (no locks, another
# update key) is ignored, whatever the environment says. (The default dev-profile package keeps
# the test suites' override, so this holds only for HB_DEB_PROFILE=release.)
if [ "${HB_DEB_PROFILE:-debug}" = release ]; then
  printf 'locked = []\n' > "$WORK/user-policy.toml"
  if OUT="$(HELPDESK_BUTTON_TEST_POLICY_FILE="$WORK/user-policy.toml" HELPDESK_BUTTON_POLICY_FILE="$WORK/user-policy.toml" \
      /usr/bin/helpdesk-button settings set updates.stable_url https://evil.example/latest.json 2>&1)"; then
    fail "the shipped binary let a user's policy file unlock the update channel: $OUT"
  fi
  echo "$OUT" | grep -q "locked by the policy in /etc/helpdesk-button/policy.toml" \
    || fail "the refusal does not name the machine policy: $OUT"
  step "the release binary ignores a user's policy file"
else
  step "skipped: a user's policy file is ignored only by a release build (HB_DEB_PROFILE=release)"
fi

STATUS="$HELPDESK_BUTTON_CONFIG_DIR/update-status.json"
status_is() { python3 -c "import json,sys; s=json.load(open('$STATUS')); sys.exit(0 if $1 else 1)"; }
step "checking for updates while the form is open"
/usr/bin/helpdesk-button --check-updates
wait_for 120 status_is "s['outcome'].get('state') == 'ready' and s['outcome'].get('version') == '$NEXT'" \
    || fail "the update was not downloaded and verified: $(cat "$STATUS")"
grep -q '"GET /files/' "$WORK/http.log" || fail "the package was not downloaded"
dpkg-query -W -f='${Version}' helpdesk-button | grep -qx "$CURRENT" \
    || fail "the update was installed while the form was open"
kill -0 "$PID" || fail "the app did not keep running"
step "closing the form: the app is idle, installs $NEXT and restarts"
# As a user does: Esc in the form (the window is destroyed, the session freed).
WID="$(xdotool search --onlyvisible --name "Report a problem" | head -n 1)"
xdotool windowfocus --sync "$WID" key Escape
no_form() { ! xdotool search --onlyvisible --name "Report a problem"; }
wait_for 30 no_form || fail "Esc did not close the form"
wait_for 180 sh -c "dpkg-query -W -f='\${Version}' helpdesk-button | grep -qx '$NEXT'" \
    || fail "the update was not installed: $(cat "$STATUS")"
wait_for 60 status_is "s['current_version'] == '$NEXT'" \
    || fail "the new version did not start: $(cat "$STATUS")"
/usr/bin/helpdesk-button --version | grep -q "$NEXT" || fail "the binary does not report $NEXT"
NEW_PID="$(pgrep -f '^/usr/bin/helpdesk-button' | head -n 1)"
[ -n "$NEW_PID" ] && [ "$NEW_PID" != "$PID" ] || fail "the app did not restart"
kill -0 "$PID" 2>/dev/null && fail "the old version is still running"
step "app $NEW_PID reports $NEXT: $(/usr/bin/helpdesk-button --version)"
step "passed"
