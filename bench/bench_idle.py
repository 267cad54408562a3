"""Idle cost: CPU of the real daemon while nothing changes on a production-shaped volume.

Usage: python bench/bench_idle.py [--files N] [--folders N] [--idle SECONDS] [--poll SECONDS]
       (default: 200,000 files, 10,000 more folders, 60 s idle per observer kind, poll_interval
       10 s; the 1,000,000-file figures in bench/README.md come from
       `--files 1000000 --folders 0 --idle 300`)

A production-shaped tree (bench/_tree.py), with --folders more empty folders beside it (the
project folder templates of a facility NAS: the defect of issue 12 needed many folders), is
recorded in the state database as a previous run left it; then the real daemon (`reelwatch
run` in a child process, debug logging so that every rescan shows) watches it, first with
inotify, then with polling. After it is ready and its startup reconcile is done, its CPU time
(utime + stime from /proc/PID/stat) is sampled over the idle window; reconciles and queue
overflows logged in the window are counted.

Baseline measured in the same run: one walk of the volume, the reconcile alone in a child
process over the same tree and state (its wall and CPU seconds). A polling daemon should cost
that walk once per cycle (poll_interval plus the walk): expected share = walk CPU / (poll +
walk wall). Targets: inotify at most 1% of one core and no rescan in the window (nothing
changed); polling at most 1.25x the expected share.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Daemon, write_config  # noqa: E402
from _tree import folder_tree, production_tree, record_previous_run  # noqa: E402

INOTIFY_MAX_CPU = 0.01
POLLING_MAX_RATIO = 1.25
TICKS = os.sysconf("SC_CLK_TCK")


WALK = r"""
import json, sys, time
from reelwatch.watch.scan import scan_volume
from reelwatch.state.store import Store
store = Store(sys.argv[2])
t, c = time.perf_counter(), time.process_time()
r = scan_volume("ingest", sys.argv[1], store, lambda rel: None, lambda v, p: False)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "touched": r.touched}))
"""


def one_walk(base: Path) -> dict[str, float]:
    """The reconcile alone, the median of three, each in a fresh process (the daemon's figure is
    an average over many walks, so the baseline is not the best one)."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", WALK, str(base / "ingest"), str(base / "state.db")],
                                      capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    return sorted(runs, key=lambda r: r["cpu"])[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def watch(base: Path, observer: str, idle: float, poll: float) -> dict[str, object]:
    config = write_config(base, lambda role: f"json://127.0.0.1:9/{role}", settle=2.0, observer=observer,
                          poll=poll, roles=("dit",))
    started = time.monotonic()
    daemon = Daemon(config, ready_timeout=600, debug=True)
    ready = time.monotonic() - started
    try:
        time.sleep(3)  # let the first tick and status write pass
        log_before = daemon.log.read_text(errors="replace")
        c0, t0 = cpu_seconds(daemon.proc.pid), time.monotonic()
        time.sleep(idle)
        c1, t1 = cpu_seconds(daemon.proc.pid), time.monotonic()
        window = daemon.log.read_text(errors="replace")[len(log_before):]
    finally:
        daemon.stop()
    return {"observer": observer, "ready_s": round(ready, 2), "idle_s": round(t1 - t0, 1),
            "cpu_share": round((c1 - c0) / (t1 - t0), 4),
            "reconciles_in_window": window.count('"reconciled"'),
            "overflow_lines_in_window": window.lower().count("overflow")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--folders", type=int, default=10_000)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--poll", type=float, default=10.0)
    ap.add_argument("--observers", default="inotify,polling")
    args = ap.parse_args()
    kinds = args.observers.split(",")
    base = Path(tempfile.mkdtemp(prefix="rw-idle-"))
    try:
        counts = production_tree(base / "ingest", args.files)
        if args.folders:
            counts["folders"] += folder_tree(base / "ingest" / "Projects", args.folders)
        record_previous_run(base / "state.db", base / "ingest", volume="ingest")
        ok = True
        if "inotify" in kinds:
            ino = watch(base, "inotify", args.idle, args.poll)
            ino["met"] = ino["cpu_share"] <= INOTIFY_MAX_CPU and ino["reconciles_in_window"] == 0
            ino["target"] = f"cpu_share <= {INOTIFY_MAX_CPU} and no rescan"
            print(json.dumps({**counts, **ino}), flush=True)
            ok = ok and bool(ino["met"])
        if "polling" not in kinds:
            return 0 if ok else 1
        walk = one_walk(base)
        pol = watch(base, "polling", args.idle, args.poll)
        expected = walk["cpu"] / (args.poll + walk["wall"])  # one walk per poll cycle, as a share of a core
        pol["poll_interval_s"] = args.poll
        pol["walk_s"], pol["walk_cpu_s"] = round(walk["wall"], 3), round(walk["cpu"], 3)
        pol["one_walk_per_poll_share"] = round(expected, 4)
        pol["ratio"] = round(pol["cpu_share"] / expected, 2) if expected else None
        pol["met"] = pol["ratio"] is not None and pol["ratio"] <= POLLING_MAX_RATIO
        pol["target"] = f"ratio <= {POLLING_MAX_RATIO}"
        print(json.dumps({**counts, **pol}), flush=True)
        return 0 if ok and pol["met"] else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
