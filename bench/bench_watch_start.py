"""inotify start on many folders: time until every folder is watched, against the walk itself.

Usage: python bench/bench_watch_start.py [FOLDERS] [--runs N]   (default 10,301 folders, 5 runs)

Builds FOLDERS empty folders (20 per parent), then measures in this process, round-robin, the
best of --runs rounds:
  - walk: os.scandir of every folder, keeping the sub-folders (the walk itself; baseline);
  - add_watch loop: inotify_add_watch on a ready list of the folders (the floor: no walk);
  - reelwatch: TreeWatcher.start() (walk + a watch per folder + the reader thread);
  - watchdog: Observer().schedule(recursive=True).start() with its default mask (reference:
    what the daemon used before issue 12);
  - ready: VolumeRuntime.start() (observer choice, watching, and the startup reconcile against an
    empty state database), next to the reconcile alone.
Target: reelwatch at most 1.5x the walk. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tree import folder_tree  # noqa: E402

from reelwatch.core.config import Volume  # noqa: E402
from reelwatch.watch.inotify import MASK, Callbacks, TreeWatcher  # noqa: E402
from reelwatch.watch.scan import scan_volume  # noqa: E402
from reelwatch.state.store import Store  # noqa: E402
from reelwatch.watch.volumes import VolumeRuntime  # noqa: E402

TARGET = 1.5


def walk(root: str) -> list[str]:
    out, stack = [], [root]
    while stack:
        path = stack.pop()
        out.append(path)
        with os.scandir(path) as it:
            stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
    return out


def add_watch_loop(folders: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    for path in folders:
        libc.inotify_add_watch(fd, os.fsencode(path), MASK)
    os.close(fd)


def reelwatch_start(root: str) -> TreeWatcher:
    nothing = Callbacks(lambda r: None, lambda r: None, lambda r: None, lambda r: None, lambda n: None)
    watcher = TreeWatcher(root, nothing)
    watcher.start()
    return watcher


def watchdog_start(root: str):
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    observer = Observer()
    observer.schedule(FileSystemEventHandler(), root, recursive=True)
    observer.start()
    return observer


def timed(fn, *args):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="?", type=int, default=10_301)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="rw-watchstart-"))
    try:
        root = base / "tree"
        folder_tree(root, args.folders)
        folders = walk(str(root))
        best: dict[str, list[float]] = {}

        def keep(name: str, wall: float, cpu: float) -> None:
            if name not in best or wall < best[name][0]:
                best[name] = [wall, cpu]

        try:
            import watchdog  # noqa: F401
            have_watchdog = True
        except ImportError:
            have_watchdog = False
        for _ in range(args.runs):
            _, w, c = timed(walk, str(root))
            keep("walk", w, c)
            _, w, c = timed(add_watch_loop, folders)
            keep("add_watch_loop", w, c)
            watcher, w, c = timed(reelwatch_start, str(root))
            assert watcher.watches == len(folders) and watcher.failure is None, (watcher.watches, watcher.failure)
            watcher.stop()
            keep("reelwatch", w, c)
            if have_watchdog:
                observer, w, c = timed(watchdog_start, str(root))
                observer.stop()
                observer.join()
                keep("watchdog", w, c)
            db = base / "state.db"
            db.unlink(missing_ok=True)
            store = Store(db)
            _, w, c = timed(scan_volume, "bench", str(root), store, lambda r: None, lambda v, p: False)
            keep("reconcile_alone", w, c)
            db.unlink(missing_ok=True)
            store = Store(db)
            vol = VolumeRuntime(cfg=Volume(name="bench", path=str(root), observer="inotify"), root=str(root),
                                store=store, ignore=lambda v, p: False, emit=lambda a: None,
                                announce=lambda *a: None)
            _, w, c = timed(vol.start)
            assert vol.kind == "inotify", vol.reason
            vol.stop()
            keep("ready", w, c)
        ratio = best["reelwatch"][0] / best["walk"][0]
        result = {"folders": len(folders), "runs": args.runs,
                  **{f"{k}_s": round(v[0], 3) for k, v in best.items()},
                  **{f"{k}_cpu_s": round(v[1], 3) for k, v in best.items()},
                  "reelwatch_vs_walk": round(ratio, 2), "target": TARGET, "met": ratio <= TARGET,
                  "ready_vs_walk_plus_reconcile": round(
                      best["ready"][0] / (best["walk"][0] + best["reconcile_alone"][0]), 2)}
        if "watchdog" in best:
            result["watchdog_vs_walk"] = round(best["watchdog"][0] / best["walk"][0], 2)
        print(json.dumps(result), flush=True)
        return 0 if result["met"] else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
