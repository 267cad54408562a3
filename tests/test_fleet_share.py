"""Shared work on a shared volume: real daemons in separate processes, one real PostgreSQL, one
folder that every node's config names ``nas`` (a NAS mounted on each). Each asset version is
checked by exactly one node, claimed through the database; the audit says which node did it; a
node killed mid-check leaves its claims to run out and another node checks those files, once; a
re-write of a file another node is checking is checked too; two nodes reconciling the volume
record a missing file once. With SQLite the daemon takes no claims."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

from reelwatch.service.claims import wire
from reelwatch.service.work import Work
from reelwatch.state.store import Store

from conftest import reelwatch, wait_until, write_config
from pgserver import PASSWORD, sqlite_case

SLOW = """import time
from reelwatch import hookimpl


@hookimpl
def check(asset):
    time.sleep({delay})  # a heavy check (a long hash): long enough to be caught in the middle
    return []
"""


def shared_node(tmp_path: Path, name: str, url: str, inbox, nas: Path, *, lease: float = 60,
                delay: float = 0.0) -> Path:
    """A node's config: its own folder, the shared folder as volume ``nas``, the fleet's database."""
    folder = tmp_path / name
    folder.mkdir()
    extra = ""
    if delay:
        plugins = folder / "plugins"
        plugins.mkdir()
        (plugins / "slow_check.py").write_text(SLOW.format(delay=delay))
        extra = f'[plugins]\ndirs = ["{plugins}"]\n'
    config = write_config(folder, inbox, volumes={"nas": "dit"}, digest=0.5, extra=extra)
    (folder / "nas").rmdir()
    text = "".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    text = text.replace(f'path = "{folder / "nas"}"', f'path = "{nas}"', 1)
    text = text.replace(f'path = "{folder / "state.db"}"\n',
                        f'path = "{folder / "state.db"}"\nnode = "{name}"\nlease = {lease}\nurl = "{url}"\n', 1)
    config.write_text(text)
    return config


def two_heads(tmp_path: Path, url: str, inbox, daemon, **node) -> tuple[Path, object, object]:
    """The shared folder and two ready nodes, head-a and head-b, that both mount it."""
    nas = tmp_path / "nas"
    nas.mkdir()
    a = daemon(shared_node(tmp_path, "head-a", url, inbox, nas, **node))
    b = daemon(shared_node(tmp_path, "head-b", url, inbox, nas, **node))
    a.wait_ready()
    b.wait_ready()
    return nas, a, b


def checks(store: Store) -> list[tuple[str, int, str]]:
    """(relpath, size, node) of every check the audit records."""
    out = []
    for r in store.query("SELECT relpath, detail FROM audit WHERE event='checked' ORDER BY id"):
        detail = json.loads(r["detail"])
        out.append((r["relpath"], detail["size"], detail.get("node", "")))
    return out


def checked_count(store: Store) -> int:
    return store.query("SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL AND gone_at IS NULL")[0][0]


def sent_once(store: Store, inbox) -> None:
    """Every finding noticed once, every message delivered once."""
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM outbox WHERE state!='sent'")[0][0] == 0
                      and store.query("SELECT COUNT(*) FROM notices WHERE message_id IS NULL")[0][0] == 0, 60)
    time.sleep(1.5)  # anything sent twice would arrive now
    per_finding = Counter(r[0] for r in store.query("SELECT finding_id FROM notices WHERE kind='new'"))
    assert per_finding and set(per_finding.values()) == {1}, per_finding
    keys = [r.headers.get("Idempotency-Key", "") for r in inbox.received]
    assert len(keys) == len(set(keys)) == store.query("SELECT COUNT(*) FROM outbox")[0][0]


def test_two_nodes_on_one_shared_volume_check_each_version_once(tmp_path, pg_url, inbox, daemon, media):
    nas, a, b = two_heads(tmp_path, pg_url, inbox, daemon, delay=0.2)
    names = []
    for n in range(8):  # real clips, half of them cut short: MediaInfo must really read each
        src = media["truncated"] if n % 2 else media["prores_2398"]
        names.append(f"A00{n}C001_141024_R2EC.mov")
        shutil.copyfile(src, nas / names[-1])
    for n in range(8):
        names.append(f"B00{n}C001_141024_R2EC.mov")
        (nas / names[-1]).write_bytes(b"")
    store = Store(pg_url, password=PASSWORD)
    try:
        assert wait_until(lambda: checked_count(store) == len(names), 90), a.output()[-3000:] + b.output()[-3000:]
        time.sleep(2)  # a second check of any file would be recorded now
        done = checks(store)
        per_file = Counter(rel for rel, _, _ in done)
        assert sorted(per_file) == sorted(names)
        assert set(per_file.values()) == {1}, f"checked more than once: {per_file}"
        by = Counter(node for _, _, node in done)
        assert set(by) == {"head-a", "head-b"}, by  # the second node took its share
        assert store.query("SELECT COUNT(*) FROM claims")[0][0] == 0  # nothing left claimed
        out = reelwatch("history", str(nas / names[0]), "--config", str(a.config))
        assert out.returncode == 0 and out.stdout.count("checked:") == 1, out.stdout + out.stderr
        assert f"(by node {dict((r, n) for r, _, n in done)[names[0]]})" in out.stdout, out.stdout
        truncated = {r[0] for r in store.query("SELECT relpath FROM findings WHERE rule LIKE '%truncat%'")}
        assert truncated == {n for i, n in enumerate(names[:8]) if i % 2}, truncated
        sent_once(store, inbox)
    finally:
        store.close()


def test_a_node_killed_mid_check_leaves_its_files_to_the_other_once_its_lease_runs_out(tmp_path, pg_url, inbox,
                                                                                       daemon):
    nas, a, b = two_heads(tmp_path, pg_url, inbox, daemon, lease=3, delay=1.0)
    names = [f"A001C{n:03d}.mov" for n in range(10)]
    for name in names:
        (nas / name).write_bytes(b"")
    store = Store(pg_url, password=PASSWORD)
    try:
        def a_is_checking() -> bool:
            return bool(store.query("SELECT 1 FROM claims WHERE node='head-a'"))
        assert wait_until(a_is_checking, 60, step=0.02), a.output()[-3000:]
        a.stop(signal.SIGKILL)  # in the middle of a check, holding its claim
        killed_at = time.time()
        held = {(r["relpath"], r["lease_until"]) for r in store.query("SELECT relpath, lease_until FROM claims "
                                                                      "WHERE node='head-a'")}
        assert held, "head-a's claim went before it was killed"
        assert wait_until(lambda: checked_count(store) == len(names), 90), b.output()[-4000:]
        time.sleep(2)
        done = checks(store)
        per_file = Counter(rel for rel, _, _ in done)
        assert sorted(per_file) == names and set(per_file.values()) == {1}, per_file
        for rel, lease_until in held:
            [(ts, detail)] = [(r["ts"], json.loads(r["detail"])) for r in store.query(
                "SELECT ts, detail FROM audit WHERE event='checked' AND relpath=?", (rel,))]
            assert detail["node"] == "head-b", (rel, detail)  # killed mid-check: the other node did it
            assert ts >= lease_until - 0.5 and ts - killed_at >= 1.0  # not before head-a's lease ran out
        assert "claim_expired" in b.output()
        assert store.query("SELECT COUNT(*) FROM claims")[0][0] == 0
        sent_once(store, inbox)
    finally:
        store.close()


def test_a_rewrite_of_a_file_another_node_is_checking_is_checked_too(tmp_path, pg_url, inbox, daemon):
    nas, a, b = two_heads(tmp_path, pg_url, inbox, daemon, delay=2.0)
    clip = nas / "A001C001.mov"
    clip.write_bytes(b"first take")
    store = Store(pg_url, password=PASSWORD)
    try:
        assert wait_until(lambda: bool(store.query("SELECT 1 FROM claims")), 60, step=0.02)
        clip.write_bytes(b"the second, longer take")  # re-written while one node checks the first
        size = len(b"the second, longer take")
        assert wait_until(lambda: (store.asset("nas", "A001C001.mov") or None) is not None
                          and store.asset("nas", "A001C001.mov").size == size  # type: ignore[union-attr]
                          and store.asset("nas", "A001C001.mov").checked_at is not None  # type: ignore[union-attr]
                          and not store.query("SELECT 1 FROM claims"), 60), a.output()[-3000:] + b.output()[-3000:]
        time.sleep(3)  # the first version's check, if it were committed last, would be seen now
        per_version = Counter((rel, sz) for rel, sz, _ in checks(store))
        assert per_version[("A001C001.mov", size)] == 1, per_version
        assert per_version[("A001C001.mov", len(b"first take"))] <= 1, per_version
        rec = store.asset("nas", "A001C001.mov")
        assert rec is not None and rec.size == size and rec.checked_at is not None
    finally:
        store.close()


def test_two_nodes_watching_one_shared_volume_record_each_change_once(tmp_path, pg_url, inbox, daemon):
    nas = tmp_path / "nas"
    nas.mkdir()
    for n in range(6):
        (nas / f"A001C00{n}.mov").write_bytes(b"")
    configs = [shared_node(tmp_path, name, pg_url, inbox, nas) for name in ("head-a", "head-b")]
    nodes = [daemon(c) for c in configs]
    for node in nodes:
        node.wait_ready()
    store = Store(pg_url, password=PASSWORD)
    try:
        assert wait_until(lambda: checked_count(store) == 6, 60)
        for node in nodes:
            node.stop()
        (nas / "A001C000.mov").unlink()  # while no node watches: found by the start-up reconcile
        (nas / "A001C001.mov").unlink()
        for n in range(6, 9):
            (nas / f"A001C00{n}.mov").write_bytes(b"")
        nodes = [daemon(c) for c in configs]
        for node in nodes:
            node.wait_ready()
        assert wait_until(lambda: checked_count(store) == 7, 60), nodes[0].output()[-3000:]
        (nas / "A001C002.mov").unlink()  # while both watch: each node's watcher sees it go
        assert wait_until(lambda: checked_count(store) == 6, 30)
        time.sleep(3)
        gone = Counter(r[0] for r in store.query("SELECT relpath FROM audit WHERE event='gone'"))
        assert gone == {"A001C000.mov": 1, "A001C001.mov": 1, "A001C002.mov": 1}, gone
        per_file = Counter(rel for rel, _, _ in checks(store))
        assert set(per_file.values()) == {1} and len(per_file) == 9, per_file
    finally:
        store.close()


@sqlite_case("one node on SQLite takes no claims")
def test_one_node_on_sqlite_takes_no_claims(tmp_path):
    store = Store(tmp_path / "state.db")
    try:
        assert wire(store, Work(), {}, "cart", 60) is None  # no claim, no query, nothing slower
        assert store.node is None  # and its audit is as it was
        assert store.query("SELECT COUNT(*) FROM claims")[0][0] == 0  # the table exists: one schema for both
    finally:
        store.close()
