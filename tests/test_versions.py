"""Version sequences (plugins/versions.py): pure decisions, then the real pipeline on real
files with the real SQLite state database, across batches, days and a restart.

The naming fields normally come from the naming plugin's ``collect`` hook; here a small
collector stands in for it, parsing ``<show>_<ep>_<seq>_<shot>_<task>_v<version>.<ext>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reelwatch import hookimpl
from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.manager import PluginManager, load_plugin_file
from reelwatch.core.model import Asset, Facts
from reelwatch.checking.pipeline import Pipeline, file_asset
from reelwatch.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "versions.py"
DAY = 86_400.0
NAME = re.compile(r"(?P<show>[A-Z]+)_(?P<episode>\d{3})_(?P<seq>\d{3})_(?P<shot>\d{3})_(?P<task>[a-z]+)"
                  r"_v(?P<version>\d+)\.(?P<ext>\w+)\Z")


@pytest.fixture(scope="module")
def v():
    return load_plugin_file(PLUGIN)


# -- pure decisions --------------------------------------------------------------------------

def _e(v, version: int, path: str = "", *, text: str | None = None, batch: int = 1, seen: float = 0.0, size=10):
    return v.Entry(volume="del", relpath=path or f"x_v{version:03d}.mov", size=size, version=version,
                   text=text or f"{version:03d}", distinct=("mov",), first_seen=seen, batch=batch)


def test_line_and_version_fields(v):
    cfg = v.VersionsConfig()
    fields = {"show": "AGM", "shot": "010", "task": "comp", "version": "003", "ext": "exr", "vendor": ""}
    assert v.line_of(fields, cfg.key_fields) == (("show", "AGM"), ("shot", "010"), ("task", "comp"))
    assert v.line_of({"version": "003", "ext": "exr"}, cfg.key_fields) is None  # nothing to group by
    assert v.version_of(fields) == (3, "003")
    assert v.version_of({"version": "3a"}) is None and v.version_of({"version": "٣"}) is None
    assert v.padding_ok("003", 3) and v.padding_ok("1000", 3)
    assert not v.padding_ok("01", 3) and not v.padding_ok("0001", 3)


def test_holes_are_gaps_or_jumps_pinned_to_the_version_after(v):
    entries = [_e(v, 1), _e(v, 2), _e(v, 4, "b/x_v004.mov"), _e(v, 4, "a/x_v004.mov"), _e(v, 12)]
    found = v.holes(entries, max_step=5)
    assert [(h.kind, list(h.missing), h.after.relpath) for h in found] == [
        ("gap", [3], "a/x_v004.mov"), ("jump", list(range(5, 12)), "x_v012.mov")]
    assert v.holes([_e(v, 1), _e(v, 2), _e(v, 3)], max_step=1) == []
    assert [h.kind for h in v.holes([_e(v, 1), _e(v, 3)], max_step=1)] == ["jump"]


def test_regression_needs_a_newer_version_from_an_earlier_batch(v):
    known = [_e(v, 4, batch=1, seen=10.0), _e(v, 5, batch=3, seen=30.0)]
    assert v.regression(3, float("inf"), known, batch=3).version == 4   # v5 is in this very batch
    assert v.regression(3, 5.0, known, batch=3) is None                # v3 was known before v4 came
    assert v.regression(6, float("inf"), known, batch=3) is None


# -- the real pipeline and state database ----------------------------------------------------

class FakeNaming:
    """Stands in for the naming plugin's collect hook (flat fields)."""

    @hookimpl
    def collect(self, asset: Asset):
        m = NAME.match(asset.name)
        if not m:
            return None
        return {"fields": m.groupdict()}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Env:
    """A delivery volume under tmp_path, a state DB file, and a pipeline over both."""

    def __init__(self, v, tmp_path: Path, section: dict | None = None) -> None:
        self.v, self.root, self.db = v, tmp_path / "delivery", tmp_path / "state.db"
        self.root.mkdir(exist_ok=True)
        self.clock = Clock()
        self.section = section or {}
        self.open()

    def open(self) -> None:
        self.pm = PluginManager()
        self.pm.load(builtins=[("naming", FakeNaming()), ("versions", self.v)], entry_points=False, shipped=False)
        raw = {"volumes": [{"name": "del", "path": str(self.root), "kind": "delivery", "owner": "vfx"}],
               "roles": {"vfx": {}, "editorial": {}}, "rules": {"versions": self.section}}
        self.config = build_config(raw, sections=self.pm.config_sections())
        self.store = Store(self.db, clock=self.clock)
        self.pipeline = Pipeline(self.pm, self.config, self.store)

    def restart(self) -> None:
        self.store.close()
        self.open()

    def write(self, relpath: str, data: bytes = b"picture") -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def batch(self, *relpaths: str) -> tuple[list, list]:
        """Check these files as one batch; (check findings, batch findings)."""
        number = self.store.next_batch()
        assets = [file_asset("del", str(self.root), r) for r in relpaths]
        checked = [f for a in assets for f in self.pipeline.process(a, number) or ()]
        return checked, self.pipeline.finish_batch(assets, number)

    def open_findings(self, rule: str) -> list:
        return [f for f in self.store.findings() if f.rule == rule]


@pytest.fixture
def env(v, tmp_path):
    e = Env(v, tmp_path)
    yield e
    e.store.close()


SHOT = "AGM_104_065_010_comp"


def _msgs(findings, rule):
    return [f.message for f in findings if f.rule == rule]


def test_gap_waits_for_the_batch_and_is_reported_once(env):
    for n in (1, 2, 4):
        env.write(f"0115/{SHOT}_v{n:03d}.mov")
    checked, batch = env.batch(f"0115/{SHOT}_v004.mov", f"0115/{SHOT}_v001.mov", f"0115/{SHOT}_v002.mov")
    assert not [f for f in checked if f.rule.startswith("version.")]  # v004 first is not a regression
    (gap,) = [f for f in batch if f.rule == "version.gap"]
    assert gap.message == f"v003 of {SHOT} is missing: the versions go from v002 to v004"
    assert gap.asset.relpath == f"0115/{SHOT}_v004.mov" and gap.owner == "vfx" and gap.impacts == ("editorial",)
    assert gap.impact.startswith("Editorial may cut in an outdated version")
    # the next batch in the same folder sees the hole again: same finding, no new notice
    env.clock.now += 2 * DAY
    env.write(f"0115/{SHOT}_v005.mov")
    _, again = env.batch(f"0115/{SHOT}_v005.mov")
    assert _msgs(again, "version.gap") == [gap.message]
    assert len(env.open_findings("version.gap")) == 1


def test_other_lines_in_the_same_folder_keep_their_open_gap(env):
    roto, paint = "AGM_104_065_020_roto", "AGM_104_065_030_paint"
    for name in (f"0115/{SHOT}_v001.mov", f"0115/{SHOT}_v003.mov", f"0200/{roto}_v001.mov",
                 f"0200/{roto}_v004.mov", f"0115/{paint}_v001.mov"):
        env.write(name)
    env.batch(f"0115/{SHOT}_v001.mov", f"0115/{SHOT}_v003.mov")
    env.batch(f"0200/{roto}_v001.mov", f"0200/{roto}_v004.mov")
    assert len(env.open_findings("version.gap")) == 2
    # a batch touching only another line in 0115/ raises the comp gap again (so it is not
    # resolved by mistake) and leaves the roto gap of 0200/ alone
    _, batch = env.batch(f"0115/{paint}_v001.mov")
    assert _msgs(batch, "version.gap") == [f"v002 of {SHOT} is missing: the versions go from v001 to v003"]
    assert sorted(f.relpath for f in env.open_findings("version.gap")) == [
        f"0115/{SHOT}_v003.mov", f"0200/{roto}_v004.mov"]


def test_a_version_late_within_the_same_batch_is_no_gap(env):
    for n in (1, 2, 3):
        env.write(f"0115/{SHOT}_v{n:03d}.mov")
    number = env.store.next_batch()
    for n in (1, 3, 2):  # v002 is checked last, but before the queue drains
        env.pipeline.process(file_asset("del", str(env.root), f"0115/{SHOT}_v{n:03d}.mov"), number)
    done = env.pipeline.finish_batch([file_asset("del", str(env.root), f"0115/{SHOT}_v{n:03d}.mov")
                                      for n in (1, 3, 2)], number)
    assert done == [] and env.open_findings("version.gap") == []


def test_history_survives_a_restart_regression_days_later_and_gap_resolution(env):
    env.write(f"0115/{SHOT}_v002.mov")
    env.write(f"0115/{SHOT}_v004.mov")
    env.batch(f"0115/{SHOT}_v002.mov", f"0115/{SHOT}_v004.mov")
    assert len(env.open_findings("version.gap")) == 1
    env.restart()
    env.clock.now += 3 * DAY
    env.write(f"0118/{SHOT}_v003.mov")
    checked, _ = env.batch(f"0118/{SHOT}_v003.mov")
    assert _msgs(checked, "version.regression") == [
        f"v003 of {SHOT} arrived after v004 was already delivered (0115/{SHOT}_v004.mov)"]
    # the gap closed, but it was attached in 0115/: resolved once that folder is seen again
    env.write("0115/notes.txt", b"hi")
    env.batch("0115/notes.txt")
    assert env.open_findings("version.gap") == []
    assert [f.status for f in env.store.findings(status=("resolved",)) if f.rule == "version.gap"] == ["resolved"]
    # re-checking v003 later (touched, same content) is still the same regression, not a new one
    env.clock.now += DAY
    env.write(f"0118/{SHOT}_v003.mov", b"picture")
    env.batch(f"0118/{SHOT}_v003.mov")
    assert len(env.open_findings("version.regression")) == 1


def test_older_version_in_the_same_batch_is_no_regression(env):
    env.write(f"0115/{SHOT}_v004.mov")
    env.write(f"0115/{SHOT}_v003.mov")
    checked, batch = env.batch(f"0115/{SHOT}_v004.mov", f"0115/{SHOT}_v003.mov")
    assert _msgs(checked + batch, "version.regression") == []


def test_duplicates_by_size_and_by_hash_but_not_identical_copies(env):
    env.write(f"0115/{SHOT}_v002.mov", b"AAAA")
    env.write(f"0120/{SHOT}_v002.mov", b"BBBB")            # same size, other picture
    env.write(f"0121/{SHOT}_v002.mov", b"AAAA")            # identical copy
    env.write(f"0122/{SHOT}_v002.mov", b"AAAAAAAA")        # other size
    env.write(f"0122/{SHOT}_v002.exr", b"X")               # another rendition of v002
    env.batch(f"0115/{SHOT}_v002.mov")
    checked, _ = env.batch(f"0120/{SHOT}_v002.mov")
    assert _msgs(checked, "version.duplicate") == [
        f"v002 of {SHOT} exists twice with different content: this file (4 bytes) and 0115/{SHOT}_v002.mov (4 bytes)"]
    checked, _ = env.batch(f"0121/{SHOT}_v002.mov")
    assert _msgs(checked, "version.duplicate") == [   # differs only from the 0120 one
        f"v002 of {SHOT} exists twice with different content: this file (4 bytes) and 0120/{SHOT}_v002.mov (4 bytes)"]
    checked, _ = env.batch(f"0122/{SHOT}_v002.mov", f"0122/{SHOT}_v002.exr")
    dup = [f for f in checked if f.rule == "version.duplicate"]
    assert [f.asset.relpath for f in dup] == [f"0122/{SHOT}_v002.mov"]
    assert "this file (8 bytes)" in dup[0].message


def test_jump_padding_and_scope(v, tmp_path):
    env = Env(v, tmp_path, {"max_step": 3, "globs": ["0115/**"], "padding": 3})
    try:
        for name in (f"{SHOT}_v002.mov", f"{SHOT}_v009.mov", f"{SHOT}_v10.mov", "AGM_104_065_020_comp_v01.mov"):
            env.write(f"0115/{name}")
        env.write(f"elsewhere/{SHOT}_v003.mov")  # out of scope: neither checked nor filling the hole
        checked, batch = env.batch(*(f"0115/{n}" for n in (f"{SHOT}_v002.mov", f"{SHOT}_v009.mov",
                                                           f"{SHOT}_v10.mov", "AGM_104_065_020_comp_v01.mov")),
                                   f"elsewhere/{SHOT}_v003.mov")
        assert _msgs(batch, "version.jump") == [f"v009 of {SHOT} follows v002: a jump of 7 versions"]
        assert _msgs(batch, "version.gap") == []  # v009 -> v10 is a step of one
        assert sorted(_msgs(checked, "version.padding")) == [
            "version v01 has 2 digits; the convention here is 3 (v001)",
            "version v10 has 2 digits; the convention here is 3 (v010)"]
        assert all(f.asset.relpath.startswith("0115/") for f in checked + batch)
    finally:
        env.store.close()


def test_no_fields_no_history_and_odd_records_do_not_crash(v, env):
    env.write("0115/readme.txt", b"x")
    checked, batch = env.batch("0115/readme.txt")
    assert checked == [] and batch == []
    asset = file_asset("del", str(env.root), "0115/readme.txt")
    facts = Facts(kind="media").with_derived({"fields": {"show": "AGM", "version": "002"}, "naming": "odd"})
    assert list(v.check(asset, facts, None, env.config)) == []
    odd = type("R", (), {"volume": "del", "relpath": "x", "size": None, "fields": ["not", "a", "map"],
                         "first_seen": None, "batch": None})()
    assert v.entry_of(odd, v.VersionsConfig()) is None


def test_config_is_validated(v):
    pm = PluginManager()
    pm.load(builtins=[("versions", v)], entry_points=False, shipped=False)
    with pytest.raises(ConfigError) as err:
        build_config({"rules": {"versions": {"max_step": 0}}}, sections=pm.config_sections())
    assert "rules.versions.max_step" in str(err.value)
    with pytest.raises(ConfigError) as err:
        build_config({"rules": {"versions": {"key_field": ["shot"]}}}, sections=pm.config_sections())
    assert "did you mean 'key_fields'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        build_config({"rules": {"versions": {"hash_algo": "crc99"}}}, sections=pm.config_sections())
    assert "rules.versions.hash_algo: unknown hash algorithm 'crc99'" in str(err.value)


def test_every_rule_is_documented(v):
    doc = (ROOT / "docs" / "rules.md").read_text()
    ids = [r.id for r in v.rules()]
    assert len(ids) == 5
    for rule_id in ids:
        assert re.search(rf"^\|\s*`?{re.escape(rule_id)}`?\s*\|", doc, re.M), rule_id


NAMING_PLUGIN = ROOT / "plugins" / "naming.py"


@pytest.mark.skipif(not NAMING_PLUGIN.is_file(), reason="naming plugin not present")
def test_with_the_real_naming_plugin(v, tmp_path):
    """Fields come from the real naming plugin; a template that fixes the padding leaves v02 to
    naming.version_padding (it yields no fields), a free one lets the line's history decide."""
    naming = load_plugin_file(NAMING_PLUGIN)
    pm = PluginManager()
    pm.load(builtins=[("naming", naming), ("versions", v)], entry_points=False, shipped=False)
    root = tmp_path / "delivery"
    apply = [{"glob": "fixed/**", "template": "{show}_{episode}_{seq}_{shot}_{task}_v{version:03d}.{ext}"},
             {"glob": "free/**", "template": "{show}_{episode}_{seq}_{shot}_{task}_v{version}.{ext}"}]
    raw = {"volumes": [{"name": "del", "path": str(root), "kind": "delivery"}],
           "rules": {"naming": {"apply": apply}}}
    config = build_config(raw, sections=pm.config_sections())
    store = Store(tmp_path / "state.db", clock=Clock())
    pipeline = Pipeline(pm, config, store)

    def batch(*names: str) -> tuple[list, list]:
        for name in names:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(b"picture")
        number = store.next_batch()
        assets = [file_asset("del", str(root), n) for n in names]
        return [f for a in assets for f in pipeline.process(a, number) or ()], pipeline.finish_batch(assets, number)

    try:
        checked, done = batch(f"fixed/{SHOT}_v001.mov", f"fixed/{SHOT}_v02.mov", f"fixed/{SHOT}_v004.mov")
        assert [f.rule for f in checked] == ["naming.version_padding"]
        assert _msgs(done, "version.gap") == [f"v002-v003 of {SHOT} are missing: the versions go from v001 to v004"]
        other = "AGM_104_065_020_comp"
        batch(f"free/{other}_v001.mov", f"free/{other}_v002.mov")
        checked, done = batch(f"free/{other}_v03.mov")
        assert [(f.rule, f.message) for f in checked] == [
            ("version.padding", f"version v03 has 2 digits; the earlier versions of {other} have 3 (v003)")]
    finally:
        store.close()
