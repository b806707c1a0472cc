#!/usr/bin/env bash
# Installs the Helpdesk Button relay on Debian (README, "Running the relay"):
#   sudo bash install.sh /path/to/helpdesk-relay
# Creates the system user, /etc/helpdesk-relay (config, key file) and /var/lib/helpdesk-relay,
# installs the binary and the systemd unit, and enables the service. Re-running it upgrades the
# binary and keeps the configuration and the data.
# DESTDIR=/some/root installs into another root without touching users or systemd (tests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: install.sh /path/to/helpdesk-relay}"
root="${DESTDIR:-}"
[ -x "$bin" ] || { echo "install.sh: $bin is not an executable; build it with: cargo build --release -p helpdesk-core --bin helpdesk-relay" >&2; exit 2; }

if [ -z "$root" ]; then
  [ "$(id -u)" = 0 ] || { echo "install.sh: run it as root (sudo)" >&2; exit 2; }
  getent group helpdesk-relay >/dev/null || groupadd --system helpdesk-relay
  getent passwd helpdesk-relay >/dev/null ||
    useradd --system --gid helpdesk-relay --home-dir /var/lib/helpdesk-relay --no-create-home \
      --shell /usr/sbin/nologin helpdesk-relay
  owner=(-o helpdesk-relay -g helpdesk-relay)
else
  owner=()
fi

install -D -m 0755 "$bin" "$root/usr/bin/helpdesk-relay"
install -D -m 0644 "$here/helpdesk-relay.service" "$root/lib/systemd/system/helpdesk-relay.service"
install -d -m 0750 "${owner[@]}" "$root/etc/helpdesk-relay"
install -d -m 0700 "${owner[@]}" "$root/var/lib/helpdesk-relay"
if [ ! -e "$root/etc/helpdesk-relay/relay.toml" ]; then
  install -m 0640 "${owner[@]}" "$here/relay.example.toml" "$root/etc/helpdesk-relay/relay.toml"
fi
if [ ! -e "$root/etc/helpdesk-relay/atera.key" ]; then
  # Empty until the MSP pastes the key; 0600 and the relay's own, or the relay refuses it.
  install -m 0600 "${owner[@]}" /dev/null "$root/etc/helpdesk-relay/atera.key"
fi

if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable helpdesk-relay.service >/dev/null
  echo "Installed. Next:"
  echo "  1. Paste the Atera key:   sudo -u helpdesk-relay tee /etc/helpdesk-relay/atera.key >/dev/null"
  echo "  2. Review the settings:   sudoedit /etc/helpdesk-relay/relay.toml"
  echo "  3. Start it:              sudo systemctl restart helpdesk-relay && curl -s http://127.0.0.1:8787/healthz"
  echo "  4. A token per customer:  sudo -u helpdesk-relay helpdesk-relay --config /etc/helpdesk-relay/relay.toml enroll create --customer ID --uses 50"
fi
