"""A probe worker fault is the tool's problem, not the file's (issue 11).

Workers are real processes. "Cannot start" is made real too: a ``sitecustomize`` on the
child's PYTHONPATH ends every helper process Python starts with ``-c`` (the worker server and
spawned workers) and every forked child while a flag file exists, as a broken install or a
hostile sandbox would.
"""

from __future__ import annotations

import json
import os
import signal
import shutil
import time
from pathlib import Path

import pytest

from reelwatch.core.model import Asset
from reelwatch.probe.pool import ProbePool

from conftest import reelwatch, state_rows, write_config

BREAKER = """\
import os, sys
_flag = os.environ.get("RW_BREAK_WORKERS", "/nonexistent")
if sys.argv[:1] == ["-c"] and os.path.exists(_flag):
    os._exit(3)
os.register_at_fork(after_in_child=lambda: os.path.exists(_flag) and os._exit(3))
"""


def _asset(path: Path) -> Asset:
    st = path.stat()
    return Asset("v", str(path.parent), path.name, st.st_size, st.st_mtime_ns)


def _worker_pids(pool: ProbePool) -> list[int]:
    return [w.proc.pid for w in list(pool._idle.queue) if w is not None]


def test_kill_9_of_an_idle_worker_is_not_blamed_on_the_next_file(media):
    asset = _asset(media["prores_2398"])
    with ProbePool(workers=2, timeout=30).start() as pool:
        first = pool.facts(asset)
        assert first.kind == "media"
        pids = _worker_pids(pool)
        assert pids
        for pid in pids:  # every idle worker dies, as under the OOM killer or a careless admin
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        again = pool.facts(asset)
        assert again.kind == "media", again.error
        assert again.to_json() == first.to_json()
        assert pool.health.ok and pool.health.restarts >= 1


class CrashingPool(ProbePool):
    """Every worker dies while it holds a request, as libmediainfo does on a file that crashes it."""

    def _exchange(self, worker, items):  # type: ignore[no-untyped-def]
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.join(5)
        return super()._exchange(worker, items)


def test_a_file_that_kills_mediainfo_on_a_fresh_worker_too_is_the_files_problem(media):
    """The other direction: dying twice on the same file, the second time on a proven worker."""
    with CrashingPool(workers=1, timeout=30) as pool:
        facts = pool.facts(_asset(media["prores_2398"]))
        assert facts.kind == "unreadable" and "crashed" in (facts.error or "")
        assert pool.health.ok  # workers start fine: the tool is healthy


def test_an_empty_file_needs_no_worker(tmp_path):
    empty = tmp_path / "A002C012_141024_R2EC.mov"
    empty.touch()
    with ProbePool(workers=1, timeout=30) as pool:
        facts = pool.facts(_asset(empty))
        assert facts.kind == "empty"
        assert pool._started == 0  # noqa: SLF001


@pytest.fixture
def breaker(tmp_path: Path) -> tuple[dict[str, str], Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BREAKER)
    flag = tmp_path / "workers-broken"
    flag.touch()
    env = {"PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "RW_BREAK_WORKERS": str(flag)}
    return env, flag


def test_check_says_the_tool_is_broken_instead_of_blaming_the_files(tmp_path, media, breaker):
    env, _ = breaker
    folder = tmp_path / "card"
    folder.mkdir()
    shutil.copy(media["prores_2398"], folder / media["prores_2398"].name)
    (folder / "A002C012_141024_R2EC.mov").touch()
    out = reelwatch("check", str(folder), "--format", "json", env={**os.environ, **env}, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "MediaInfo" in out.stderr and "could not be checked" in out.stderr
    report = json.loads(out.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert "sanity.unreadable" not in rules and "crashed" not in out.stdout
    assert rules == {"sanity.empty"}  # the empty file is judged without MediaInfo


def _findings(db: Path) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in state_rows(db, "SELECT rule, relpath, data FROM findings")]


def test_daemon_holds_files_while_workers_cannot_start_and_checks_them_once_fixed(tmp_path, media, inbox,
                                                                                  daemon, breaker):
    env, flag = breaker
    config = write_config(tmp_path, inbox, settle=0.3, digest=0,
                          extra="[service]\nmetrics = \"127.0.0.1:0\"\n")
    d = daemon(config, env=env)
    d.wait_ready(60)
    vol = tmp_path / "ingest"
    (vol / "A002C012_141024_R2EC.mov").touch()
    shutil.copy(media["prores_2398"], vol / "A002C006_141024_R2EC.mov")
    admin = inbox.wait_for(1, 40, role="admin")
    assert admin, d.output()
    said = json.dumps([m.body for m in admin])
    assert "MediaInfo" in said and "cannot start" in said
    status = reelwatch("status", "--config", str(config), "--format", "json")
    data = json.loads(status.stdout)
    assert data["probe"]["health"] != "ok", data
    # nothing is blamed on the file while the tool is broken; the empty file is still judged
    time.sleep(2)
    rows = _findings(tmp_path / "state.db")
    assert [r for r in rows if r[1].endswith("C006_141024_R2EC.mov")] == [], rows
    assert not any("crashed" in r[2] for r in rows)
    # the fault is fixed: the held file is probed and checked, and the admin hears it is back
    flag.unlink()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [row, *_] = state_rows(tmp_path / "state.db", "SELECT kind FROM assets WHERE "
                               "relpath='A002C006_141024_R2EC.mov' AND checked_at IS NOT NULL") or [None]
        if row:
            break
        time.sleep(0.2)
    assert row and row[0] == "media", d.output()
    admin = inbox.wait_for(2, 30, role="admin")
    assert len(admin) >= 2 and "working again" in json.dumps(admin[-1].body), [m.body for m in admin]
    assert not any("crashed" in r[2] for r in _findings(tmp_path / "state.db"))
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    assert status["probe"]["health"] == "ok"
    assert d.stop() == 0
