#!/usr/bin/env bash
# The relay, locally, in one command: the Atera sandbox, a relay holding the sandbox's key, and an
# app enrolled with it (its own demo configuration, no Atera key on it). Opens the form; tickets
# go app -> relay -> sandbox. Stop with Ctrl+C.
#   received tickets:  http://127.0.0.1:8765/
#   the relay:         http://127.0.0.1:8787/healthz and /metrics
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
bash src-tauri/scripts/install-deps.sh
cargo build --locked -p helpdesk-button -p helpdesk-core --bins
bin="$PWD/target/debug/helpdesk-button"
relay="$PWD/target/debug/helpdesk-relay"
demo="$PWD/target/relay-demo"
rm -rf "$demo" && mkdir -p "$demo/app"
sandbox_port=${HELPDESK_BUTTON_SANDBOX_PORT:-8765}
relay_port=${HELPDESK_RELAY_PORT:-8787}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
wait_for() { # log, word, pid
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; echo "relay-demo: it did not start; pick other ports with HELPDESK_BUTTON_SANDBOX_PORT / HELPDESK_RELAY_PORT" >&2; exit 1; }
    sleep 0.1
  done
}

"$bin" sandbox --port "$sandbox_port" --api-key sandbox-key >"$demo/sandbox.log" 2>&1 &
pids+=($!); wait_for "$demo/sandbox.log" listening "${pids[-1]}"

# The form's branding comes from the relay, which pushes it to every PC.
cat >"$demo/settings.toml" <<TOML
[branding]
company_name = "Demo MSP (through the relay)"
TOML
cat >"$demo/relay.toml" <<TOML
listen = "127.0.0.1:$relay_port"
data_dir = "data"
settings_file = "settings.toml"
[atera]
endpoint = "127.0.0.1:$sandbox_port"
TOML
export HELPDESK_RELAY_ATERA_KEY=sandbox-key
"$relay" --config "$demo/relay.toml" serve >"$demo/relay.log" 2>&1 &
pids+=($!); wait_for "$demo/relay.log" listening "${pids[-1]}"
# The sandbox's demo customer ("Demo Customer Ltd") is its first, id 101.
token=$("$relay" --config "$demo/relay.toml" enroll create --customer 101 --uses 5 2>/dev/null)
# An admin token, for the admin window's Rules section (the relay's rules).
admin_token=$("$relay" --config "$demo/relay.toml" admin create --name "Demo admin" 2>/dev/null)
unset HELPDESK_RELAY_ATERA_KEY

# The machine policy a fleet would get from its RMM (debug builds read it from this variable).
cat >"$demo/policy.toml" <<TOML
[settings.relay]
url = "http://127.0.0.1:$relay_port/"
enrollment_token = "$token"
TOML
export HELPDESK_BUTTON_TEST_POLICY_FILE="$demo/policy.toml"
"$bin" --config-dir "$demo/app" settings test
echo
echo "The app is enrolled with the relay and holds no Atera key:"
echo "  received tickets: http://127.0.0.1:$sandbox_port/"
echo "  the relay:        http://127.0.0.1:$relay_port/metrics, devices: $relay --config $demo/relay.toml devices list"
echo "  send one from the command line: $bin --config-dir $demo/app submit --name Ada --email ada@demo-customer.example --message 'Printer jams'"
echo "  edit the relay's rules: tray > Settings..., Rules, and paste the admin token $admin_token"
echo
args=(--config-dir "$demo/app" "helpdesk-button://new")
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$bin" "${args[@]}"
else
  echo "No display found: running under Xvfb. A screenshot of the form goes to $demo/form.png."
  xvfb-run -a -s '-screen 0 1440x900x24 -noreset' bash -c '
    "$0" "${@:2}" & app=$!
    for _ in $(seq 1 300); do xdotool search --onlyvisible --name "Report a problem" >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 1; import -window root "$1/form.png" && echo "Saved $1/form.png"
    wait $app' "$bin" "$demo" "${args[@]}"
fi
