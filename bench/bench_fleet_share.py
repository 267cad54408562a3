"""Shared work on a shared volume (issue 16): 1 node against 2 nodes checking the same volume.

Usage: python bench/bench_fleet_share.py [--files 10000] [--runs 1] [--workers 1] [--keep DIR]

A throw-away PostgreSQL 15 server (tests/pgserver.py: started as the ``postgres`` user in a
temporary folder) holds the fleet's state. One folder of FILES small real clips (copies of a few
ProRes clips made with PyAV, 100 to a folder, names a camera would give) is the volume ``nas`` of
every node's config. For each run, on a fresh database:

  - 1 node: one ``reelwatch run`` process (``[probe] workers``, default 1) watching it;
  - 2 nodes: two such processes, each with its own config, node name and SQLite folder, the same
    volume and the same database; every version is claimed through the database and checked by
    one node.

Timed: from starting the daemon processes until every file is recorded as checked (polled in the
database every 0.25 s). Reported: both times, the ratio (1-node time / 2-node time: the speed-up a
second machine gives), how the files were shared, that each was checked exactly once, and the
load average before and after. Target: at least 1.5x on 2 cores (each node one probe worker).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from _harness import Daemon  # noqa: E402
from pgserver import PASSWORD, missing  # noqa: E402
from pgserver import PgServer as _PgServer  # noqa: E402

from reelwatch.demo.inbox import LocalInbox  # noqa: E402
from reelwatch.state.store import Store  # noqa: E402
from reelwatch.timeline import SCHEMA, TIMELINE_SCHEMA  # noqa: E402


def build(nas: Path, files: int) -> None:
    from reelwatch.demo import mediagen
    seeds = nas.parent / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    ntsc = Fraction(24000, 1001)
    made = [mediagen.make_clip(seeds / f"seed{n}.mov", codec="prores_hq", rate=ntsc, width=320, height=180,
                               frames=2 + n) for n in range(4)]
    for n in range(files):
        card = nas / f"A{n // 100:03d}R2EC"
        card.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made[n % len(made)], card / f"A{n // 100:03d}C{n % 100 + 1:03d}_141024_R2EC.mov")


class Node(Daemon):
    """``reelwatch run`` in a child process, started without waiting for it to be ready."""

    def __init__(self, config: Path) -> None:  # noqa: D107 -- Daemon.__init__ waits; this does not
        self.log = config.parent / "daemon.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 -- the daemon writes to it until stop() closes it
        self.proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "run", "--config", str(config)],
                                     stdout=self._fh, stderr=subprocess.STDOUT, env=dict(os.environ))

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while b'"ready"' not in self.log.read_bytes():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            time.sleep(0.05)


class PgServer(_PgServer):
    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


class Waits(threading.Thread):
    """Samples, every 20 ms, whether some node waits for the fleet's write lock (the advisory lock
    every write transaction but a claim takes: reelwatch.state.pg)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        import psycopg
        self.conn = psycopg.connect(url, password=PASSWORD, autocommit=True)
        self.samples = self.waiting = 0
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.02):
            row = self.conn.execute("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted"
                                    ).fetchone()
            self.samples += 1
            self.waiting += bool(row and row[0])

    def stop(self) -> None:
        if not self.done.is_set():
            self.done.set()
            self.join()
            self.conn.close()

    def share(self) -> float:
        return round(self.waiting / max(self.samples, 1), 2)


def cpu_seconds(roots: list[int]) -> float:
    """User+system CPU of these processes and all their descendants alive now (from /proc)."""
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, list(roots)
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, ppid in parent.items() if ppid == pid]
    return total


def config(base: Path, name: str, nas: Path, url: str, inbox: LocalInbox, workers: int) -> Path:
    base.mkdir(parents=True)
    text = ('[production]\nname = "Bench"\n'
            + "".join(f'[roles.{r}]\nnotify = ["{inbox.url(r)}"]\n' for r in ("dit", "editorial", "admin"))
            + f'[[volumes]]\nname = "nas"\npath = "{nas}"\nowner = "dit"\nsettle = 0.5\nobserver = "inotify"\n'
            f'[state]\npath = "{base / "state.db"}"\nnode = "{name}"\nurl = "{url}"\n'
            f'[probe]\nworkers = {workers}\n[notify]\ndigest_window = 5\n')
    path = base / "production.toml"
    path.write_text(text)
    return path


def run(work: Path, nas: Path, server: PgServer, inbox: LocalInbox, nodes: int, files: int,
        workers: int) -> dict[str, object]:
    url = server.new_database()
    schema = Store(url, password=PASSWORD)  # the schema, made before the clock starts: two nodes
    schema.add_tables(SCHEMA + TIMELINE_SCHEMA)  # creating the cut-list tables at once collide (see README)
    schema.close()
    here = work / f"run-{nodes}-{time.monotonic_ns()}"
    configs = [config(here / f"node{i}", f"node{i}", nas, url, inbox, workers) for i in range(nodes)]
    store = Store(url, password=PASSWORD)
    load_before = os.getloadavg()
    started = time.monotonic()
    daemons = []
    waits = Waits(url)
    cpu_db_before = cpu_seconds([server.postmaster()])
    try:
        daemons = [Node(c) for c in configs]  # started together: neither gets a head start
        for d in daemons:
            d.wait_ready()
        ready = time.monotonic() - started
        while True:
            done = store.query("SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL")[0][0]
            if done >= files:
                break
            if time.monotonic() - started > 3600:
                raise RuntimeError(f"only {done} of {files} checked after an hour")
            time.sleep(0.25)
        seconds = time.monotonic() - started
        waits.stop()
        cpu_nodes = cpu_seconds([d.proc.pid for d in daemons])  # the daemons and their MediaInfo workers
        cpu_db = cpu_seconds([server.postmaster()]) - cpu_db_before  # the server's processes
        load_after = os.getloadavg()
        time.sleep(2)  # a second check of any file would be recorded now
        audit = [json.loads(r[0]) for r in store.query("SELECT detail FROM audit WHERE event='checked'")]
        per_file = Counter((r[0], r[1]) for r in store.query("SELECT volume, relpath FROM audit WHERE event='checked'"))
        by_node = Counter(d.get("node", "?") for d in audit)
        taken = sum(d.log.read_text().count('"claim_expired"') for d in daemons)
    finally:
        waits.stop()
        for d in daemons:
            d.stop()
        store.close()
    return {"nodes": nodes, "seconds": round(seconds, 1), "ready_s": round(ready, 1),
            "files_per_s": round(files / seconds, 1), "checks": len(audit),
            "checked_twice": sum(1 for n in per_file.values() if n > 1), "by_node": dict(by_node),
            "cpu_s_nodes": round(cpu_nodes, 1), "cpu_s_db": round(cpu_db, 1),
            "cpu_ms_per_file": round(1000 * (cpu_nodes + cpu_db) / files, 1), "taken_over": taken, "write_lock_waited": waits.share(), "load_before": [round(x, 1) for x in load_before],
            "load_after": [round(x, 1) for x in load_after]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="probe workers per node")
    ap.add_argument("--keep", type=Path, help="build the volume here once and reuse it")
    args = ap.parse_args()
    why = missing()
    if why:
        sys.exit(f"cannot run: {why}")
    os.environ["REELWATCH_STATE_PASSWORD"] = PASSWORD
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-share-"))
    nas = (args.keep or work) / "nas"
    if not nas.is_dir() or sum(1 for _ in nas.rglob("*.mov")) != args.files:
        shutil.rmtree(nas, ignore_errors=True)
        t = time.monotonic()
        build(nas, args.files)
        print(f"built {args.files} files in {time.monotonic() - t:.1f} s", flush=True)
    server = PgServer()
    results = []
    try:
        with LocalInbox() as inbox:
            for r in range(args.runs):
                for nodes in (1, 2):
                    res = run(work, nas, server, inbox, nodes, args.files, args.workers)
                    results.append(res)
                    print(json.dumps({"run": r + 1, **res}), flush=True)
            messages = len(inbox.received)
    finally:
        server.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"daemon logs kept in {work}")
    for r in range(args.runs):
        one, two = results[2 * r]["seconds"], results[2 * r + 1]["seconds"]
        ratio = float(one) / float(two)  # type: ignore[arg-type]
        print(f"run {r + 1}: 1 node {one} s, 2 nodes {two} s: {ratio:.2f}x "
              f"({'met' if ratio >= 1.5 else 'missed'}: target at least 1.5x)")
    print(f"messages received (all runs): {messages}")


if __name__ == "__main__":
    main()
