"""The fleet's overview for docs/screenshots/ (called by scripts/screenshots.py).

Starts a throw-away PostgreSQL server the way the tests do (tests/pgserver.py: as the postgres
user, in a temporary data directory, on a free port of 127.0.0.1), runs two real daemons on it:
``cart-a`` (a RAID and a shuttle, serving the pages) and ``lab`` (the lab's NAS), with one mirror
set across both, copies a card to all three volumes (the lab's copy of one clip cut short), registers
and retires a third cart (returned to the rental house two days ago), waits for the state to
settle, and photographs the overview as ``fleet-overview-SIZE.png``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from screenshots import NTSC, ROLES, ROOT, _port, photograph

COPIES = (("cart-a", "raid_a"), ("cart-a", "shuttle"), ("lab", "lab_nas"))


def node_config(base: Path, node: str, url: str, inbox: int, web: int | None) -> Path:
    roles = "\n".join(f'[roles.{r}]\nnotify = ["json://127.0.0.1:{inbox}/{r}"]\n' for r in (*ROLES, "admin"))
    vols = "".join(f'[[volumes]]\nname = "{v}"\npath = "{base / v}"\nkind = "ingest"\nowner = "dit"\n'
                   f'settle = 0.5\nobserver = "inotify"\n' for n, v in COPIES if n == node)
    copies = ", ".join(f'{{volume = "{v}", folder = "Camera Media", node = "{n}"}}' for n, v in COPIES)
    text = f'''[production]
name = "Harbour Lights"
base_frame_rate = "24000/1001"

{roles}
{vols}
[state]
path = "{base / node / 'state.db'}"
url = "{url}"
node = "{node}"

{f'[web]{chr(10)}listen = "127.0.0.1:{web}"{chr(10)}' if web else ''}
[[rules.mirrors.sets]]
name = "offload"
copies = [{copies}]

[notify]
digest_window = 5
'''
    (base / node).mkdir(parents=True, exist_ok=True)
    path = base / node / "production.toml"
    path.write_text(text)
    return path


def fleet_shots(base: Path, inbox: int, out: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import PASSWORD, PgServer, missing
    why = missing()
    if why:
        print(f"the fleet's overview is skipped: {why}", file=sys.stderr)
        return []
    from reelwatch.demo import mediagen
    from reelwatch.state import fleet
    from reelwatch.state.store import Store
    server = PgServer()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = server.new_database()
        env = {**os.environ, "REELWATCH_STATE_PASSWORD": PASSWORD}
        port = _port()
        for _, v in COPIES:
            (base / v).mkdir(parents=True, exist_ok=True)
        for node in ("cart-a", "lab"):
            config = node_config(base, node, url, inbox, port if node == "cart-a" else None)
            log = base / node / "daemon.log"
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "run", "--config", str(config)],
                                              stdout=fh, stderr=subprocess.STDOUT, env=env))
            deadline = time.monotonic() + 60
            while b"ready" not in log.read_bytes():
                if procs[-1].poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {node} daemon did not start; see {log}")
                time.sleep(0.2)
        store = Store(url, password=PASSWORD)
        try:
            now = time.time()  # a cart returned to the rental house: retired, and named apart
            fleet.register(store, "cart-c", "cart-c.local", ["raid_c"], "0.9.0", 1, now - 3 * 86400)
            fleet.beat(store, "cart-c", "ok", "", now - 2 * 86400)
            fleet.retire(store, "cart-c", "sam", now - 86400)
            stage, rels = base / "stage", []
            for i in (1, 2, 3):  # made first, then copied at once: a card lands as an offload lands it
                rels.append(f"Camera Media/A001R2EC/A001C00{i}_141024_R2EC.mov")
                (stage / rels[-1]).parent.mkdir(parents=True, exist_ok=True)
                mediagen.make_clip(stage / rels[-1], width=640, height=360, frames=24, rate=NTSC, codec="prores_hq")
            for _, v in COPIES:
                for rel in rels:
                    dest = base / v / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    data = (stage / rel).read_bytes()
                    dest.write_bytes(data[: len(data) // 2] if v == "lab_nas" and rel == rels[-1] else data)
            last, since, deadline = -1, time.monotonic(), time.monotonic() + 120
            while time.monotonic() < deadline and time.monotonic() - since < 8:
                n = store.query("SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]
                if n != last:
                    last, since = n, time.monotonic()
                time.sleep(0.5)
        finally:
            store.close()
        shots = photograph(f"http://127.0.0.1:{port}", {"fleet-overview": "/"}, out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        server.close()
    return shots
