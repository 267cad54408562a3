"""Startup reconcile of big trees: time and peak RSS against `find` over the same tree.

Usage: python bench/bench_reconcile.py [N ...]   (default: 100000 1000000)

For each N it builds a tree of N empty files (1,000 per folder) under a temp folder, records
them in a state database as a previous run would have (a restart with nothing changed), then
measures in fresh child processes:
  - baseline: `find ROOT -type f` (GNU find, output to /dev/null): names only, from the
    directory entries, no stat;
  - baseline with stat: `find ROOT -type f -printf '%s %T@ %p'`: the same work reelwatch must
    do to notice a file changed in place (size and mtime of every file)
  - reelwatch: scan_volume() over the same tree against the state database
  - reelwatch, cold: the same with an empty state database (every file is new)
Peak RSS comes from getrusage(RUSAGE_CHILDREN) of each child. Prints one JSON line per N.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_FOLDER = 1000

CHILD = r"""
import sys, time, json
from reelwatch.scan import scan_volume
from reelwatch.store import Store
root, db = sys.argv[1], sys.argv[2]
store = Store(db)
count = [0]
def touch(rel): count[0] += 1
t = time.perf_counter()
r = scan_volume("bench", root, store, touch, lambda v, p: False, mark_gone=True)
print(json.dumps({"seconds": time.perf_counter() - t, "files": r.files, "touched": count[0], "gone": r.gone}))
"""


def build(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"card{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"A{i:07d}.mov").touch()


def populate(db: Path, root: Path) -> None:
    from reelwatch.store import Store
    Store(db).close()
    con = sqlite3.connect(db)
    rows = []
    for folder in sorted(os.listdir(root)):
        for entry in os.scandir(root / folder):
            st = entry.stat()
            rows.append(("bench", f"{folder}/{entry.name}", folder, st.st_size, st.st_mtime_ns, "media", 0.0, 1.0))
        if len(rows) > 50000:
            con.executemany("INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, first_seen, "
                            "checked_at) VALUES (?,?,?,?,?,?,?,?)", rows)
            rows = []
    con.executemany("INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, first_seen, checked_at) "
                    "VALUES (?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


def isolated(cmd: list[str]) -> dict[str, float | str]:
    """Wall seconds and peak RSS (MiB) of one command, measured from its own wrapper process
    (ru_maxrss of RUSAGE_CHILDREN is a maximum over every child, so each gets a fresh parent)."""
    wrapper = ("import resource, subprocess, sys, time, json\n"
               "t = time.perf_counter()\n"
               "out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout\n"
               "w = time.perf_counter() - t\n"
               "print(json.dumps({'wall': w, 'rss_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss"
               " / 1024, 'out': out}))\n")
    res = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def main(sizes: list[int]) -> None:
    for n in sizes:
        base = Path(tempfile.mkdtemp(prefix="rw-reconcile-"))
        try:
            root = base / "tree"
            t = time.perf_counter()
            build(root, n)
            built = time.perf_counter() - t
            warm_db, cold_db = base / "warm.db", base / "cold.db"
            populate(warm_db, root)
            find = isolated(["find", str(root), "-type", "f", "-fprint", "/dev/null"])
            find2 = isolated(["find", str(root), "-type", "f", "-fprint", "/dev/null"])
            warm = isolated([sys.executable, "-c", CHILD, str(root), str(warm_db)])
            cold = isolated([sys.executable, "-c", CHILD, str(root), str(cold_db)])
            fstat = isolated(["find", str(root), "-type", "f", "-fprintf", "/dev/null", "%s %T@ %p\n"])
            find_wall = min(find["wall"], find2["wall"])
            result = {
                "files": n, "build_s": round(built, 1),
                "find_s": round(find_wall, 3), "find_rss_mib": round(find["rss_mib"], 1),
                "reconcile_s": round(warm["wall"], 3), "reconcile_rss_mib": round(warm["rss_mib"], 1),
                "ratio_vs_find": round(warm["wall"] / find_wall, 2),
                "find_stat_s": round(fstat["wall"], 3),
                "ratio_vs_find_stat": round(warm["wall"] / fstat["wall"], 2),
                "cold_s": round(cold["wall"], 3), "cold_rss_mib": round(cold["rss_mib"], 1),
                "scan": json.loads(warm["out"]),
            }
            print(json.dumps(result), flush=True)
        finally:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
