"""Startup reconcile of big trees: time and peak RSS against `find` over the same tree.

Usage: python bench/bench_reconcile.py [--shape production|flat|both] [N ...]
       (default: both shapes, 200,000 files; the 1,000,000-file figures in bench/README.md
       come from `python bench/bench_reconcile.py 1000000`)

For each shape and N it builds a tree of N empty files under a temp folder (see bench/_tree.py:
"production" is image-sequence runs of 1,000 frames, camera clips with sidecars and ascmhl
folders, 6-8 folders deep; "flat" is 1,000 files per folder), records them in a state database
as a previous run would have (a restart with nothing changed), then measures in fresh child
processes, round-robin so that a busy machine slows every contender alike:
  - baseline: `find ROOT -type f -printf '%s %T@ %p'` (GNU find, to /dev/null): the same work
    reelwatch must do to notice a file changed in place (size and mtime of every file);
  - `find ROOT -type f`: names only, from the directory entries, no stat (for reference);
  - a bare Python walk (os.scandir + stat of every file, nothing else) (for reference);
  - reelwatch: scan_volume() over the same tree against the state database;
  - reelwatch, cold: the same with an empty state database (every file is new).
Each wall time includes starting the process (and for Python, importing); the best of
--runs rounds counts. Peak RSS and CPU time come from getrusage(RUSAGE_CHILDREN) of a fresh
wrapper per child. Prints one JSON line per shape and N. The target is judged on scan_s, the
reconcile itself timed inside its process (what a running daemon pays every reconcile; the
one-time import of reelwatch is the startup-time item of issue 12 §4): scan_vs_find_stat at
most 1.5, and peak RSS flat (under 64 MB at any N). ratio_vs_find_stat, the whole child
process against find, and the CPU-time ratio are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tree import flat_tree, production_tree, record_previous_run  # noqa: E402

TARGET_RATIO = 1.5
TARGET_RSS_MIB = 64

CHILD = r"""
import sys, time, json
from reelwatch.watch.scan import scan_volume
from reelwatch.state.store import Store
root, db = sys.argv[1], sys.argv[2]
store = Store(db)
count = [0]
def touch(rel): count[0] += 1
t, c = time.perf_counter(), time.process_time()
r = scan_volume("bench", root, store, touch, lambda v, p: False, mark_gone=True)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "files": r.files,
                  "folders": r.folders, "touched": count[0], "gone": r.gone}))
"""

BARE = r"""
import os, sys
stack, n = [sys.argv[1]], 0
while stack:
    with os.scandir(stack.pop()) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            else:
                st = e.stat(follow_symlinks=False)
                n += 1
print(n)
"""


def isolated(cmd: list[str]) -> dict[str, float | str]:
    """Wall seconds and peak RSS (MiB) of one command, measured from its own wrapper process
    (ru_maxrss of RUSAGE_CHILDREN is a maximum over every child, so each gets a fresh parent)."""
    wrapper = ("import resource, subprocess, sys, time, json\n"
               "t = time.perf_counter()\n"
               "out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout\n"
               "w = time.perf_counter() - t\n"
               "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps({'wall': w, 'cpu': ru.ru_utime + ru.ru_stime, 'rss_mib': ru.ru_maxrss / 1024,"
               " 'out': out}))\n")
    res = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def measure(shape: str, n: int, runs: int) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix="rw-reconcile-"))
    try:
        root = base / "tree"
        t = time.perf_counter()
        counts = production_tree(root, n) if shape == "production" else flat_tree(root, n)
        built = time.perf_counter() - t
        warm_db, cold_db = base / "warm.db", base / "cold.db"
        record_previous_run(warm_db, root)
        contenders = {
            "find_stat": ["find", str(root), "-type", "f", "-fprintf", "/dev/null", "%s %T@ %p\n"],
            "find": ["find", str(root), "-type", "f", "-fprint", "/dev/null"],
            "bare_python": [sys.executable, "-c", BARE, str(root)],
            "reconcile": [sys.executable, "-c", CHILD, str(root), str(warm_db)],
        }
        best: dict[str, dict] = {}
        for _ in range(runs):
            for name, cmd in contenders.items():
                got = isolated(cmd)
                if name not in best or got["wall"] < best[name]["wall"]:
                    best[name] = got
        cold_db.unlink(missing_ok=True)
        cold = isolated([sys.executable, "-c", CHILD, str(root), str(cold_db)])
        fs = best["find_stat"]["wall"]
        scan = json.loads(best["reconcile"]["out"])
        scan_ratio = scan["seconds"] / fs
        return {
            "shape": shape, **counts, "build_s": round(built, 1), "runs": runs,
            "find_stat_s": round(fs, 3), "find_s": round(best["find"]["wall"], 3),
            "bare_python_s": round(best["bare_python"]["wall"], 3),
            "reconcile_s": round(best["reconcile"]["wall"], 3),
            "reconcile_rss_mib": round(best["reconcile"]["rss_mib"], 1),
            "find_rss_mib": round(best["find_stat"]["rss_mib"], 1),
            "ratio_vs_find_stat": round(best["reconcile"]["wall"] / fs, 2),
            "scan_s": round(scan["seconds"], 3), "scan_vs_find_stat": round(scan_ratio, 2),
            "scan_cpu_vs_find_stat_cpu": round(scan["cpu"] / best["find_stat"]["cpu"], 2),
            "bare_python_vs_find_stat": round(best["bare_python"]["wall"] / fs, 2),
            "cold_s": round(cold["wall"], 3), "cold_rss_mib": round(cold["rss_mib"], 1),
            "target_ratio": TARGET_RATIO,
            "met": scan_ratio <= TARGET_RATIO and best["reconcile"]["rss_mib"] <= TARGET_RSS_MIB,
            "scan": scan,
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[200_000])
    ap.add_argument("--shape", choices=("production", "flat", "both"), default="both")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    shapes = ("production", "flat") if args.shape == "both" else (args.shape,)
    ok = True
    for n in args.sizes:
        for shape in shapes:
            result = measure(shape, n, args.runs)
            ok = ok and bool(result["met"])
            print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
