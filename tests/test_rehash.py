"""Sampled re-hashing on real files and a real state database: silent corruption (bytes changed,
size and mtime restored) is reported to the volume owner through the outbox; the rest passes."""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

import pytest

from conftest import ROOT, reelwatch, write_config
from reelwatch.checking.runtime import load_runtime
from reelwatch.integrity.hashing import hash_file
from reelwatch.core.model import Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.checking.routing import RoleRouter
from reelwatch.cli.rehash import parse_duration, parse_sample, parse_size
from reelwatch.service.rehash import DAY, RULE, rehash
from reelwatch.state.store import Store

CARD = "Camera Media/A002R2EC"
START = 1_700_000_000.0


def preserve_mtime_write(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def flip_byte(path: Path) -> bytes:
    """Corrupt one byte in place, size and mtime unchanged; returns the original bytes."""
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 3] ^= 0x5A
    preserve_mtime_write(path, bytes(data))
    return original


class Env:
    """A volume whose files the daemon hashed on ten different days, and the state database."""

    def __init__(self, tmp_path: Path, files: int = 10, volumes: dict[str, str] | None = None) -> None:
        self.config_path = write_config(tmp_path, volumes=volumes or {"raid": "dit"}, settle=0)
        runtime = load_runtime(self.config_path, None)
        self.config, self.router = runtime.config, RoleRouter(runtime.pm, runtime.config)
        self.now = START
        self.store = Store(tmp_path / "state.db", clock=lambda: self.now)
        self.root = tmp_path / "raid"
        self.files = []
        history = self.store.history()
        for i in range(files):
            path = self.root / CARD / f"A002C{i:03d}_141024_R2EC.mov"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([i]) * (4096 + i))
            history.file_hash(str(path))  # what the integrity and mirror rules leave behind
            self.files.append(path)
            self.now += DAY
        self.now += 30 * DAY

    def run(self, **kw: object):
        kw.setdefault("rng", random.Random(7))
        return rehash(self.store, self.config, router=self.router, **kw)  # type: ignore[arg-type]

    def hashed_at(self, path: Path) -> float:
        return self.store.query("SELECT hashed_at FROM hashes WHERE path=?", (str(path),))[0][0]

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def notices(self) -> list[tuple[str, str]]:
        return [(r["role"], r["kind"]) for r in self.store.query("SELECT role, kind FROM notices ORDER BY id")]


def test_unchanged_files_pass_least_recently_verified_first(tmp_path):
    env = Env(tmp_path)
    report = env.run(sample=3)
    assert (report.hashed, report.verified, report.changed, report.candidates) == (3, 3, [], 10)
    assert report.bytes == sum(p.stat().st_size for p in env.files[:3])
    assert [env.hashed_at(p) == env.now for p in env.files] == [True] * 3 + [False] * 7
    assert report.exit_code == 0 and env.store.findings() == []
    assert len(env.store.query("SELECT * FROM audit WHERE event='rehash_verified'")) == 3
    env.now += DAY
    assert env.run(sample=0.5).hashed == 5  # a share of the files: the next five
    assert [env.hashed_at(p) == env.now for p in env.files] == [False] * 3 + [True] * 5 + [False] * 2


def test_nightly_runs_cover_every_file_before_any_is_read_twice(tmp_path):
    env = Env(tmp_path)
    runs: list[set[str]] = []
    for _ in range(3):
        before = {p.name: env.hashed_at(p) for p in env.files}
        assert env.run(sample=4).hashed == 4
        runs.append({p.name for p in env.files if env.hashed_at(p) != before[p.name]})
        env.now += DAY
    assert not runs[0] & runs[1]
    assert runs[2] >= {p.name for p in env.files} - runs[0] - runs[1]  # the last two, then the oldest verified
    assert not runs[2] & runs[1]  # then those verified longest ago


def test_silent_corruption_is_a_blocker_for_the_volume_owner_delivered_by_the_outbox(tmp_path):
    env = Env(tmp_path)
    bad = env.files[4]
    verified_at = env.hashed_at(bad)
    flip_byte(bad)
    report = env.run(sample=10)
    assert report.changed == [env.rel(bad)] and report.verified == 9 and report.exit_code == 1
    [row] = env.store.findings()
    assert (row.rule, row.severity, row.owner, row.relpath) == (RULE.id, Severity.BLOCKER, "dit", env.rel(bad))
    assert row.data["message"] == (
        f"{bad.name} changed on disk although its size and modification time did not: its xxh128 checksum no "
        f"longer matches the one last verified on {_utc(verified_at)}")
    assert sorted(env.notices()) == [("dit", "new"), ("supervisor", "affects")]
    st = bad.stat()  # the cache now tells the truth, for every rule that reads it
    assert env.store.cached_hash(str(bad), "xxh128", st.st_size, st.st_mtime_ns) == hash_file(bad)

    sent: list[tuple[str, str]] = []
    outbox = Outbox(env.store, env.config, lambda m, targets: sent.append((m.role, m.notices[0].finding["rule"]))
                    or True, clock=lambda: env.now)
    outbox.digest(force=True)
    assert outbox.deliver() == 2
    assert sorted(sent) == [("dit", RULE.id), ("supervisor", RULE.id)]


def test_it_stays_one_finding_until_the_file_is_restored(tmp_path):
    env = Env(tmp_path)
    bad = env.files[0]
    original = flip_byte(bad)
    env.run(sample=2)
    notices = env.notices()
    env.now += DAY
    again = env.run(sample=2)
    assert (again.changed, again.still_changed, again.hashed) == ([], 1, 2)  # re-checked first, within the sample
    assert env.notices() == notices and len(env.store.findings()) == 1
    preserve_mtime_write(bad, original)  # restored from the other copy
    env.now += DAY
    fixed = env.run(sample=1)
    assert fixed.restored == [env.rel(bad)]
    assert [r.status for r in env.store.findings(status=("open", "resolved"))] == ["resolved"]
    assert sorted(env.notices()[len(notices):]) == [("dit", "resolved"), ("supervisor", "resolved")]


def test_changed_gone_and_unmounted_files_are_skipped_not_reported(tmp_path):
    env = Env(tmp_path, files=4, volumes={"raid": "dit", "shuttle": "dit"})
    with env.files[0].open("ab") as fh:
        fh.write(b"appended")  # size and mtime change: the tamper rule's business
    env.files[1].unlink()
    away = tmp_path / "shuttle" / "A003R2EC" / "A003C001.mov"
    away.parent.mkdir(parents=True)
    away.write_bytes(b"on the shuttle")
    env.store.history().file_hash(str(away))
    away.unlink()
    away.parent.rmdir()
    (tmp_path / "shuttle").rmdir()  # drive unplugged
    report = env.run(sample=10)
    assert (report.modified, report.missing, report.unavailable, report.verified) == (1, 1, 1, 2)
    assert report.changed == [] and env.store.findings() == []
    assert env.hashed_at(env.files[0]) == env.now and env.hashed_at(env.files[1]) == env.now  # to the back


def test_multiple_recorded_algorithms_are_proven_by_one_read(tmp_path):
    env = Env(tmp_path, files=2)
    history = env.store.history()
    for p in env.files:
        history.file_hash(str(p), "md5")
    env.now += DAY
    assert env.run(sample=2).verified == 2
    rows = env.store.query("SELECT algo, hashed_at FROM hashes")
    assert len(rows) == 4 and {r["hashed_at"] for r in rows} == {env.now}
    flip_byte(env.files[0])
    env.now += DAY
    assert env.run(sample=2, algo="md5").changed == [env.rel(env.files[0])]
    st = env.files[0].stat()
    assert env.store.cached_hash(str(env.files[0]), "xxh128", st.st_size, st.st_mtime_ns) == hash_file(env.files[0])


def test_budgets_stop_the_run(tmp_path):
    env = Env(tmp_path)
    two = sum(p.stat().st_size for p in env.files[:2])
    report = env.run(sample=10, max_bytes=two)
    assert (report.hashed, report.stopped) == (2, "bytes")
    report = env.run(sample=10, max_seconds=0)
    assert (report.hashed, report.stopped) == (0, "time")
    with pytest.raises(ValueError, match="at least 1 file"):
        env.run(sample=0)


def test_command_runs_beside_the_daemons_connection(tmp_path):
    env = Env(tmp_path, files=5)
    daemon_side = Store(tmp_path / "state.db")  # the daemon keeps its connection open
    flip_byte(env.files[2])
    out = reelwatch("rehash", "--config", str(env.config_path), "--sample", "5", "--format", "json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert (data["hashed"], data["changed"]) == (5, [env.rel(env.files[2])])
    assert [r.rule for r in daemon_side.findings()] == [RULE.id]
    daemon_side.close()
    text = reelwatch("rehash", "--config", str(env.config_path), "--sample", "100%")
    assert text.returncode == 0, text.stderr  # reported already: not a new change
    assert "1 file(s) reported earlier still do not match" in text.stdout


def test_the_rule_is_listed_and_documented(tmp_path):
    config = write_config(tmp_path)
    assert RULE in load_runtime(config, None).pm.rule_infos()
    doc = (ROOT / "docs" / "rules.md").read_text()
    assert f"| `{RULE.id}` |" in doc and RULE.example in doc


def test_argument_parsers():
    assert parse_sample("200") == 200 and parse_sample("5%") == 0.05 and parse_sample("0.25") == 0.25
    assert parse_size("2T") == 2 * 10**12 and parse_size("750GB") == 750 * 10**9 and parse_size("4096") == 4096
    assert parse_duration("6h") == 21600 and parse_duration("90m") == 5400 and parse_duration("30") == 30
    for bad in ("0", "-3", "150%", "lots"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_sample(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("tomorrow")


def _utc(ts: float) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
