#!/usr/bin/env python3
"""Whole-app measurements for src-tauri/scripts/bench.sh (Python 3.11, standard library only).

Runs inside an X display (bench.sh starts Xvfb and a private D-Bus session) and writes one JSON
file of raw samples; bench_report.py turns the files into the table. Phases:

  hotkey    the release app, pointed at a local sandbox; N presses of the hotkey with xdotool,
            each once the app has sat idle long enough to give memory back (its idle trim). Per
            press: key press -> the app's `form visible (trigger to first paint)` log line
            (its RFC 3339 timestamp minus the wall-clock time just before `xdotool key`), the
            form's X window mapped (MapNotify), the app's own capture timings (debug log), and
            the PSS of the process tree with the form open. Then the form is closed with Esc.
  idle      the app with the tray only: PSS (and USS, RSS) of the whole tree after the idle
            window; CPU time during it (utime+stime of all tree members, and schedstat's ns);
            wakeups of the tree's threads (perf, sched:sched_wakeup filtered on the wakee) and
            context switches per thread; how busy the rest of the machine was meanwhile.
  afteruse  the same window right after the hotkey presses (form opened and closed N times).
  submit    `helpdesk-button submit --no-screenshots --json` against the sandbox, wall time.
  refs      the floor (a key press sent with xdotool, grabbed by a minimal key daemon that starts
            a bare `xmessage`: press -> window mapped) and Debian's Chromium in --app mode on the
            same ui/ (launch -> window mapped, PSS of its tree once settled).

Times are seconds since the epoch (time.time()) on this machine; the app's log timestamps are
UTC, so both share the same clock.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FORM_TITLE = "Report a problem"
HOTKEY = "ctrl+shift+F1"
FLOOR_KEY = ("F2", 0x4 | 0x1)  # ctrl+shift+F2, grabbed by the floor's key daemon
SANDBOX_KEY = "bench-sandbox-key-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- /proc: process trees, PSS, CPU time, context switches ------------------------------------

def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if Path(f"/proc/{p}").exists():
            out.append(p)
        todo.extend(kids.get(p, []))
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def memory(pid: int) -> dict[str, int]:
    """From smaps_rollup, in bytes: pss, rss, uss (private pages) and PSS split into anonymous
    memory and file pages (mostly shared libraries)."""
    fields = {"Pss:": "pss_bytes", "Rss:": "rss_bytes", "Pss_Anon:": "pss_anon_bytes", "Pss_File:": "pss_file_bytes",
              "Private_Clean:": "uss_bytes", "Private_Dirty:": "uss_bytes"}
    out = dict.fromkeys(fields.values(), 0)
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in fields:
                out[fields[parts[0]]] += int(parts[1]) * 1024
    except OSError:
        pass
    return out


def tree_pss(pid: int) -> dict:
    """PSS of the tree in bytes (and RSS, USS), with a per-process breakdown."""
    procs = [{"pid": p, "comm": comm(p), **memory(p)} for p in tree(pid)]
    total = {f"total_{k}": sum(p[k] for p in procs) for k in ("pss_bytes", "rss_bytes", "uss_bytes", "pss_anon_bytes", "pss_file_bytes")}
    return {"total_bytes": total["total_pss_bytes"], **total, "processes": procs}


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def _ctx_switches(pid: int) -> int:
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _cpu_ns(pid: int) -> int:
    """CPU time of the live threads of `pid` in nanoseconds (schedstat), finer than ticks."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def tree_counters(root: int) -> dict[int, tuple[int, int, int]]:
    """Per tree member: (CPU ticks used, context switches, CPU ns of live threads). The root's
    ticks also count the children it has reaped (cutime+cstime), so a helper that exits is not
    lost."""
    out = {}
    for p in tree(root):
        f = _stat_fields(p)
        if f is None:
            continue
        # After the ")": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
        ticks = int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if p == root else 0)
        out[p] = (ticks, _ctx_switches(p), _cpu_ns(p))
    return out


def _tids(root: int) -> list[int]:
    tids = []
    for p in tree(root):
        try:
            tids.extend(int(t) for t in os.listdir(f"/proc/{p}/task"))
        except OSError:
            continue
    return tids


def _sleep_counting_wakeups(root: int, seconds: float) -> tuple[int | None, str]:
    """Sleeps `seconds` while perf counts `sched:sched_wakeup` events whose wakee is one of the
    tree's threads (system-wide, filtered on the wakee's pid). (None, why) when perf cannot."""
    tids = _tids(root)
    if not shutil.which("perf") or not tids:
        time.sleep(seconds)
        return None, "perf is not installed"
    expr = " || ".join(f"pid == {t}" for t in tids)
    r = subprocess.run(["perf", "stat", "-a", "-x,", "-e", "sched:sched_wakeup", "--filter", expr, "--", "sleep", str(seconds)],
                       capture_output=True, text=True)
    for line in r.stderr.splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[2] == "sched:sched_wakeup" and parts[0].strip().isdigit():
            return int(parts[0]), ""
    return None, "perf stat -e sched:sched_wakeup failed: " + (r.stderr.strip().splitlines() or ["no output"])[-1]


def _switches_by_thread(root: int) -> dict[str, int]:
    """Context switches so far of every thread in the tree, keyed `process/thread:tid`."""
    out = {}
    for p in tree(root):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                status = Path(f"/proc/{p}/task/{tid}/status").read_text().splitlines()
            except OSError:
                continue
            n = sum(int(l.split()[1]) for l in status if l.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")))
            out[f"{comm(p)}/{Path(f'/proc/{p}/task/{tid}/comm').read_text().strip() if Path(f'/proc/{p}/task/{tid}/comm').exists() else '?'}:{tid}"] = n
    return out


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def idle_window(root: int, seconds: float) -> dict:
    """CPU time, wakeups, context switches and PSS of the tree over `seconds` of doing nothing,
    and how busy the rest of the machine was meanwhile (other work skews every figure)."""
    machine_before = _cpu_jiffies()
    threads_before = _switches_by_thread(root)
    before = tree_counters(root)
    t0 = time.monotonic()
    wakeups, why = _sleep_counting_wakeups(root, seconds)
    elapsed = time.monotonic() - t0
    after = tree_counters(root)
    machine_after = _cpu_jiffies()
    threads_after = _switches_by_thread(root)
    by_thread = {k.rsplit(":", 1)[0]: 0 for k in threads_after}
    for k, n in threads_after.items():
        by_thread[k.rsplit(":", 1)[0]] += n - threads_before.get(k, 0)
    zero = (0, 0, 0)
    ticks = sum(a[0] - before.get(p, zero)[0] for p, a in after.items())
    switches = sum(a[1] - before.get(p, zero)[1] for p, a in after.items())
    cpu_ns = sum(a[2] - before.get(p, zero)[2] for p, a in after.items())
    cpu_s = ticks / CLK_TCK
    pss = tree_pss(root)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu_s,
        "cpu_percent": 100.0 * cpu_s / elapsed,
        "cpu_percent_schedstat": 100.0 * cpu_ns / 1e9 / elapsed,
        "machine_busy_percent": 100.0 * (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1]),
        "context_switches": switches,
        "context_switches_per_s": switches / elapsed,
        "context_switches_per_s_by_thread": {k: round(v / elapsed, 2) for k, v in sorted(by_thread.items(), key=lambda kv: -kv[1]) if v},
        "wakeups": wakeups,
        "wakeups_per_s": None if wakeups is None else wakeups / elapsed,
        "wakeups_note": why,
        "pss_bytes": pss["total_bytes"],
        "rss_bytes": pss["total_rss_bytes"],
        "uss_bytes": pss["total_uss_bytes"],
        "pss_anon_bytes": pss["total_pss_anon_bytes"],
        "pss_file_bytes": pss["total_pss_file_bytes"],
        "processes": pss["processes"],
    }


# ---- X11 through libX11 (ctypes): MapNotify on the root window, and a key grab -----------------

class _XMapEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("event", ctypes.c_ulong), ("window", ctypes.c_ulong),
                ("override_redirect", ctypes.c_int)]


class _XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xmap", _XMapEvent), ("pad", ctypes.c_long * 24)]


_KEY_PRESS, _MAP_NOTIFY = 2, 19
_SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
_GRAB_MODE_ASYNC = 1
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class XWatch(threading.Thread):
    """Records every top-level window mapped on the display (time, id, name); optionally grabs a
    key and runs `on_key` when it is pressed (the floor's minimal key daemon)."""

    def __init__(self, grab: tuple[str, int] | None = None, on_key=None):
        super().__init__(daemon=True)
        self.x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x = self.x
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        x.XPending.argtypes = [ctypes.c_void_p]
        x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XEvent)]
        x.XConnectionNumber.argtypes = [ctypes.c_void_p]
        x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_void_p)]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XFlush.argtypes = [ctypes.c_void_p]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XStringToKeysym.restype = ctypes.c_ulong
        x.XStringToKeysym.argtypes = [ctypes.c_char_p]
        x.XKeysymToKeycode.restype = ctypes.c_ubyte
        x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x.XGrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        # A window can be gone by the time we ask its name: ignore X errors instead of exiting.
        self._handler = _ERROR_HANDLER(lambda _d, _e: 0)
        x.XSetErrorHandler(self._handler)
        self.dpy = x.XOpenDisplay(None)
        if not self.dpy:
            raise RuntimeError("cannot open the X display")
        self.root = x.XDefaultRootWindow(self.dpy)
        x.XSelectInput(self.dpy, self.root, _SUBSTRUCTURE_NOTIFY_MASK)
        self.on_key = on_key
        if grab:
            code = x.XKeysymToKeycode(self.dpy, x.XStringToKeysym(grab[0].encode()))
            x.XGrabKey(self.dpy, code, grab[1], self.root, 1, _GRAB_MODE_ASYNC, _GRAB_MODE_ASYNC)
        x.XSync(self.dpy, 0)
        self.maps: list[tuple[float, int, bool, str]] = []
        self.lock = threading.Lock()
        self.stopping = False

    def window_name(self, window: int) -> str:
        ptr = ctypes.c_void_p()
        if self.x.XFetchName(self.dpy, window, ctypes.byref(ptr)) and ptr.value:
            name = ctypes.string_at(ptr.value).decode("utf-8", "replace")
            self.x.XFree(ptr)
            return name
        return ""

    def run(self) -> None:
        fd = self.x.XConnectionNumber(self.dpy)
        ev = _XEvent()
        while not self.stopping:
            if not self.x.XPending(self.dpy):
                select.select([fd], [], [], 0.05)
                continue
            self.x.XNextEvent(self.dpy, ctypes.byref(ev))
            t = time.time()
            if ev.type == _MAP_NOTIFY:
                m = ev.xmap
                with self.lock:
                    self.maps.append((t, m.window, bool(m.override_redirect), self.window_name(m.window)))
            elif ev.type == _KEY_PRESS and self.on_key:
                self.on_key(t)

    def wait_map(self, after: float, timeout: float, name: str | None = None) -> tuple[float, int, str] | None:
        """The first top-level window mapped after `after` (whose name contains `name`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, w, override, n in self.maps:
                    if t >= after and not override and (name is None or name in n):
                        return t, w, n
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        self.stopping = True
        self.join(timeout=2)
        self.x.XCloseDisplay(self.dpy)


# ---- the app -----------------------------------------------------------------------------------

TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")


def log_time(line: str) -> float | None:
    m = TS_RE.match(line)
    if not m:
        return None
    text = m.group(1).replace("Z", "+00:00")
    # fromisoformat takes at most 6 fractional digits.
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    return dt.datetime.fromisoformat(text).timestamp()


def field(line: str, name: str) -> str | None:
    m = re.search(rf"\b{name}=(\"[^\"]*\"|\S+)", line)
    return m.group(1).strip('"') if m else None


def duration_ms(text: str) -> float:
    """A Rust `Duration` as `{:?}` prints it: 23.4ms, 1.2s, 850µs, 12ns."""
    m = re.fullmatch(r"([\d.]+)(s|ms|µs|us|ns)", text.strip())
    if not m:
        raise ValueError(text)
    scale = {"s": 1000.0, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}[m.group(2)]
    return float(m.group(1)) * scale


class LogFile:
    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def lines(self) -> list[str]:
        try:
            return self.path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def mark(self) -> int:
        return len(self.lines())

    def wait_for(self, needle: str, since: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines()[since:]:
                if needle in line:
                    return line
            time.sleep(0.01)
        return None


class Harness:
    def __init__(self, binary: Path, work: Path):
        self.bin = binary
        self.work = work
        self.config = work / "config"
        self.env = dict(os.environ)
        self.env["HELPDESK_BUTTON_ATERA_API_KEY"] = SANDBOX_KEY
        self.sandbox: subprocess.Popen | None = None
        self.port = 0

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin), "--config-dir", str(self.config), *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=120)

    def start_sandbox(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        out = open(self.work / "sandbox.log", "w")
        self.sandbox = subprocess.Popen([str(self.bin), "sandbox", "--port", str(self.port), "--api-key", SANDBOX_KEY],
                                        stdout=out, stderr=subprocess.STDOUT, env=self.env)
        logf = LogFile(self.work / "sandbox.log")
        if logf.wait_for("listening", 0, 30) is None:
            raise RuntimeError("the sandbox did not start: " + (self.work / "sandbox.log").read_text())
        self.cli("settings", "set", "atera.endpoint", f"127.0.0.1:{self.port}")

    def stop_sandbox(self) -> None:
        if self.sandbox:
            self.sandbox.terminate()
            try:
                self.sandbox.wait(10)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()

    def start_app(self, name: str) -> tuple[subprocess.Popen, LogFile]:
        path = self.work / f"app-{name}.log"
        env = dict(self.env)
        # info as shipped, plus the capture module's debug line with the grab/encode/thumbnail split.
        # and the idle trim's line (what it gave back, how long it took).
        env["HELPDESK_BUTTON_LOG"] = "info,tao=warn,wry=warn,helpdesk_core::capture=debug,helpdesk_button::idle=debug,helpdesk_button::commands=debug"
        app = subprocess.Popen([str(self.bin), "--config-dir", str(self.config)], env=env, stdout=subprocess.DEVNULL,
                               stderr=open(path, "w"), start_new_session=True)
        logf = LogFile(path)
        line = logf.wait_for("hotkey registered", 0, 90)
        if line is None:
            stop(app)
            raise RuntimeError(f"the app did not register its hotkey; log:\n{path.read_text()}")
        return app, logf


def stop(proc: subprocess.Popen) -> None:
    """Ends a process we started and everything in its session (WebKit helpers included)."""
    members = tree(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for p in members:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def visible_forms() -> list[str]:
    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", FORM_TITLE], capture_output=True, text=True)
    return r.stdout.split()


def close_form(window: int | None) -> bool:
    """Esc in the form closes it (ui/form.js); waits until no form window is visible."""
    ids = visible_forms() or ([str(window)] if window else [])
    for wid in ids[:1]:
        subprocess.run(["xdotool", "windowfocus", wid], capture_output=True)
        time.sleep(0.05)
        subprocess.run(["xdotool", "key", "Escape"], capture_output=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not visible_forms():
            return True
        time.sleep(0.05)
    return False


TRIM_LINE = "idle: memory given back"


def trims(logf: LogFile, since: int = 0) -> list[dict]:
    """The idle trims the app logged: clean file pages unmapped (MB) and the time it took (ms)."""
    out = []
    for line in logf.lines()[since:]:
        if TRIM_LINE in line:
            out.append({"released_mb": float(field(line, "released_mb") or "nan"), "ms": float(field(line, "ms") or "nan")})
    return out


def phase_hotkey(h: Harness, runs: int, settle: float, afteruse_secs: float) -> dict:
    watch = XWatch()
    watch.start()
    app, logf = h.start_app("hotkey")
    out: dict = {"presses": [], "errors": []}
    try:
        time.sleep(settle)
        out["tray_only_pss_bytes"] = tree_pss(app.pid)["total_bytes"]
        idle_since = 0
        for i in range(runs):
            # Each press comes when the app sits idle as it does all day: after its idle trim
            # (5 s after the start or the last form closed), so pages it gave back must return.
            if logf.wait_for(TRIM_LINE, idle_since, 30) is None:
                out["errors"].append(f"press {i + 1}: no idle trim within 30 s before the press")
            since = logf.mark()
            t_key = time.time()
            subprocess.run(["xdotool", "key", HOTKEY], check=True)
            line = logf.wait_for("form visible (trigger to first paint)", since, 30)
            if line is None:
                out["errors"].append(f"press {i + 1}: no 'form visible' line within 30 s")
                close_form(None)
                idle_since = logf.mark()
                continue
            painted = log_time(line)
            press = {"key_to_paint_ms": (painted - t_key) * 1000.0, "app_trigger_to_paint_ms": float(field(line, "ms") or "nan")}
            lines = logf.lines()[since:]
            captured = next((l for l in lines if "screens captured" in l), None)
            if captured:
                press["key_to_captured_ms"] = (log_time(captured) - t_key) * 1000.0
                press["app_trigger_to_captured_ms"] = float(field(captured, "ms") or "nan")
                press["monitors"] = int(field(captured, "monitors") or 0)
            split = next((l for l in lines if "captured screens" in l), None)
            if split:
                m = re.search(r"grab: ([^,]+), encode: ([^,]+), thumbnail: ([^ }]+)", split)
                if m:
                    press["grab_ms"], press["encode_ms"], press["thumbnail_ms"] = (duration_ms(g) for g in m.groups())
            mapped = watch.wait_map(t_key, 5, FORM_TITLE)
            if mapped:
                press["key_to_mapped_ms"] = (mapped[0] - t_key) * 1000.0
            time.sleep(1.5)  # let the page settle: images decoded, inventory shown
            pss = tree_pss(app.pid)
            press["form_open_pss_bytes"] = pss["total_bytes"]
            press["form_open_processes"] = pss["processes"]
            if not close_form(mapped[1] if mapped else None):
                out["errors"].append(f"press {i + 1}: the form did not close with Esc")
            time.sleep(1.0)
            closed = tree_pss(app.pid)
            press["after_close_pss_bytes"] = closed["total_bytes"]
            idle_since = logf.mark()
            press["after_close_processes"] = closed["processes"]
            out["presses"].append(press)
            log(f"press {i + 1}/{runs}: key->paint {press['key_to_paint_ms']:.0f} ms, "
                f"capture {press.get('app_trigger_to_captured_ms', float('nan')):.0f} ms, "
                f"form open tree PSS {press['form_open_pss_bytes'] / 1e6:.0f} MB")
        if afteruse_secs > 0:
            log(f"idle {afteruse_secs:.0f} s after the presses (form opened and closed {runs} times)")
            out["after_use"] = idle_window(app.pid, afteruse_secs)
    finally:
        stop(app)
        watch.stop()
    return out


def phase_idle(h: Harness, runs: int, seconds: float, settle: float) -> list[dict]:
    samples = []
    for i in range(runs):
        app, logf = h.start_app(f"idle-{i + 1}")
        try:
            time.sleep(settle)
            s = idle_window(app.pid, seconds)
            s["trims"] = trims(logf)
            samples.append(s)
            log(f"idle run {i + 1}/{runs}: tree PSS {s['pss_bytes'] / 1e6:.1f} MB, CPU {s['cpu_percent']:.3f} % "
                f"({s['cpu_percent_schedstat']:.3f} % by schedstat), wakeups/s {s['wakeups_per_s']}, "
                f"{s['context_switches_per_s']:.1f} context switches/s")
        finally:
            stop(app)
        time.sleep(1)
    return samples


def phase_submit(h: Harness, runs: int) -> list[dict]:
    samples = []
    for i in range(runs):
        t0 = time.monotonic()
        r = h.cli("submit", "--name", "Grace Hopper", "--email", f"grace{i}@contoso.example", "--message",
                  "Outlook freezes every time I open the shared calendar.", "--no-screenshots", "--json", check=False)
        wall = (time.monotonic() - t0) * 1000.0
        try:
            answer = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            answer = {"outcome": "unreadable", "stdout": r.stdout, "stderr": r.stderr}
        samples.append({"wall_ms": wall, "outcome": answer.get("outcome"), "ticket_number": answer.get("ticket_number")})
        log(f"submit {i + 1}/{runs}: {wall:.0f} ms, {answer.get('outcome')} #{answer.get('ticket_number')}")
    return samples


def phase_refs(runs: int, ui: Path, settle: float) -> dict:
    out: dict = {"floor": [], "chromium": [], "notes": []}
    # The floor: a key press grabbed by a minimal key daemon (this script, like xbindkeys) that
    # starts a bare xmessage; key press -> the xmessage window mapped.
    spawned: list[subprocess.Popen] = []
    pressed: list[float] = []

    def on_key(t: float) -> None:
        pressed.append(t)
        spawned.append(subprocess.Popen(["xmessage", "-name", "hb-floor", "Helpdesk floor"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    if shutil.which("xmessage"):
        watch = XWatch(grab=FLOOR_KEY, on_key=on_key)
        watch.start()
        try:
            for _ in range(runs):
                pressed.clear()
                t_key = time.time()
                subprocess.run(["xdotool", "key", "ctrl+shift+F2"], check=True)
                mapped = watch.wait_map(t_key, 10)
                if mapped:
                    sample = {"key_to_mapped_ms": (mapped[0] - t_key) * 1000.0}
                    if pressed:
                        sample["key_to_grabbed_ms"] = (pressed[0] - t_key) * 1000.0
                    out["floor"].append(sample)
                for p in spawned:
                    p.terminate()
                    p.wait(5)
                spawned.clear()
                time.sleep(0.3)
        finally:
            watch.stop()
        log(f"floor: {[round(s['key_to_mapped_ms']) for s in out['floor']]} ms")
    else:
        out["notes"].append("xmessage not installed: no floor")

    chromium = shutil.which("chromium")
    if chromium:
        watch = XWatch()
        watch.start()
        try:
            for _ in range(runs):
                profile = tempfile.mkdtemp(prefix="hb-bench-chromium-")
                t0 = time.time()
                proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--app=file://{ui}/index.html"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                mapped = watch.wait_map(t0, 30)
                sample: dict = {}
                if mapped:
                    sample["launch_to_mapped_ms"] = (mapped[0] - t0) * 1000.0
                time.sleep(settle)
                pss = tree_pss(proc.pid)
                sample["pss_bytes"] = pss["total_bytes"]
                sample["processes"] = pss["processes"]
                out["chromium"].append(sample)
                stop(proc)
                shutil.rmtree(profile, ignore_errors=True)
                log(f"chromium: window {sample.get('launch_to_mapped_ms', float('nan')):.0f} ms, tree PSS {sample['pss_bytes'] / 1e6:.0f} MB")
                time.sleep(0.5)
        finally:
            watch.stop()
    else:
        out["notes"].append("chromium not installed (apt-get install chromium): no browser reference")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--label", required=True, help="the monitor layout, e.g. 1x1920x1080")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--phases", default="hotkey", help="comma-separated: hotkey,idle,afteruse,submit,refs")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle-runs", type=int, default=3)
    ap.add_argument("--idle-secs", type=float, default=60.0)
    ap.add_argument("--ui", type=Path, default=Path(__file__).resolve().parents[2] / "ui")
    args = ap.parse_args()
    phases = set(args.phases.split(","))

    work = Path(tempfile.mkdtemp(prefix=f"hb-bench-{args.label}-"))
    h = Harness(args.bin.resolve(), work)
    result: dict = {"label": args.label, "display": os.environ.get("DISPLAY"), "runs": args.runs,
                    "loadavg_start": Path("/proc/loadavg").read_text().split()[:3], "work_dir": str(work)}
    h.start_sandbox()
    try:
        if "idle" in phases:
            log(f"idle: {args.idle_runs} app starts, {args.idle_secs:.0f} s of tray-only idle each")
            result["idle"] = phase_idle(h, args.idle_runs, args.idle_secs, settle=5.0)
        if "hotkey" in phases:
            log(f"hotkey: {args.runs} presses at {args.label}")
            result["hotkey"] = phase_hotkey(h, args.runs, settle=3.0, afteruse_secs=args.idle_secs if "afteruse" in phases else 0)
        if "submit" in phases:
            result["submit_cli"] = phase_submit(h, args.runs)
    finally:
        h.stop_sandbox()
    if "refs" in phases:
        result["references"] = phase_refs(args.runs, args.ui.resolve(), settle=5.0)
    result["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
