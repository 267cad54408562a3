"""Latency from the end of a copy to the message at a local receiver.

Usage: python bench/bench_latency.py [TRIALS]   (default 5 per observer kind)

The real daemon watches a temp volume (inotify, then polling); a file is written in chunks and
closed at T0; the time until its message reaches a local HTTP receiver through apprise
json:// is measured. Targets: settle + 1 s with inotify, settle + poll interval + 1 s with
polling. Prints one JSON line per observer kind.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Daemon, write_config  # noqa: E402

from reelwatch.demo.inbox import LocalInbox  # noqa: E402

SETTLE, POLL = 2.0, 2.0


def run(observer: str, trials: int) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix="rw-latency-"))
    try:
        with LocalInbox() as inbox:
            config = write_config(base, inbox.url, settle=SETTLE, observer=observer, poll=POLL, roles=("dit",))
            daemon = Daemon(config)
            latencies = []
            try:
                for i in range(trials):
                    dest = base / "ingest" / f"clip_{i:03d}.mov"
                    with open(dest, "wb") as fh:
                        for _ in range(4):
                            fh.write(b"\0" * 65536)
                            fh.flush()
                            time.sleep(0.2)
                    done = time.time()
                    got = inbox.wait_for(i + 1, SETTLE + POLL + 15, role="dit")
                    if len(got) <= i:
                        raise RuntimeError(f"no message for trial {i}")
                    latencies.append(got[i].at - done)
                    time.sleep(0.5)
            finally:
                daemon.stop()
        target = SETTLE + 1 + (POLL if observer == "polling" else 0)
        return {"observer": observer, "settle_s": SETTLE, "poll_interval_s": POLL if observer == "polling" else None,
                "trials": trials, "median_s": round(statistics.median(latencies), 2),
                "max_s": round(max(latencies), 2), "target_s": target,
                "max_over_target": round(max(latencies) / target, 2)}
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for kind in ("inotify", "polling"):
        print(json.dumps(run(kind, n)), flush=True)
