#!/usr/bin/env python3
"""Writes a channel manifest (Tauri updater "static JSON", latest.json) for signed artifacts.

Each artifact must have its signature next to it (FILE.sig, from `release.sh sign`). The
platform key each artifact serves is derived from its file name (override with KEY=FILE):

    helpdesk-button_1.2.0_amd64.deb          linux-x86_64-deb
    helpdesk-button_1.2.0_arm64.deb          linux-aarch64-deb
    Helpdesk Button_1.2.0_amd64.AppImage     linux-x86_64-appimage
    Helpdesk Button_1.2.0_x64-setup.exe      windows-x86_64-nsis
    Helpdesk Button_1.2.0_x64_en-US.msi      windows-x86_64-msi
    Helpdesk Button_aarch64.app.tar.gz       darwin-aarch64-app
    Helpdesk Button_x64.app.tar.gz           darwin-x86_64-app

Usage: make_manifest.py --version 1.2.0 --base-url https://updates.example.com/hb/files \
           [--notes TEXT] [--pub-date RFC3339] --out stable/latest.json ARTIFACT...
"""

import argparse
import datetime
import json
import os
import re
import sys
import urllib.parse

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def platform_key(name):
    lower = name.lower()
    arch = "aarch64" if re.search(r"(arm64|aarch64)", lower) else "x86_64"
    if lower.endswith(".deb"):
        return f"linux-{arch}-deb"
    if lower.endswith(".rpm"):
        return f"linux-{arch}-rpm"
    if lower.endswith(".appimage"):
        return f"linux-{arch}-appimage"
    if lower.endswith("-setup.exe"):
        return f"windows-{arch}-nsis"
    if lower.endswith(".msi"):
        return f"windows-{arch}-msi"
    if lower.endswith(".app.tar.gz"):
        return f"darwin-{arch}-app"
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", required=True)
    ap.add_argument("--base-url", required=True, help="where the artifacts are served")
    ap.add_argument("--notes", default="")
    ap.add_argument("--pub-date", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("artifacts", nargs="+", help="FILE or PLATFORM-KEY=FILE")
    a = ap.parse_args(argv)

    if not SEMVER.match(a.version):
        sys.exit(f"error: --version {a.version!r} is not semver (like 1.2.0 or 1.3.0-beta.1)")
    if not re.match(r"^https://|^http://(127\.0\.0\.1|localhost)[:/]", a.base_url):
        sys.exit(f"error: --base-url {a.base_url!r} must be https:// (http only for 127.0.0.1/localhost)")
    pub_date = a.pub_date or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")

    platforms = {}
    for spec in a.artifacts:
        key, sep, path = spec.partition("=")
        if not sep or "/" in key:
            key, path = None, spec
        name = os.path.basename(path)
        key = key or platform_key(name)
        if key is None:
            sys.exit(f"error: cannot tell which platform {name!r} is for; write KEY={path}")
        sig_path = path + ".sig"
        if not os.path.isfile(path):
            sys.exit(f"error: {path} does not exist")
        if not os.path.isfile(sig_path):
            sys.exit(f"error: {sig_path} is missing: sign the artifact first (release.sh sign)")
        with open(sig_path, encoding="ascii") as f:
            signature = f.read().strip()
        if key in platforms:
            sys.exit(f"error: two artifacts for {key}")
        platforms[key] = {
            "signature": signature,
            "url": a.base_url.rstrip("/") + "/" + urllib.parse.quote(name),
        }

    manifest = {
        "version": a.version,
        "notes": a.notes,
        "pub_date": pub_date,
        "platforms": platforms,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"{a.out}: version {a.version}, " + ", ".join(sorted(platforms)))


if __name__ == "__main__":
    main(sys.argv[1:])
