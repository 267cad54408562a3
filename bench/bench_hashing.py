"""Benchmark reelwatch.integrity.hashing against xxhsum -H2 and md5sum on the same page-cached file.

Usage: ``PYTHONPATH=src python bench/bench_hashing.py [--size-mb 1024] [--runs 5] [--file PATH]``

Writes a file of random bytes (unless --file is given), reads it once so that it sits in the
page cache, then times each contender ``--runs`` times in the same run and prints the best
throughput and the ratios. A baseline tool that is not installed is skipped (Debian:
``apt-get install xxhash`` for xxhsum). Checks that every contender prints the same digest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from reelwatch.integrity.hashing import DEFAULT_BUFFER, hash_file  # noqa: E402

MiB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    chunk = os.urandom(16 * MiB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(16 * MiB):
            pass


def best_of(runs: int, fn: Callable[[], str]) -> tuple[float, str]:
    best, digest = float("inf"), ""
    for _ in range(runs):
        t0 = time.perf_counter()
        digest = fn()
        best = min(best, time.perf_counter() - t0)
    return best, digest


def tool(cmd: list[str]) -> Callable[[], str]:
    def run() -> str:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return out.split()[0].lower()
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--buffers", default="0.0625,0.25,1,4,16", help="read sizes in MiB to compare")
    args = ap.parse_args()

    tmp = None
    if args.file:
        path = args.file
    else:
        tmp = tempfile.TemporaryDirectory(prefix="reelwatch-bench-")
        path = Path(tmp.name) / "bench.bin"
        make_file(path, args.size_mb * MiB)
    size = path.stat().st_size
    warm(path)
    print(f"file: {path} ({size / MiB:.0f} MiB, page-cached), best of {args.runs} runs, "
          f"default buffer {DEFAULT_BUFFER // 1024} KiB, {os.cpu_count()} cpus")

    contenders: dict[str, Callable[[], str]] = {}
    if shutil.which("xxhsum"):
        contenders["xxhsum -H2"] = tool(["xxhsum", "-H2", str(path)])
    else:
        print("xxhsum not installed: skipped (apt-get install xxhash)")
    if shutil.which("md5sum"):
        contenders["md5sum"] = tool(["md5sum", str(path)])
    else:
        print("md5sum not installed: skipped")
    for mb in (float(b) for b in args.buffers.split(",")):
        buf = int(mb * MiB)
        contenders[f"reelwatch xxh128 {buf // 1024} KiB"] = lambda buf=buf: hash_file(path, "xxh128", buffer=buf)
    contenders["reelwatch xxh128 default"] = lambda: hash_file(path, "xxh128")
    contenders["reelwatch md5 default"] = lambda: hash_file(path, "md5")
    contenders["reelwatch md5 16384 KiB"] = lambda: hash_file(path, "md5", buffer=16 * MiB)

    # Round-robin: every run times every contender once, so a busy machine slows all of them alike.
    results: dict[str, tuple[float, str]] = {name: (float("inf"), "") for name in contenders}
    for _ in range(args.runs):
        for name, fn in contenders.items():
            secs, digest = best_of(1, fn)
            results[name] = (min(results[name][0], secs), digest)

    # Threads: the same page-cached file hashed twice, on one thread and then on two.
    from reelwatch.integrity.hashing import hash_files
    for algo in ("md5", "xxh128"):
        one, _ = best_of(max(1, args.runs // 2), lambda algo=algo: str(hash_files([path, path], algo, workers=1)))
        two, _ = best_of(max(1, args.runs // 2), lambda algo=algo: str(hash_files([path, path], algo, workers=2)))
        print(f"hash_files {algo} x2: 1 thread {2 * size / one / 1e9:5.2f} GB/s, 2 threads "
              f"{2 * size / two / 1e9:5.2f} GB/s ({one / two:.2f}x)")

    for name, (secs, digest) in results.items():
        print(f"{name:32s} {size / secs / 1e9:6.2f} GB/s  {secs:7.3f} s  {digest}")
    xx = results.get("xxhsum -H2")
    md = results.get("md5sum")
    ours_xx = results["reelwatch xxh128 default"]
    ours_md = results["reelwatch md5 default"]
    ok = True
    if xx:
        ratio = xx[0] / ours_xx[0]
        same = xx[1] == ours_xx[1]
        ok &= ratio >= 0.9 and same
        print(f"ratio reelwatch xxh128 / xxhsum -H2: {ratio:.2f}x (target >= 0.9x), digests equal: {same}")
    if md:
        ratio = md[0] / ours_md[0]
        same = md[1] == ours_md[1]
        ok &= ratio >= 0.95 and same
        print(f"ratio reelwatch md5 / md5sum:        {ratio:.2f}x (target >= 0.95x), digests equal: {same}")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
