"""Cut lists in the real daemon: read when they land, matched to clips, conformed, new versions
replacing old ones, and every message on a clip used in a cut saying where (docs/timelines.md)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import open_state_db, reelwatch, state_has_table, write_config
from reelwatch.demo import mediagen

pytest.importorskip("opentimelineio")

NTSC = Fraction(24000, 1001)
DATA = Path(__file__).resolve().parent / "data" / "timelines"
def cut_config(tmp_path: Path, inbox, volumes: dict[str, str], extra: str = "") -> Path:
    """A production at 23.976 (EDLs carry no rate: they are read at the base rate)."""
    config = write_config(tmp_path, inbox, volumes=volumes, settle=0.3, extra=extra)
    text = config.read_text().replace('name = "Test Production"\n', 'name = "Test Production"\n'
                                      'base_frame_rate = "24000/1001"\n', 1)
    config.write_text(text)
    return config


def edl(path: Path, title: str, events: list[tuple[str, str, str, str, str, list[str]]]) -> Path:
    """Avid-style EDL: (reel, src in, src out, rec in, rec out, comment lines) per event."""
    lines = [f"TITLE:   {title}", "FCM: NON-DROP FRAME", ""]
    for n, (reel, si, so, ri, ro, comments) in enumerate(events, 1):
        lines.append(f"{n:03d}  {reel:<8} V     C        {si} {so} {ri} {ro}")
        lines += [f"* {c}" for c in comments]
    tmp = path.parent / f".{path.name}.part"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text("\n".join(lines) + "\n")
    tmp.rename(path)  # lands whole
    return path


EV1 = ("A004R1JL", "01:00:00:04", "01:00:01:04", "01:00:00:00", "01:00:01:00",
       ["FROM CLIP NAME:  A004C010_20100610_R1JL", "LOC: 01:00:00:12 RED AGM_104_065_010"])
EV2 = ("A004R1JL", "03:00:00:00", "03:00:00:12", "01:00:02:00", "01:00:02:12",
       ["FROM CLIP NAME:  A004C012_20100610_R1JL", "LOC: 01:00:02:06 RED AGM_104_065_020"])
EV3 = ("A004R1JL", "01:00:01:10", "01:00:01:20", "01:00:03:00", "01:00:03:10",
       ["FROM CLIP NAME:  A004C010_20100610_R1JL"])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("cutclips")
    good = mediagen.make_clip(out / "A004C010_20100610_R1JL.mov", width=320, height=180, audio_channels=0,
                              frames=48, rate=NTSC, timecode="01:00:00:00")
    whole = mediagen.make_clip(out / "whole.mov", width=320, height=180, audio_channels=0, frames=48, rate=NTSC,
                               timecode="03:00:00:00", faststart=True)
    cut = mediagen.truncate(whole, out / "A004C012_20100610_R1JL.mov", keep=0.5)
    return {"good": good, "truncated": cut}


def texts(inbox, role: str) -> list[str]:
    return [json.dumps(m.body) for m in inbox.received if m.role == role]


def wait_text(inbox, role: str, *needles: str, timeout: float = 30) -> str:
    """The first message to ``role`` that says all of ``needles``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t in texts(inbox, role):
            if all(n in t for n in needles):
                return json.loads(t)["message"]
        time.sleep(0.1)
    raise AssertionError(f"no {role} message with {needles!r}; got: {texts(inbox, role)}")


def timeline_metrics(url: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {s.labels["state"]: s.value for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == "reelwatch_timeline_events"}


def db_rows(config: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with open_state_db(config.parent / "state.db") as db:
        return db.execute(sql, args).fetchall()


def wait_rows(config: Path, sql: str, args: tuple = (), timeout: float = 30) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = db_rows(config, sql, args)
        except sqlite3.OperationalError:
            rows = []
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_cut_list_lands_clips_arrive_and_messages_say_where_they_are_used(tmp_path, clips, inbox, daemon):
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"})
    shutil.copy2(clips["good"], (tmp_path / "ingest" / "A004R1JL").mkdir(parents=True) or
                 tmp_path / "ingest" / "A004R1JL" / "A004C010_20100610_R1JL.mov")
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "Editorial" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1, EV2])
    pull = edl(tmp_path / "nas" / "VFX" / "AGM_104_VFX_pull_v01.edl", "AGM_104_VFX_pull_v01", [EV2])
    # the clip of event 2 is not on any volume yet: offline, told to editorial (owner of conform)
    offline = wait_text(inbox, "editorial", "A004C012_20100610_R1JL is offline", "AGM_104_R2_v12.edl")
    assert "conform.offline" in offline
    assert "Cut list: AGM_104_R2_v12.edl: 2 events, 1 offline" in offline, offline
    # the matched event is stored by clip: a finding on it finds its events at once
    uses = wait_rows(config, "SELECT u.event, u.relpath, u.method FROM timeline_uses u JOIN timelines t "
                             "ON t.id = u.timeline WHERE t.name = 'AGM_104_R2_v12'")
    assert [(e, r) for e, r, _ in uses] == [(1, "A004R1JL/A004C010_20100610_R1JL.mov")], uses
    # the truncated clip arrives: it matches the events waiting for it, and its message says where
    (tmp_path / "ingest" / "A004R1JL" / "A004C012_20100610_R1JL.mov").write_bytes(clips["truncated"].read_bytes())
    dit = wait_text(inbox, "dit", "sanity.truncated")
    assert "In the cut: used in 1 event of AGM_104_R2_v12 (record 01:00:02:00)" in dit, dit
    assert "VFX shot AGM_104_065_020 pulls it" in dit, dit
    # VFX hears it because its pull list uses the clip, whatever the rule's own impacts say
    assert "sanity.truncated" in wait_text(inbox, "vfx", "sanity.truncated")
    # the cut is conformed again: offline resolved, the event now fails on the clip's problem
    failing = wait_text(inbox, "editorial", "conform.media_error")
    assert "A004C012_20100610_R1JL.mov, which has open problems: sanity.truncated" in failing, failing
    rows = wait_rows(config, "SELECT status FROM findings WHERE rule = 'conform.offline' AND status = 'resolved' "
                             "AND relpath = 'Editorial/AGM_104_R2_v12.edl'")
    assert rows, d.output()
    assert db_rows(config, "SELECT count(*) FROM timeline_wants")[0][0] == 0
    assert pull.exists() and d.proc.poll() is None
    # the conform report on the command line, while the daemon runs (the state is opened read-only)
    cut = tmp_path / "nas" / "Editorial" / "AGM_104_R2_v12.edl"
    done = reelwatch("timeline", str(cut), "--config", str(config), "--format", "json")
    assert done.returncode == 1, done.stderr  # an event fails on a blocker
    data = json.loads(done.stdout)
    (tl,) = data["timelines"]
    assert tl["rate"] == "24000/1001" and tl["counts"] == {"events": 2, "offline": 0, "failing": 1, "ambiguous": 0}
    assert [(e["number"], e["match"], e["copy"], e["states"]) for e in tl["events"]] == [
        (1, "matched", "ingest:A004R1JL/A004C010_20100610_R1JL.mov", ["ok"]),
        (2, "matched", "ingest:A004R1JL/A004C012_20100610_R1JL.mov", ["failing"])]
    table = reelwatch("timeline", str(cut), "--config", str(config))
    assert table.returncode == 1 and "AGM_104_R2_v12.edl: 2 events, 0 offline, 1 failing" in table.stdout
    # status and metrics count the current timelines' events (the cut's 2, the pull list's 1)
    deadline = time.monotonic() + 20
    while "timelines: 2 current timeline(s), 3 events, 0 offline, 2 failing" not in (
            status := reelwatch("status", "--config", str(config)).stdout) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "timelines: 2 current timeline(s), 3 events, 0 offline, 2 failing" in status, status
    assert d.stop() == 0


def test_a_new_version_replaces_the_old_and_editorial_hears_what_changed(tmp_path, clips, inbox, daemon):
    config = cut_config(tmp_path, inbox, {"nas": "editorial"})
    shutil.copy2(clips["good"], (tmp_path / "nas" / "A004R1JL").mkdir(parents=True) or
                 tmp_path / "nas" / "A004R1JL" / "A004C010_20100610_R1JL.mov")
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "Turnover" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1, EV2])
    wait_text(inbox, "editorial", "A004C012_20100610_R1JL is offline")
    edl(tmp_path / "nas" / "Turnover" / "AGM_104_R2_v13.edl", "AGM_104_R2_v13", [EV1, EV3])
    news = wait_text(inbox, "editorial", "AGM_104_R2_v13 replaces AGM_104_R2_v12")
    assert "1 added, 1 removed" in news, news
    assert "AGM_104_R2_v13.edl: 2 events, 0 offline, 0 failing" in news, news
    # the old version is not current: its conform findings resolve
    rows = wait_rows(config, "SELECT status FROM findings WHERE relpath = 'Turnover/AGM_104_R2_v12.edl' "
                             "AND rule = 'conform.offline' AND status = 'resolved'")
    assert rows, d.output()
    current = db_rows(config, "SELECT name FROM timelines WHERE current = 1")
    assert current == [("AGM_104_R2_v13",)]
    assert d.stop() == 0


def test_broken_and_unsupported_cut_lists_are_findings_for_editorial_never_a_crash(tmp_path, inbox, daemon):
    extra = '[[timelines]]\npaths = ["Turnover/*.txt"]\nvolume = "nas"\n'
    config = cut_config(tmp_path, inbox, {"nas": "editorial"}, extra)
    d = daemon(config)
    d.wait_ready()
    turnover = tmp_path / "nas" / "Turnover"
    turnover.mkdir()
    shutil.copy2(DATA / "otio-cmx3600-adapter" / "dissolve_test_fail.edl", turnover / "dissolve_test_fail.edl")
    (turnover / "cut_notes.txt").write_text("not a cut list at all\n")
    (turnover / "AGM_104_R2_v01.aaf").write_bytes(b"\x00" * 512)
    got = wait_text(inbox, "editorial", "dissolve_test_fail.edl could not be read")
    assert "conform.unreadable" in got
    wait_text(inbox, "editorial", "cut_notes.txt could not be read")
    wait_text(inbox, "editorial", "AGM_104_R2_v01.aaf could not be read")
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_unused_clips_are_demoted_and_a_clip_that_goes_takes_its_events_offline(tmp_path, clips, inbox, daemon):
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"},
                        '[rules.conform]\ndemote_unused = true\n[service]\nmetrics = "127.0.0.1:0"\n')
    card = tmp_path / "ingest" / "A004R1JL"
    card.mkdir()
    shutil.copy2(clips["good"], card / "A004C010_20100610_R1JL.mov")
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1, EV2])
    wait_text(inbox, "editorial", "A004C012_20100610_R1JL is offline")
    # the same truncated clip twice: once as the cut's A004C012 (a blocker), once under a name no cut uses
    (card / "A004C012_20100610_R1JL.mov").write_bytes(clips["truncated"].read_bytes())
    assert wait_rows(config, "SELECT 1 FROM findings WHERE rule = 'sanity.truncated'")
    (card / "A004C099_20100610_R1JL.mov").write_bytes(clips["truncated"].read_bytes() + b"\0")
    rows = wait_rows(config, "SELECT relpath, severity FROM findings WHERE rule = 'sanity.truncated' "
                             "AND (SELECT count(*) FROM findings WHERE rule = 'sanity.truncated') = 2")
    assert dict(rows) == {"A004R1JL/A004C012_20100610_R1JL.mov": 40, "A004R1JL/A004C099_20100610_R1JL.mov": 30}, (
        rows, d.output())
    # the clip of event 1 is deleted: the cut is conformed again and says it is offline
    (card / "A004C010_20100610_R1JL.mov").unlink()
    gone = wait_text(inbox, "editorial", "A004C010_20100610_R1JL.mov is offline")
    assert "its copies are gone" in gone, gone
    assert db_rows(config, "SELECT present FROM clips WHERE relpath = 'A004R1JL/A004C010_20100610_R1JL.mov'") == [(0,)]
    # metrics: both events of the cut are in trouble now, one offline and one failing
    url = re.search(r'"url": "(http://127\.0\.0\.1:\d+/?[^"]*)"', d.output())[1]
    want = {"events": 2.0, "offline": 1.0, "failing": 1.0}
    deadline = time.monotonic() + 20
    while (got := timeline_metrics(url)) != want and time.monotonic() < deadline:
        time.sleep(0.3)
    assert got == want
    assert d.stop() == 0


def test_real_cut_lists_from_the_corpus_are_read_by_the_daemon_or_reported(tmp_path, inbox, daemon):
    """OpenTimelineIO's adapter test data (Avid, Premiere, Nucoda, Hiero exports) landing on a volume:
    some of each format (every file is read in test_timeline_corpus.py; here each costs a child
    process of 1-2 s on a loaded machine)."""
    from conftest import corpus_path
    from reelwatch.timeline import read_cut_list
    root = corpus_path("timelines")
    files = []
    for ext, count in ((".edl", 6), (".xml", 7), (".otio", 2), (".aaf", 2)):
        files += sorted(root.rglob(f"*{ext}"))[:count]
    files += sorted(root.rglob("dissolve_test_fail.edl"))  # the EDL reader raises AttributeError on it
    config = cut_config(tmp_path, inbox, {"nas": "editorial"})
    d = daemon(config)
    d.wait_ready()
    for i, p in enumerate(files):
        shutil.copy2(p, tmp_path / "nas" / f"{i:02d}_{p.name}")
    expected = {f"{i:02d}_{p.name}": read_cut_list(p, NTSC) for i, p in enumerate(files)}
    readable = {n for n, c in expected.items() if c.readable}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stored = {r[0] for r in db_rows(config, "SELECT DISTINCT relpath FROM timelines")}
        unreadable = {r[0] for r in db_rows(config, "SELECT relpath FROM findings WHERE rule = 'conform.unreadable' "
                                                    "AND severity >= 30")}
        if stored >= readable and len(stored | unreadable) >= len(expected) - 1:
            break
        time.sleep(0.5)
    assert stored == readable, (sorted(readable - stored), d.output()[-3000:])
    # the daemon (reading in a child process) sees the events an in-process read sees
    for name in readable:
        want = sum(len(t.events) for t in expected[name].timelines)
        got = sum(len(json.loads(r[0])["events"]) for r in db_rows(config, "SELECT data FROM timelines WHERE "
                                                                          "relpath = ?", (name,)))
        assert got == want, name
    assert any("dissolve_test_fail.edl" in n for n in unreadable)
    not_cut_lists = {n for n in expected if n not in readable and n not in unreadable}
    assert all("premiere_example_filter" in n for n in not_cut_lists), not_cut_lists  # no sequence: not a cut list
    assert d.proc.poll() is None
    print(f"\ndaemon read {len(stored)} of {len(files)} corpus cut lists, "
          f"{sum(sum(len(t.events) for t in expected[n].timelines) for n in stored)} events")
    assert d.stop() == 0


@pytest.mark.parametrize("drive", ["volume", "drive under a mount root"])
def test_an_unmounted_volume_takes_the_events_using_its_clips_offline_until_it_is_back(tmp_path, clips, inbox,
                                                                                         daemon, drive):
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"})
    volume, rel = "ingest", "ingest"
    if drive != "volume":  # DIT cart: a shuttle drive mounted under /media/*
        text = config.read_text().replace(f'path = "{tmp_path / "ingest"}"', f'path = "{tmp_path / "media"}/*"')
        config.write_text(text)
        volume, rel = "ingest-SHUTTLE_01", "media/SHUTTLE_01"
    card = tmp_path / rel / "A004R1JL"
    card.mkdir(parents=True)
    shutil.copy2(clips["good"], card / "A004C010_20100610_R1JL.mov")
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1])
    assert wait_rows(config, "SELECT 1 FROM timeline_uses")
    time.sleep(1)
    assert not [t for t in texts(inbox, "editorial") if "conform." in t]  # all there: nothing to say
    (tmp_path / rel).rename(tmp_path / "away")  # the drive is unplugged
    got = wait_text(inbox, "editorial", "A004C010_20100610_R1JL.mov is offline")
    assert f"volumes are not mounted: {volume}:A004R1JL/A004C010_20100610_R1JL.mov" in got, got
    (tmp_path / "away").rename(tmp_path / rel)
    assert wait_rows(config, "SELECT 1 FROM findings WHERE rule = 'conform.offline' AND status = 'resolved'"), \
        d.output()[-3000:]
    assert db_rows(config, "SELECT present FROM clips") == [(1,)]
    assert d.stop() == 0


def test_clips_checked_before_cut_lists_were_read_are_put_in_the_catalog(tmp_path, clips, inbox, daemon):
    """An upgrade: the media was checked by a daemon that did not read cut lists."""
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"})
    plain = config.read_text() + '[plugins]\ndisable = ["timeline"]\n'
    config.write_text(plain)
    card = tmp_path / "ingest" / "A004R1JL"
    card.mkdir()
    shutil.copy2(clips["good"], card / "A004C010_20100610_R1JL.mov")
    d = daemon(config)
    d.wait_ready()
    assert wait_rows(config, "SELECT 1 FROM assets WHERE checked_at IS NOT NULL")
    assert d.stop() == 0
    def checked(log: str) -> bool:
        return any('"event": "checked"' in line and "A004C010" in line for line in log.splitlines())

    assert checked(d.output())
    assert not state_has_table(config.parent / "state.db", "clips")
    config.write_text(plain.replace('disable = ["timeline"]', "disable = []"))
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1])
    assert wait_rows(config, "SELECT 1 FROM timeline_uses WHERE relpath = 'A004R1JL/A004C010_20100610_R1JL.mov'"), \
        d.output()[-3000:]
    assert not wait_rows(config, "SELECT 1 FROM findings WHERE rule LIKE 'conform.%' AND status = 'open'", timeout=3)
    assert not checked(d.output())  # put from the state, not checked again
    assert d.stop() == 0


def test_a_turnover_copied_with_its_media_is_conformed_once_the_copy_is_done(tmp_path, clips, inbox, daemon):
    """The cut list lands first and its media after it, in one copy: nothing is ever said offline."""
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"})
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "Turnover_0412" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1, EV3])
    card = tmp_path / "ingest" / "A004R1JL"
    card.mkdir()
    for i in range(14):  # the media follows over two seconds, a file at a time, as a copy goes
        (card / f"A004C{100 + i}_notes.txt").write_text("x" * 1000)
        if i == 10:
            shutil.copy2(clips["good"], card / "A004C010_20100610_R1JL.mov")
        time.sleep(0.15)
    uses = wait_rows(config, "SELECT event FROM timeline_uses ORDER BY event")
    assert uses == [(1,), (2,)], d.output()[-3000:]
    time.sleep(2)
    assert not db_rows(config, "SELECT rule, status FROM findings WHERE rule LIKE 'conform.%'"), d.output()[-3000:]
    assert not [t for t in texts(inbox, "editorial") if "conform." in t]
    assert d.stop() == 0


def test_findings_of_batch_rules_on_a_clip_in_a_cut_say_where_it_is_used(tmp_path, clips, inbox, daemon):
    plugins = tmp_path / "facility_plugins"
    plugins.mkdir()
    (plugins / "batchy.py").write_text(
        "from reelwatch import Finding, Severity, hookimpl\n"
        "@hookimpl\n"
        "def batch_done(assets):\n"
        "    return [Finding('facility.batch', Severity.WARNING, a, 'judged with its batch', owner='dit')\n"
        "            for a in assets if a.relpath.endswith('A004C010_20100610_R1JL.mov') and a.size]\n")
    config = cut_config(tmp_path, inbox, {"ingest": "dit", "nas": "editorial"}, f'[plugins]\ndirs = ["{plugins}"]\n')
    d = daemon(config)
    d.wait_ready()
    edl(tmp_path / "nas" / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [EV1])
    wait_text(inbox, "editorial", "is offline")
    (tmp_path / "ingest" / "A004R1JL").mkdir()
    shutil.copy2(clips["good"], tmp_path / "ingest" / "A004R1JL" / "A004C010_20100610_R1JL.mov")
    got = wait_text(inbox, "dit", "facility.batch")
    assert "In the cut: used in 1 event of AGM_104_R2_v12 (record 01:00:00:00)" in got, got
    assert "facility.batch" in wait_text(inbox, "editorial", "facility.batch")  # the cut's owner hears it too
    assert d.stop() == 0
