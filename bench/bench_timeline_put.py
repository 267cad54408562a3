"""What the timeline catalog adds to every checked file (docs/timelines.md).

Usage: python bench/bench_timeline_put.py [FILES]   (default 2,000)

In one run, on one state database file: commit_check alone for half the files (the baseline),
then commit_check followed by Conformer.clip (the clip put in the catalog, the events waiting for
it, the cuts using it) for the other half, as the daemon does for each checked file. Prints one
JSON line: milliseconds per file for each, and the ratio.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from reelwatch.checking.conformer import Conformer
from reelwatch.core.model import Asset, Facts
from reelwatch.state.store import Store


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    folder = tempfile.mkdtemp(prefix="rw-tlput-")
    store = Store(os.path.join(folder, "state.db"))
    conformer = Conformer(store, recheck=lambda v, r: None, tell=lambda *a: None)
    facts = Facts(kind="media", general={"duration": "2002"}, video=({"frame_rate": "23.976", "frame_count": "48"},),
                  other=({"time_code_of_first_frame": "01:00:00:00"},))
    assets = [Asset("ingest", folder, f"A{i // 100:03d}R1JL/A{i // 100:03d}C{i % 100:03d}_20100610_R1JL.mov",
                    1000 + i, 1) for i in range(n)]
    half = n // 2
    t = time.perf_counter()
    for a in assets[:half]:
        store.commit_check(a, facts, [], lambda f: [], 1)  # type: ignore[arg-type]
    base = (time.perf_counter() - t) / half
    t = time.perf_counter()
    for a in assets[half:]:
        store.commit_check(a, facts, [], lambda f: [], 1)  # type: ignore[arg-type]
        conformer.clip(a, facts, [])
    both = (time.perf_counter() - t) / (n - half)
    store.close()
    print(json.dumps({"files": n, "commit_check_ms": round(base * 1e3, 2), "with_catalog_ms": round(both * 1e3, 2),
                      "added_ms": round((both - base) * 1e3, 2), "ratio": round(both / base, 2),
                      "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
