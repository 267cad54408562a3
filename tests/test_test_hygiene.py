"""The suite cleans up after itself: no daemon, MediaInfo worker or PostgreSQL server of a test
outlives it. Leftovers eat the CPU, hold ports and inotify watches of a shared machine and make
later tests flaky. Each case runs a small pytest of its own (with this suite's conftest) and looks
for what that run started once it has ended.

Processes are told apart by pid and start time (``/proc/PID/stat``), so a pid given again to a
process of another run is not taken for a leftover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROCS = '''
import os
from pathlib import Path


def stat(pid):
    """(parent pid, process group, start time) of a live process, None when gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    return None if fields[0] == b"Z" else (int(fields[1]), int(fields[2]), int(fields[19]))


def children(pid):
    """[pid, start time] of each live child of ``pid``."""
    return [[int(e.name), s[2]] for e in os.scandir("/proc") if e.name.isdigit()
            and (s := stat(e.name)) is not None and s[0] == pid]
'''

KILLED = PROCS + '''
import json, signal, time
from conftest import wait_until, write_config


def test_a_daemon_killed_with_sigkill(tmp_path, daemon):
    d = daemon(write_config(tmp_path, None))
    d.wait_ready()
    assert wait_until(lambda: children(d.proc.pid), 10)  # its MediaInfo workers, forked at start
    kids = children(d.proc.pid)
    Path(os.environ["HYGIENE_OUT"]).write_text(json.dumps(kids))
    d.proc.send_signal(signal.SIGKILL)  # as the crash tests do
    d.proc.wait(10)


def test_the_next_test_finds_nothing_of_it_left():
    kids = json.loads(Path(os.environ["HYGIENE_OUT"]).read_text())
    deadline = time.monotonic() + 3
    while (left := [k for k in kids if (s := stat(k[0])) is not None and s[2] == k[1]]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes of the killed daemon still running: {left}"
'''

WORKER_DIES = PROCS + '''
import json
from conftest import wait_until, write_config


def test_a_worker_dies_holding_a_daemon_and_a_server(tmp_path, daemon, own_pg_server):
    d = daemon(write_config(tmp_path, None))
    d.wait_ready()
    assert wait_until(lambda: children(d.proc.pid), 10)
    pid = int((own_pg_server.data / "postmaster.pid").read_text().split()[0])
    procs = [[d.proc.pid, stat(d.proc.pid)[2]], [pid, stat(pid)[2]], *children(d.proc.pid)]
    Path(os.environ["HYGIENE_OUT"]).write_text(json.dumps({"procs": procs, "pg": str(own_pg_server.dir)}))
    os._exit(1)  # the worker is gone: no fixture of it tears anything down
'''


def _alive(procs: list[list[int]]) -> list[str]:
    """The processes of ``procs`` ([pid, start time]) still running, with their command lines."""
    left = []
    for pid, started in procs:
        try:
            raw = Path(f"/proc/{pid}/stat").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2:].split()
        if fields[0] != b"Z" and int(fields[19]) == started:
            left.append(f"{pid} {cmd}")
    return left


def _inner_pytest(tmp_path: Path, source: str, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    run = tmp_path / "run"
    run.mkdir()
    (run / "pytest.ini").write_text("[pytest]\n")  # its own root: not this suite's options
    (run / "test_inner.py").write_text(textwrap.dedent(source))
    out = tmp_path / "out.json"
    env = {**os.environ, "HYGIENE_OUT": str(out), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # (hypothesis: seconds)
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", *args, "test_inner.py"],
                          cwd=run, env=env, capture_output=True, text=True, timeout=240)
    return done, out


def _gone(procs: list[list[int]], timeout: float = 3) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_a_daemon_killed_by_its_test_leaves_nothing_running(tmp_path: Path) -> None:
    """A daemon SIGKILLed by its test (the crash tests) used to leave its MediaInfo workers
    running for ever: they hold their own pipe's other end, so they never see the daemon go."""
    done, out = _inner_pytest(tmp_path, KILLED)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-3000:]
    kids = json.loads(out.read_text())
    assert kids  # (what is looked for existed)
    assert not _gone(kids), "left running after the run ended"


def test_what_a_dead_worker_started_is_stopped_when_the_run_ends(tmp_path: Path) -> None:
    """An xdist worker that dies mid-test tears nothing down: its daemon (and that daemon's
    workers) and its PostgreSQL server used to run on after the whole run had ended."""
    from pgserver import missing
    if why := missing():
        pytest.skip(why)
    done, out = _inner_pytest(tmp_path, WORKER_DIES, "-p", "xdist.plugin", "-n", "1")
    assert out.exists(), done.stdout[-3000:] + done.stderr[-2000:]
    assert "crashed" in done.stdout or "worker" in done.stdout, done.stdout[-3000:]
    got = json.loads(out.read_text())
    assert len(got["procs"]) >= 3
    assert not _gone(got["procs"]), "left running after the run ended"
    assert not Path(got["pg"]).exists(), "the server's directory is left behind"
