"""Cost of the forecasts per round: what the daemon will add to its control loop.

Usage: python bench/bench_forecast.py [DRIVES] [ROUNDS]   (defaults 10, 200)

DRIVES folders on the local disk stand for drives; the forecaster has 3 hours of history on each
(a sample every 2 s, the worst case for memory: every bucket filled). One forecast round is what
the daemon will do every 10 s: a real ``statvfs`` of each drive, one sample each, one tick
(every alert judged, the snapshot written out as JSON). Baseline, same run: the status round
the daemon already does every 2 s, ``Store.set_volume_status`` for each volume on a real SQLite
file. Memory: the forecaster's own allocations (tracemalloc) and the snapshot size.
Target: the forecasts add no more control-loop time per second than the status rounds already
take (a forecast round every 10 s, a status round every 2 s).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from reelwatch.forecast import DriveRef, Forecaster, InMemoryDeliveries, SpaceSettings, read_space
from reelwatch.forecast.pace import Space
from reelwatch.state.store import Store

FORECAST_EVERY = 10.0
"""Seconds between forecast rounds in the daemon (docs/forecast.md)."""
STATUS_EVERY = 2.0
"""Seconds between status rounds (reelwatch.service.status.STATUS_EVERY)."""


def main(drives: int, rounds: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="rw-forecast-"))
    roots = [base / f"SHUTTLE_{i:02d}" for i in range(drives)]
    for r in roots:
        r.mkdir()
    now = time.time()
    start = now - 3 * 3600
    tracemalloc.start()
    fc = Forecaster(SpaceSettings(), production="Bench")
    for i, r in enumerate(roots):
        fc.track(DriveRef(f"shuttle-SHUTTLE_{i:02d}", str(r), f"SHUTTLE_{i:02d}", f"dev{i}"), start)
    free = [4 * 10**12] * drives
    for k in range(int(3 * 3600 / 2)):
        t = start + 2 * k
        for i in range(drives):
            free[i] -= 600_000_000 if k % 4 else 0
            fc.sample(f"shuttle-SHUTTLE_{i:02d}", t, Space(free[i], 8 * 10**12))
        if k % 5 == 0:
            fc.tick(t, InMemoryDeliveries())
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    delivered = InMemoryDeliveries()
    snapshot = fc.snapshot()
    times = []
    for n in range(rounds):
        t = now + n * 10
        began = time.perf_counter()
        for i, r in enumerate(roots):
            fc.sample(f"shuttle-SHUTTLE_{i:02d}", t, read_space(str(r)))
        out = fc.tick(t, delivered)
        times.append(time.perf_counter() - began)
        snapshot = out.snapshot or snapshot

    store = Store(base / "state.db")
    base_times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for i in range(drives):
            store.set_volume_status(f"shuttle-SHUTTLE_{i:02d}", "inotify", "ok", now, 0, "")
        base_times.append(time.perf_counter() - began)
    store.close()

    ours, theirs = statistics.mean(times), statistics.mean(base_times)
    print(f"drives: {drives}, rounds: {rounds}")
    print(f"forecast round (statvfs + sample + tick; a snapshot every 6th): mean {ours * 1000:.2f} ms, "
          f"median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")
    print(f"baseline status round (set_volume_status x {drives}): mean {theirs * 1000:.2f} ms")
    print(f"per round: {ours / theirs:.2f}x; per second of daemon life (forecast every {FORECAST_EVERY:.0f} s, "
          f"status every {STATUS_EVERY:.0f} s): {(ours / FORECAST_EVERY) / (theirs / STATUS_EVERY):.2f}x")
    print(f"forecaster memory: {held / 1e6:.1f} MB; snapshot: {len(snapshot) / 1024:.1f} KiB")
    for r in roots:
        os.rmdir(r)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
