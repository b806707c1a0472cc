#!/usr/bin/env python3
"""Builds the benchmark table for src-tauri/scripts/bench.sh (Python 3.11, standard library only).

Reads the whole-app samples (target/bench/app-*.json from bench_app.py), criterion's results
(target/bench/criterion/**/new/) and the sizes, prints one table (figure, median, min, max,
target, pass/fail) and writes the same figures to target/bench/results.json.

Units: times in milliseconds; memory and sizes in MB (10^6 bytes), as the issue's targets are
written; CPU as a percentage of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

MB = 1e6
# Monitor layouts: criterion grabs two 1080p monitors as two regions of one 3840x1080 Xvfb output
# (Xvfb has one RandR output); the app, started on that display, sees one 3840x1080 monitor.
LAYOUTS = ["1x1920x1080", "2x1920x1080", "1x3840x2160"]
APP_LAYOUTS = ["1x1920x1080", "1x3840x1080", "1x3840x2160"]
PRETTY = {"1x1920x1080": "1×1080p", "2x1920x1080": "2×1080p", "1x3840x2160": "1×4K", "1x3840x1080": "1×3840×1080"}


def stats(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None and v == v]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def criterion_results(home: Path) -> dict[str, dict]:
    """full_id -> {median, min, max, n} in ms; min/max are the fastest and slowest sample means."""
    out = {}
    for bench in home.rglob("new/benchmark.json"):
        d = bench.parent
        try:
            full_id = json.loads(bench.read_text())["full_id"]
            est = json.loads((d / "estimates.json").read_text())
            sample = json.loads((d / "sample.json").read_text())
        except (OSError, ValueError, KeyError):
            continue
        per_iter = [t / i / 1e6 for t, i in zip(sample["times"], sample["iters"]) if i]
        out[full_id] = {"median": est["median"]["point_estimate"] / 1e6, "min": min(per_iter), "max": max(per_iter), "n": len(per_iter)}
    return out


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, fid: str, figure: str, unit: str, s: dict | None, source: str, target: float | None = None,
            scale: float = 1.0, note: str | None = None) -> None:
        row = {"id": fid, "figure": figure, "unit": unit, "source": source, "target_max": target}
        if s is None:
            row.update(median=None, min=None, max=None, n=0, result="n/a")
        else:
            row.update(median=s["median"] / scale, min=s["min"] / scale, max=s["max"] / scale, n=s["n"])
            row["result"] = "-" if target is None else ("pass" if row["median"] <= target else "FAIL")
        if note:
            row["note"] = note
        self.rows.append(row)

    def print(self) -> None:
        def fmt(v, unit):
            if v is None:
                return "n/a"
            if unit == "%":
                return f"{v:.3f}"
            return f"{v:.3f}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:.0f}"
        head = ("figure", "median", "min", "max", "target", "result")
        lines = []
        for r in self.rows:
            target = "" if r["target_max"] is None else f"≤ {r['target_max']:g} {r['unit']}"
            lines.append((f"{r['figure']} [{r['unit']}]", fmt(r["median"], r["unit"]), fmt(r["min"], r["unit"]),
                          fmt(r["max"], r["unit"]), target, r["result"]))
        widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
        def row(cells):
            return "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
        print(row(head))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for l in lines:
            print(row(l))


def breakdown(processes: list[dict]) -> dict[str, float]:
    """PSS in MB by process name."""
    out: dict[str, float] = {}
    for p in processes:
        out[p["comm"]] = out.get(p["comm"], 0.0) + p["pss_bytes"] / MB
    return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) * 1024 for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")), 0)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    os_name = next((l.split("=", 1)[1].strip('"') for l in Path("/etc/os-release").read_text().splitlines() if l.startswith("PRETTY_NAME")), "?")
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_bytes": mem, "os": os_name, "kernel": platform.release(), "rustc": rustc,
            "display": "Xvfb (software rendering), no window manager, private D-Bus session"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("target/bench"))
    ap.add_argument("--binary", type=Path, required=True)
    ap.add_argument("--deb", default="", help="path of the .deb, if one was built")
    ap.add_argument("--deb-note", default="")
    ap.add_argument("--started", default="")
    args = ap.parse_args()

    apps = {}
    for layout in APP_LAYOUTS:
        f = args.dir / f"app-{layout}.json"
        if f.exists():
            apps[layout] = json.loads(f.read_text())
    crit = criterion_results(args.dir / "criterion")
    main_app = apps.get("1x1920x1080", {})
    t = Table()
    notes: list[str] = []
    details: dict = {}

    # The moment of the press.
    for layout in APP_LAYOUTS:
        presses = apps.get(layout, {}).get("hotkey", {}).get("presses", [])
        p = PRETTY[layout]
        if layout == "1x1920x1080":
            t.add("hotkey_to_form_p50", f"hotkey → form visible, {p}, webview on demand", "ms",
                  stats([x["key_to_paint_ms"] for x in presses]), "app log 'form visible' − xdotool key time", 400)
            t.add("hotkey_to_form_first", "  first press after start", "ms", stats([x["key_to_paint_ms"] for x in presses[:1]]), "app log")
            t.add("hotkey_to_trigger", "  key → capture starts (xdotool + hotkey thread)", "ms",
                  stats([x["key_to_captured_ms"] - x["app_trigger_to_captured_ms"] for x in presses if "key_to_captured_ms" in x]),
                  "app log: key→captured minus trigger→captured")
            t.add("hotkey_to_captured", "  key → screens captured", "ms", stats([x.get("key_to_captured_ms") for x in presses]), "app log 'screens captured'")
            t.add("hotkey_to_mapped", "  key → form window mapped (X MapNotify)", "ms",
                  stats([x.get("key_to_mapped_ms") for x in presses]), "X11 MapNotify on the root window")
        else:
            t.add(f"hotkey_to_form_{layout}", f"hotkey → form visible, {p}", "ms", stats([x["key_to_paint_ms"] for x in presses]), "app log")
    t.add("hotkey_to_form_warm", "hotkey → form visible, webview kept warm", "ms", None, "",
          note="not measurable: the app only creates the form on demand (a warm mode needs an app change)")

    # Capture of the real screens (Xvfb showing a desktop picture), criterion: 20 samples each.
    targets = {"1x1920x1080": 60, "1x3840x2160": 250}
    for layout in LAYOUTS:
        p = PRETTY[layout]
        t.add(f"capture_{layout}", f"capture {p}: grab + encode + thumbnail", "ms", crit.get(f"capture/xcap_total/{layout}"),
              "criterion capture/xcap_total", targets.get(layout))
        t.add(f"capture_{layout}_grab", "  grab, all monitors", "ms", crit.get(f"capture/xcap_grab/{layout}"), "criterion capture/xcap_grab")
        t.add(f"capture_{layout}_encode_all", "  encode + thumbnail, all monitors (a thread each)", "ms",
              crit.get(f"capture/xcap_encode/{layout}"), "criterion capture/xcap_encode")
        t.add(f"capture_{layout}_encode", "  encode, one monitor", "ms", crit.get(f"capture/xcap_encode_one/{layout}"), "criterion capture/xcap_encode_one")
        t.add(f"capture_{layout}_thumbnail", "  thumbnail, one monitor", "ms", crit.get(f"capture/xcap_thumbnail_one/{layout}"),
              "criterion capture/xcap_thumbnail_one")
    # The same in the app, from its own log at each press (cross-check).
    for layout in APP_LAYOUTS:
        presses = [x for x in apps.get(layout, {}).get("hotkey", {}).get("presses", []) if "grab_ms" in x]
        t.add(f"app_capture_{layout}", f"capture in the app, {PRETTY[layout]} (its log): grab + encode + thumbnail", "ms",
              stats([x["grab_ms"] + x["encode_ms"] + x["thumbnail_ms"] for x in presses]), "app debug log 'captured screens'")
        for part in ("grab", "encode", "thumbnail"):
            t.add(f"app_capture_{layout}_{part}", f"  {part}", "ms", stats([x[f"{part}_ms"] for x in presses]), "app debug log")
    for layout in LAYOUTS:
        t.add(f"process_frames_{layout}", f"encode + thumbnail, synthetic frames {PRETTY[layout]}", "ms",
              crit.get(f"capture/process_frames/{layout}"), "criterion capture/process_frames")

    # In-process figures.
    t.add("inventory", "inventory collect", "ms", crit.get("inventory/collect"), "criterion", 50)
    t.add("rules_child", "typical rule, child process", "ms", crit.get("rules/typical/child_process"), "criterion", 20)
    t.add("rules_in_process", "  typical rule, in process", "ms", crit.get("rules/typical/in_process"), "criterion")
    t.add("ticket_render", "ticket body rendering, 2 screenshots", "ms", crit.get("ticket/render/2x1920x1080"), "criterion")
    t.add("ticket_prepare_images", "  fitting 2 screenshots under the cap", "ms", crit.get("ticket/prepare_images/2x1920x1080"), "criterion")
    t.add("submit_via_outbox", "submit → number, sandbox (outbox + send, 2 screenshots)", "ms",
          crit.get("submit/via_outbox/2x1920x1080"), "criterion submit/via_outbox", 300)
    t.add("submit_direct", "  submit → number, direct, no screenshots", "ms", crit.get("submit/ticket_number/no_screenshots"), "criterion")
    t.add("submit_direct_shots", "  submit → number, direct, 2 screenshots", "ms", crit.get("submit/ticket_number/2x1920x1080"), "criterion")
    cli = [s["wall_ms"] for s in main_app.get("submit_cli", []) if s.get("outcome") == "sent"]
    t.add("submit_cli", "  CLI submit --no-screenshots --json (whole process)", "ms", stats(cli), "wall time of the CLI",
          note="includes process start and the inventory's 250 ms CPU-sampling window")
    if main_app.get("submit_cli") and len(cli) < len(main_app["submit_cli"]):
        notes.append(f"CLI submit: {len(main_app['submit_cli']) - len(cli)} run(s) did not answer 'sent'")

    # Idle and memory.
    idle = main_app.get("idle", [])
    t.add("idle_pss", "idle tree PSS (tray only, after 60 s)", "MB", stats([s["pss_bytes"] for s in idle]), "smaps_rollup, app + descendants", 40, scale=MB)
    t.add("idle_uss", "  idle tree USS (private pages only)", "MB", stats([s.get("uss_bytes") for s in idle]), "smaps_rollup Private_*", scale=MB)
    t.add("idle_rss", "  idle tree RSS", "MB", stats([s.get("rss_bytes") for s in idle]), "smaps_rollup Rss", scale=MB)
    t.add("idle_pss_file", "  of the PSS: file pages (libraries, the binary)", "MB", stats([s.get("pss_file_bytes") for s in idle]), "smaps_rollup Pss_File", scale=MB)
    trims = [x for s in idle for x in s.get("trims", [])]
    t.add("idle_trim_released", "  clean file pages the idle trim unmapped (still in the page cache)", "MB",
          stats([x["released_mb"] for x in trims]), "app debug log 'idle: memory given back'")
    t.add("idle_trim_ms", "  idle trim, time it took", "ms", stats([x["ms"] for x in trims]), "app debug log")
    t.add("idle_cpu", "idle CPU over 60 s (tray only)", "%", stats([s["cpu_percent"] for s in idle]), "/proc stat utime+stime, tree", 0.1)
    t.add("idle_cpu_schedstat", "  idle CPU, by schedstat (ns)", "%", stats([s.get("cpu_percent_schedstat") for s in idle]), "/proc task schedstat")
    t.add("idle_wakeups", "  idle wakeups of the tree's threads", "/s", stats([s.get("wakeups_per_s") for s in idle]),
          "perf stat -a -e sched:sched_wakeup, filtered on the wakee", note=next((s["wakeups_note"] for s in idle if s.get("wakeups_note")), None))
    t.add("idle_switches", "  idle context switches", "/s", stats([s.get("context_switches_per_s") for s in idle]), "/proc task status ctxt switches")
    after = main_app.get("hotkey", {}).get("after_use")
    t.add("afteruse_pss", "idle tree PSS, 60 s after forms were closed", "MB", stats([after["pss_bytes"]]) if after else None, "smaps_rollup", scale=MB)
    t.add("afteruse_cpu", "  idle CPU, 60 s after forms were closed", "%", stats([after["cpu_percent"]]) if after else None, "/proc stat")
    t.add("afteruse_wakeups", "  idle wakeups, 60 s after forms were closed", "/s", stats([after.get("wakeups_per_s")]) if after else None,
          "perf sched:sched_wakeup")
    presses = main_app.get("hotkey", {}).get("presses", [])
    t.add("form_open_pss", "tree PSS with the form open", "MB", stats([x["form_open_pss_bytes"] for x in presses]), "smaps_rollup", scale=MB)
    t.add("after_close_pss", "  tree PSS 1 s after the form closed", "MB", stats([x["after_close_pss_bytes"] for x in presses]), "smaps_rollup", scale=MB)

    # Sizes.
    size = args.binary.stat().st_size if args.binary.exists() else None
    t.add("binary_size", "release binary size", "MB", stats([size]) if size else None, str(args.binary), 20, scale=MB)
    rules_bin = args.binary.with_name("helpdesk-button-rules")
    if rules_bin.exists():
        t.add("rules_binary_size", "  rules evaluator binary (shipped beside it)", "MB", stats([rules_bin.stat().st_size]),
              str(rules_bin), scale=MB)
    deb = Path(args.deb) if args.deb else None
    t.add("deb_size", ".deb size", "MB", stats([deb.stat().st_size]) if deb and deb.exists() else None, args.deb or "",
          scale=MB, note=args.deb_note or None)

    # References, same run.
    refs = main_app.get("references", {})
    t.add("ref_floor", "reference: xdotool key → bare xmessage mapped (floor)", "ms",
          stats([s["key_to_mapped_ms"] for s in refs.get("floor", [])]), "X11 MapNotify")
    t.add("ref_floor_grabbed", "  key → the key daemon sees the press", "ms",
          stats([s.get("key_to_grabbed_ms") for s in refs.get("floor", [])]), "X11 KeyPress at the grabbing client")
    chrom = refs.get("chromium", [])
    t.add("ref_chromium_window", "reference: Chromium --app ui/ → window mapped", "ms",
          stats([s.get("launch_to_mapped_ms") for s in chrom]), "X11 MapNotify")
    t.add("ref_chromium_pss", "reference: Chromium --app ui/ tree PSS, settled", "MB",
          stats([s["pss_bytes"] for s in chrom]), "smaps_rollup", scale=MB)
    notes.extend(refs.get("notes", []))

    if idle:
        mid = sorted(idle, key=lambda s: s["pss_bytes"])[len(idle) // 2]
        details["idle_pss_by_process_mb"] = breakdown(mid["processes"])
        details["idle_context_switches_per_s_by_thread"] = mid.get("context_switches_per_s_by_thread")
    if presses:
        mid = sorted(presses, key=lambda s: s["form_open_pss_bytes"])[len(presses) // 2]
        details["form_open_pss_by_process_mb"] = breakdown(mid["form_open_processes"])
    if after:
        details["after_use_pss_by_process_mb"] = breakdown(after["processes"])
    if presses:
        details["app_pss_after_each_close_mb"] = [
            round(sum(p["pss_bytes"] for p in x.get("after_close_processes", []) if p["comm"] == "helpdesk-button") / MB, 1) for x in presses
        ]
        details["tray_only_pss_before_presses_mb"] = round(main_app.get("hotkey", {}).get("tray_only_pss_bytes", 0) / MB, 1)
    if chrom:
        details["chromium_pss_by_process_mb"] = breakdown(sorted(chrom, key=lambda s: s["pss_bytes"])[len(chrom) // 2]["processes"])
    for layout, app in apps.items():
        for e in app.get("hotkey", {}).get("errors", []):
            notes.append(f"{layout}: {e}")
    details["loadavg"] = {layout: [app.get("loadavg_start"), app.get("loadavg_end")] for layout, app in apps.items()}
    details["criterion"] = crit

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    mach = machine()
    print()
    print(f"Helpdesk Button benchmark, {date}; {mach['cpus']} cores ({mach['cpu_model']}), "
          f"{mach['memory_bytes'] / 2**30:.0f} GiB, {mach['os']}, {mach['rustc']}; release build; Xvfb")

    windows = idle + ([after] if after else [])
    busy = max((w.get("machine_busy_percent", 0.0) for w in windows), default=0.0)
    details["machine_busy_percent_during_idle_windows"] = [round(w.get("machine_busy_percent", 0.0), 1) for w in windows]
    if busy > 5.0:
        warning = (f"the machine was busy with other work during the run (up to {busy:.0f} % of its CPUs while the app sat idle): "
                   "times are inflated, and PSS is lowered where other processes share the same libraries")
        notes.insert(0, warning)
        print(f"WARNING: {warning}")
    print()
    t.print()
    print()
    for k in ("idle_pss_by_process_mb", "form_open_pss_by_process_mb", "after_use_pss_by_process_mb", "chromium_pss_by_process_mb",
              "tray_only_pss_before_presses_mb", "app_pss_after_each_close_mb", "idle_context_switches_per_s_by_thread"):
        if k in details:
            print(f"{k}: {details[k]}")
    for r in t.rows:
        if r.get("note"):
            print(f"note: {r['figure'].strip()}: {r['note']}")
    for n in notes:
        print(f"note: {n}")
    failed = [r["figure"].strip() for r in t.rows if r["result"] == "FAIL"]
    print(f"\ntargets: {sum(r['result'] == 'pass' for r in t.rows)} pass, {len(failed)} fail" + (f" ({'; '.join(failed)})" if failed else ""))

    results = {"date": date, "started": args.started, "machine": mach, "figures": t.rows, "details": details, "notes": notes}
    (args.dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
