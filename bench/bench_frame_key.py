"""Frame keys of 50,000 image-sequence frame names vs one compiled regex match per name.

``frame_key`` runs on every name the settler and the reconcile scan see, so it must cost about
what the cheapest possible look at a name costs: one regex match. Usage:
``python bench/bench_frame_key.py [runs]``.
"""

from __future__ import annotations

import re
import sys
import time

from reelwatch.core.sequences import frame_key

NAMES = [f"AGM_104_065_010_PL01_v{v:03d}.{i:04d}.exr" for v in range(5) for i in range(10_000)]
BASELINE = re.compile(r"^(.*?)(\d+)(\.[^.]+)$")


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ours = best_of(runs, lambda: {frame_key(n) for n in NAMES})
    base = best_of(runs, lambda: {BASELINE.match(n).group(1, 3) for n in NAMES})
    print(f"frame_key x{len(NAMES):,}: {ours * 1000:.1f} ms; one regex match each: {base * 1000:.1f} ms; "
          f"ratio {ours / base:.2f}x (target 3x or less)")


if __name__ == "__main__":
    main()
