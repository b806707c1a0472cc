#!/usr/bin/env bash
# Release tooling: the signing key pair, the .deb bundle, signatures, and channel manifests.
#
#   release.sh keygen [DIR]               new key pair in DIR (default ~/.helpdesk-button-release)
#   release.sh build [--version X.Y.Z] [--debug]
#                                         .deb via Tauri's bundler -> prints its path (--debug:
#                                         the dev profile, for the install test; not for users)
#   release.sh build-windows [--version X.Y.Z]
#                                         the Windows installer (NSIS) of a release build, made
#                                         here with Debian's makensis -> prints its path
#   release.sh sign --key FILE ARTIFACT…  writes ARTIFACT.sig (bound to the version in the name
#                                         or --version)
#   release.sh publish --channel stable|beta --base-url URL --key FILE --out DIR
#                      [--version X.Y.Z] [--notes TEXT] ARTIFACT…
#                                         copies the artifacts to DIR/files, signs them and
#                                         writes DIR/<channel>/latest.json
#
# The key's password comes from TAURI_SIGNING_PRIVATE_KEY_PASSWORD (empty when unset).
# Tauri's CLI (bundler and signer) comes from npm on first use (src-tauri/package.json, the
# prebuilt binary: seconds); `cargo install tauri-cli --version 2.12.4 --locked` builds the same
# tool from crates.io in about 8 minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAURI_CLI_VERSION="2.12.4"
export TAURI_SIGNING_PRIVATE_KEY_PASSWORD="${TAURI_SIGNING_PRIVATE_KEY_PASSWORD:-}"

die() { echo "release.sh: $*" >&2; exit 2; }

TAURI="$ROOT/src-tauri/node_modules/.bin/tauri"

ensure_tauri_cli() {
    if "$TAURI" --version 2>/dev/null | grep -q " ${TAURI_CLI_VERSION}\$"; then
        return
    fi
    echo "release.sh: installing Tauri's CLI ${TAURI_CLI_VERSION} (npm install in src-tauri)" >&2
    (cd "$ROOT/src-tauri" && npm install --no-package-lock --no-audit --no-fund --silent) >&2
    "$TAURI" --version | grep -q " ${TAURI_CLI_VERSION}\$" || die "tauri-cli ${TAURI_CLI_VERSION} did not install"
}

cmd_keygen() {
    local dir="${1:-$HOME/.helpdesk-button-release}"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ -e "$dir/update.key" ] && die "$dir/update.key exists; move it away first (keys are not overwritten)"
    ensure_tauri_cli
    "$TAURI" signer generate --ci -w "$dir/update.key" -p "$TAURI_SIGNING_PRIVATE_KEY_PASSWORD" >/dev/null
    chmod 600 "$dir/update.key"
    cat <<MSG
Private key: $dir/update.key  (keep it offline, with a password: TAURI_SIGNING_PRIVATE_KEY_PASSWORD)
Public key:  $dir/update.key.pub

Build it into the app: put this line in src-tauri/tauri.conf.json, plugins.updater.pubkey:
$(cat "$dir/update.key.pub")

Or pin it on a fleet without rebuilding, in the policy file:
  locked = ["updates"]
  [settings.updates]
  pubkey = "$(cat "$dir/update.key.pub")"
MSG
}

cmd_build() {
    local version="" profile=release
    local args=(build --bundles deb --ci)
    while [ $# -gt 0 ]; do
        case "$1" in
            --version) version="$2"; shift 2 ;;
            --debug) profile=debug; args+=(--debug); shift ;;
            *) die "build: unknown argument $1" ;;
        esac
    done
    ensure_tauri_cli
    if [ -n "$version" ]; then
        [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "--version $version is not semver"
        args+=(--config "{\"version\":\"$version\"}")
    fi
    # The bundler packages every binary of the app crate but builds only the app: build the
    # rules evaluator first. The app reports $version (build.rs); the package is named with it.
    local cargo_profile=(--release)
    [ "$profile" = debug ] && cargo_profile=()
    # Only set when given: an empty value differs from an unset one for cargo, which would then
    # rebuild the app crate for nothing.
    local version_env=()
    [ -n "$version" ] && version_env=("HELPDESK_BUTTON_RELEASE_VERSION=$version")
    (cd "$ROOT" && env "${version_env[@]}" cargo build "${cargo_profile[@]}" \
        -p helpdesk-button --bin helpdesk-button-rules >&2)
    (cd "$ROOT/src-tauri" && env "${version_env[@]}" "$TAURI" "${args[@]}" >&2)
    # The bundler names the file after the product ("Helpdesk Button_1.2.0_amd64.deb"); publish
    # it under Debian's usual name.
    local built deb
    built="$(ls -t "$ROOT"/target/$profile/bundle/deb/Helpdesk*.deb | head -n 1)"
    deb="$(dirname "$built")/$(dpkg-deb -f "$built" Package)_$(dpkg-deb -f "$built" Version)_$(dpkg-deb -f "$built" Architecture).deb"
    mv -f "$built" "$deb"
    echo "$deb"
}

cmd_build_windows() {
    local version=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --version) version="$2"; shift 2 ;;
            *) die "build-windows: unknown argument $1" ;;
        esac
    done
    local version_env=()
    if [ -n "$version" ]; then
        [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "--version $version is not semver"
        version_env=("HELPDESK_BUTTON_RELEASE_VERSION=$version")
    fi
    (cd "$ROOT" && env "${version_env[@]}" HB_WINDOWS_PROFILE=release HB_WINDOWS_STEPS="build installer" \
        bash src-tauri/scripts/windows.sh >&2)
    ls -t "$ROOT"/target/windows-gnu/installer/release/helpdesk-button_*_x64-setup.exe | head -n 1
}

# The version an artifact is for: --version, else the X.Y.Z in its file name.
version_of() {
    local name; name="$(basename "$1")"
    [[ "$name" =~ _([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?)_ ]] && echo "${BASH_REMATCH[1]}"
}

cmd_sign() {
    local key="" version=""
    local files=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --key) key="$2"; shift 2 ;;
            --version) version="$2"; shift 2 ;;
            *) files+=("$1"); shift ;;
        esac
    done
    [ -n "$key" ] || die "sign: --key FILE is required"
    [ -f "$key" ] || die "sign: no key at $key (create one with: release.sh keygen)"
    [ "${#files[@]}" -gt 0 ] || die "sign: give the artifacts to sign"
    ensure_tauri_cli
    local f v
    for f in "${files[@]}"; do
        [ -f "$f" ] || die "sign: $f does not exist"
        v="${version:-$(version_of "$f")}"
        [ -n "$v" ] || die "sign: cannot read the version from $(basename "$f"); pass --version"
        "$TAURI" signer sign -f "$key" -p "$TAURI_SIGNING_PRIVATE_KEY_PASSWORD" \
            --app-version "$v" "$f" >/dev/null
        echo "signed $f (version $v) -> $f.sig"
    done
}

cmd_publish() {
    local channel="" base="" key="" out="" version="" notes=""
    local files=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --channel) channel="$2"; shift 2 ;;
            --base-url) base="$2"; shift 2 ;;
            --key) key="$2"; shift 2 ;;
            --out) out="$2"; shift 2 ;;
            --version) version="$2"; shift 2 ;;
            --notes) notes="$2"; shift 2 ;;
            *) files+=("$1"); shift ;;
        esac
    done
    case "$channel" in stable|beta) ;; *) die "publish: --channel must be stable or beta" ;; esac
    [ -n "$base" ] && [ -n "$key" ] && [ -n "$out" ] || die "publish: --base-url, --key and --out are required"
    [ "${#files[@]}" -gt 0 ] || die "publish: give the artifacts to publish"
    version="${version:-$(version_of "${files[0]}")}"
    [ -n "$version" ] || die "publish: cannot read the version from the file name; pass --version"
    mkdir -p "$out/files" "$out/$channel"
    local copied=() f
    for f in "${files[@]}"; do
        cp -f "$f" "$out/files/"
        copied+=("$out/files/$(basename "$f")")
    done
    cmd_sign --key "$key" --version "$version" "${copied[@]}"
    python3 "$ROOT/src-tauri/scripts/make_manifest.py" --version "$version" \
        --base-url "${base%/}/files" --notes "$notes" --out "$out/$channel/latest.json" "${copied[@]}"
    echo "Upload $out/ to ${base%/}/ ; the $channel manifest is ${base%/}/$channel/latest.json"
}

case "${1:-}" in
    keygen) shift; cmd_keygen "$@" ;;
    build) shift; cmd_build "$@" ;;
    build-windows) shift; cmd_build_windows "$@" ;;
    sign) shift; cmd_sign "$@" ;;
    publish) shift; cmd_publish "$@" ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
