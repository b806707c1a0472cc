#!/usr/bin/env bash
# Installs what is missing, builds the app and opens the ticket form.
#  - With a real Atera account configured (an API key and a non-local endpoint in the normal
#    settings), the form files tickets there.
#  - Otherwise it starts the local Atera sandbox and points a separate demo configuration
#    (target/demo-config) at it; received tickets are listed on the sandbox's web page.
#  - Without a display (SSH, containers) it runs under Xvfb and saves a screenshot of the form.
# Stop with Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
bash src-tauri/scripts/install-deps.sh
cargo build -p helpdesk-button --locked
bin="$PWD/target/debug/helpdesk-button"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

shown=$("$bin" settings show --json)
if grep -q '"configured": true' <<<"$shown" && ! grep -Eq '"endpoint": "(https://)?(127\.|localhost|\[::1\])' <<<"$shown"; then
  echo "Using your Atera account (settings in $("$bin" settings show --json | grep -m1 config_dir))."
  args=("helpdesk-button://new")
else
  port=${HELPDESK_BUTTON_SANDBOX_PORT:-8765}
  log="$PWD/target/demo-sandbox.log"
  "$bin" sandbox --port "$port" --api-key sandbox-key >"$log" 2>&1 &
  pids+=($!)
  until grep -q listening "$log" 2>/dev/null; do
    if ! kill -0 "${pids[0]}" 2>/dev/null; then
      cat "$log" >&2
      echo "The sandbox could not start. Pick another port: HELPDESK_BUTTON_SANDBOX_PORT=8766 bash src-tauri/scripts/demo.sh" >&2
      exit 1
    fi
    sleep 0.1
  done
  demo="$PWD/target/demo-config"
  "$bin" --config-dir "$demo" settings set atera.endpoint "127.0.0.1:$port" >/dev/null
  grep -q 'company_name = "IT Support"' "$demo/settings.toml" && "$bin" --config-dir "$demo" settings set branding.company_name "Demo MSP" >/dev/null
  export HELPDESK_BUTTON_ATERA_API_KEY=sandbox-key
  echo
  echo "No Atera account is configured, so tickets go to the local Atera sandbox:"
  echo "  received tickets: http://127.0.0.1:$port/"
  echo "  demo settings:    $demo (change them with: $bin --config-dir $demo settings set KEY VALUE)"
  echo "  hotkey:           Ctrl+Shift+F1 opens the form again after you close it"
  echo
  args=(--config-dir "$demo" "helpdesk-button://new")
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$bin" "${args[@]}"
else
  echo "No display found: running under Xvfb. A screenshot of the form goes to target/demo-form.png."
  xvfb-run -a -s '-screen 0 1440x900x24 -noreset' bash -c '
    "$0" "${@}" & app=$!
    for _ in $(seq 1 300); do xdotool search --onlyvisible --name "Report a problem" >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 1; import -window root target/demo-form.png && echo "Saved target/demo-form.png"
    wait $app' "$bin" "${args[@]}"
fi
