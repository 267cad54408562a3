"""A 1 TB file listed in a checksum manifest (issue 11): its hash runs beside the other checks,
reports progress, and stops at once on SIGTERM or Ctrl-C. The file is real and sparse (truncated
to 1 TB: it costs no disk), so its md5 really would take about half an hour."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import reelwatch, state_rows, write_config

TB = 1 << 40
D41D = "d41d8cd98f00b204e9800998ecf8427e"


def sparse(path: Path, size: int = TB) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def listed(folder: Path, *names: str) -> None:
    (folder / "sum.md5").write_text("".join(f"{D41D}  {n}\n" for n in names))


def test_a_long_hash_stops_within_a_read_of_cancel_and_is_shared(tmp_path):
    from reelwatch.integrity.hashing import HashCancelled
    from reelwatch.integrity.hashjobs import Hashes
    big = sparse(tmp_path / "big.bin")
    hashes = Hashes(long_bytes=1 << 20)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            hashes(str(big), "md5")
        except BaseException as exc:  # noqa: BLE001 - the test wants to see what stopped it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]  # two rules asking for the same hash
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not hashes.progress() or not hashes.progress()[0].done:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    job = hashes.progress()
    assert len(job) == 1, "the same file version is hashed once, not once per rule"
    assert "md5 of big.bin" in job[0].describe() and "of 1.1 TB" in job[0].describe()
    began = time.monotonic()
    hashes.cancel.set()
    for t in threads:
        t.join(5)
    assert time.monotonic() - began < 2
    assert len(errors) == 2 and all(isinstance(e, HashCancelled) for e in errors)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_check_stops_at_once_while_hashing_a_1tb_file(tmp_path, media, sig):
    card = tmp_path / "card"
    sparse(card / "huge.bin")
    shutil.copy(media["wav"], card / media["wav"].name)
    listed(card, "huge.bin")
    proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "check", str(card), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # start-up, probing, then into the md5 of the 1 TB file
    assert proc.poll() is None, proc.communicate()
    began = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"check did not stop within 10 s of {sig.name}")
    assert time.monotonic() - began < 5
    assert proc.returncode == 130, (out, err)
    assert "stopped" in err and out == ""


def test_a_second_ctrl_c_while_check_stops_does_not_cut_the_stop_short(tmp_path, media):
    """People press Ctrl-C twice. The second one, arriving while the first is being handled (the
    hash cancelled, the workers killed, the words said), must not end the process by SIGINT with no
    exit code of its own: still 130, said once. Before, a signal there escaped as an unhandled
    KeyboardInterrupt (exit by SIGINT, -2; seen in CI with a single SIGTERM as well)."""
    card = tmp_path / "card"
    sparse(card / "huge.bin")
    listed(card, "huge.bin")
    proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "check", str(card), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    assert proc.poll() is None, proc.communicate()
    for _ in range(20):  # a burst: some land while the first is handled, some while it exits
        try:
            proc.send_signal(signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(0.005)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert err.count("stopped") == 1 and out == "", err


def _checked(db: Path, name: str) -> str | None:
    rows = state_rows(db, "SELECT kind FROM assets WHERE relpath LIKE ? AND checked_at IS NOT NULL", (f"%{name}",))
    return rows[0][0] if rows else None


def test_daemon_checks_other_files_beside_a_1tb_hash_and_stops_at_once(tmp_path, media, inbox, daemon):
    """One probe worker, so one checker: the 1 TB md5 must not hold up the next file."""
    config = write_config(tmp_path, inbox, settle=0.3, digest=0, extra="[probe]\nworkers = 1\n")
    vol = tmp_path / "ingest"
    card = vol / "Sound Media" / "S001"
    sparse(card / "huge.bin")
    listed(card, "huge.bin")
    d = daemon(config)
    d.wait_ready(60)
    deadline = time.monotonic() + 30
    while b"long_hash" not in d.log.read_bytes():
        assert time.monotonic() < deadline, d.output()
        time.sleep(0.1)
    time.sleep(1)
    shutil.copy(media["wav"], card / "S001T002.wav")
    deadline = time.monotonic() + 30
    while _checked(tmp_path / "state.db", "S001T002.wav") is None:
        assert time.monotonic() < deadline, "the next file waited for the 1 TB hash:\n" + d.output()
        time.sleep(0.2)
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    assert status["hashing"] and "md5 of huge.bin" in status["hashing"] and "%" in status["hashing"], status
    began = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - began < 10, d.output()
    assert _checked(tmp_path / "state.db", "huge.bin") is None  # interrupted, so checked again next start
    assert os.path.getsize(card / "huge.bin") == TB


def test_a_checker_that_finished_a_long_hash_retires_without_alarm(tmp_path, media, inbox, daemon):
    """The checker put beside a long hash stays; the one that hashed retires. A retired checker is
    not a dead thread: no thread_died, no admin message, the daemon stays healthy."""
    config = write_config(tmp_path, inbox, settle=0.3, digest=0, extra="[probe]\nworkers = 1\n")
    card = tmp_path / "ingest" / "Sound Media" / "S001"
    sparse(card / "long.bin", (1 << 30) + (1 << 20))  # just over the long-hash threshold: seconds of md5
    listed(card, "long.bin")
    d = daemon(config)
    d.wait_ready(60)
    deadline = time.monotonic() + 90
    while b"long_hash_done" not in d.log.read_bytes():
        assert time.monotonic() < deadline, d.output()
        time.sleep(0.2)
    shutil.copy(media["wav"], card / "S001T003.wav")  # the checker left behind still checks files
    deadline = time.monotonic() + 30
    while _checked(tmp_path / "state.db", "S001T003.wav") is None:
        assert time.monotonic() < deadline, d.output()
        time.sleep(0.2)
    time.sleep(1.5)  # the supervisor looks every half second
    assert b"thread_died" not in d.log.read_bytes(), d.output()
    assert d.stop() == 0
    assert not [m for m in inbox.received if "thread" in json.dumps(m.body)]
