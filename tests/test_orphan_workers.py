"""A daemon that dies without a word (SIGKILL, the OOM killer) takes its MediaInfo workers with it.

Outside systemd (a DIT running ``reelwatch run`` in a terminal; a container without an init that
kills the group) nothing else would stop them: each worker waited on its pipe, and a worker forked
by the daemon still held the daemon's end of that pipe, so it never saw the daemon go. Measured
before the fix: both workers of a SIGKILLed daemon were still running after 20 s, and for ever.
The daemon fixture kills a daemon's whole process group at teardown, so this test kills only the
daemon's own process and looks at the rest of its group."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from conftest import wait_until, write_config


def group_members(pgid: int) -> list[int]:
    """Processes (other than zombies) whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def test_the_workers_of_a_killed_daemon_do_not_outlive_it(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3, extra="[probe]\nworkers = 2\n")
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "A001C001.mov").write_bytes(b"")  # the workers are at work, not only started
    assert wait_until(lambda: b'"checked"' in d.log.read_bytes(), 60), d.output()
    pgid = os.getpgid(d.proc.pid)
    assert pgid == d.proc.pid, "the fixture starts each daemon as the leader of its own group"
    workers = [p for p in group_members(pgid) if p != d.proc.pid]
    assert workers, "the daemon has MediaInfo workers in its group"
    os.kill(d.proc.pid, signal.SIGKILL)  # the daemon only, not its group
    d.proc.wait(10)
    assert wait_until(lambda: not group_members(pgid), 20), [
        (p, Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120]) for p in group_members(pgid)]
