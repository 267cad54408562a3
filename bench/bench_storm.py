"""Alert storm: 1,000 failing files from one card.

Usage: python bench/bench_storm.py [FILES]   (default 1000)

The real daemon watches a temp volume with a 5 s digest window; FILES empty clips (each a
sanity.empty error, owned by the DIT, affecting editorial) land on one card at once. Measured:
messages per role, the time from the first file to the last message delivered, and the
largest message. Target: one digest per role per window.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Daemon, write_config  # noqa: E402

from reelwatch.demo.inbox import LocalInbox  # noqa: E402

WINDOW = 5.0


def main(files: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="rw-storm-"))
    try:
        with LocalInbox() as inbox:
            config = write_config(base, inbox.url, settle=1.0, digest=WINDOW)
            daemon = Daemon(config)
            try:
                card = base / "ingest" / "A002R2EC"
                card.mkdir()
                start = time.time()
                for i in range(files):
                    (card / f"A002C{i:04d}_141024_R2EC.mov").write_bytes(b"")
                db = sqlite3.connect(base / "state.db")
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    findings = db.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
                    waiting = db.execute("SELECT COUNT(*) FROM notices WHERE message_id IS NULL").fetchone()[0]
                    pending = db.execute("SELECT COUNT(*) FROM outbox WHERE state='pending'").fetchone()[0]
                    if findings >= files and not waiting and not pending:
                        break
                    time.sleep(0.2)
                drained = time.time() - start
                db.close()
            finally:
                daemon.stop()
            per_role: dict[str, int] = {}
            for m in inbox.received:
                per_role[m.role] = per_role.get(m.role, 0) + 1
            windows = max(1, int(drained // WINDOW) + 1)
            print(json.dumps({
                "files": files, "digest_window_s": WINDOW, "messages_per_role": per_role,
                "drain_s": round(drained, 1), "windows_elapsed": windows,
                "largest_message_bytes": max(len(json.dumps(m.body)) for m in inbox.received),
                "messages_per_role_per_window": round(max(per_role.values()) / windows, 2),
            }))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
